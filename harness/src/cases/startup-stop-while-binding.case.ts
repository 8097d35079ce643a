import { defineCase, signalFor } from '../case.js';
import { HttpConnection } from '../clients/http.js';
import { connectProbe } from '../clients/probe-connect.js';
import { makeCert, openSslAvailable } from '../clients/tls.js';
import { describeExit, exitMatches, exitOf, ms, notes, probe, sent, unknown, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';
import { bindHold } from './bind-hold.js';

/** The hold asked of the subject: long enough to find the bound port and stop inside it. */
const HOLD_MS = 800;
/** A connect probe started this long after the hold ended may not be accepted any more. */
const SLACK_MS = 300;
/** Bounded poll interval while the port is looked for. */
const POLL_MS = 5;

/**
 * Spec 3.3 and E02: a stop that arrives while a listener is being bound keeps it from ever serving: the
 * check after the bind closes it without announcing it. The slowBind hook holds the service listener
 * bound (SIGCERT_BIND_HOLD_MS) between the bind and that check; the harness finds the port accepting
 * (bound, not announced), stops the subject inside the hold, and probes until the exit. Connections
 * accepted during the rest of the hold are the listener bound before the stop; after the hold, the
 * listener must be closed and never announced. Every other service port (TLS, configured when the
 * subject serves it and openssl can make a certificate) that refuses once the subject has taken the stop
 * (its probe's `request`) must refuse until the exit: a listener bound later opened after the stop.
 */
export default defineCase({
  id: 'startup.stop-while-binding',
  title: 'A stop while the listener binds: closed after the bind, never announced',
  description: `Launch with SIGCERT_BIND_HOLD_MS=${HOLD_MS}; once the service port accepts a connection (bound, in its hold, not yet announced), send the stop signal, then probe the port until the exit. The subject must announce no listener after the stop, accept nothing from ${SLACK_MS} ms after the hold, and exit gracefully.`,
  requirements: ['START.STOP_NO_LISTENER', 'START.SIGNALS_RECORDED'],
  edgeCases: ['E02'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe', 'slowBind'] },
  timeout: 'short',
  async run(ctx) {
    // with TLS configured a second service listener binds after the first: a stop inside the first one's
    // hold must keep it from ever being bound
    const m = ctx.manifest;
    const tls = m.capabilities.tls === true && m.ports.includes('tls') && openSslAvailable();
    const s = await ctx.launch({
      waitReady: false,
      env: bindHold(m, HOLD_MS),
      ...(tls ? { config: { generation: 1, tls: makeCert(ctx.runDir, 'bind') } } : {}),
    });
    await s.waitProbe((e) => e.ev === 'handlers', ctx.ms(5000), 'handlers installed');
    const port = s.ports.http!;
    const others = Object.entries(s.ports).filter(([name]) => name !== 'http' && name !== 'admin');
    // the first connection the port accepts: the listener is bound and in its hold
    const deadline = Date.now() + ctx.ms(10_000);
    let bound = false;
    while (!bound && !s.exited && Date.now() < deadline) {
      try {
        const c = await HttpConnection.open(port, { timeoutMs: 500, label: 'bound?' });
        c.close();
        bound = true;
      } catch {
        await new Promise((res) => setTimeout(res, POLL_MS)); // bounded poll interval
      }
    }
    ctx.note('bound', { bound, port });
    if (!bound || s.exited) {
      await waitExit(ctx, s, 5000).catch(() => undefined);
      return;
    }
    s.signal(signalFor(m, 'stop')!);
    // once the subject took the stop, the other service ports that refuse may never accept again
    const took = await s
      .waitProbe((e) => e.ev === 'request' && e.action === 'stop', ctx.ms(3000), 'the stop request')
      .catch(() => undefined);
    const unbound: [string, number][] = [];
    for (const [name, p] of others) {
      const r = await connectProbe(p, { history: ctx.history, timeoutMs: 500, label: `at-stop-${name}` });
      ctx.note('at-stop', { name, outcome: r.outcome, took: took !== undefined });
      if (r.outcome === 'refused' && took !== undefined) unbound.push([name, p]);
    }
    // until the exit: the rest of this hold, and the hold of a listener bound after the stop
    const until = Date.now() + ctx.ms(2 * HOLD_MS + 5000);
    for (let i = 0; !s.exited && Date.now() < until; i++) {
      const r = await connectProbe(port, { history: ctx.history, timeoutMs: 500, label: `binding-probe-${i}` });
      ctx.note('port', { outcome: r.outcome });
      for (const [name, p] of unbound) {
        const o = await connectProbe(p, { history: ctx.history, timeoutMs: 500, label: `after-stop-${name}-${i}` });
        ctx.note('other-port', { name, outcome: o.outcome });
      }
      await new Promise((res) => setTimeout(res, POLL_MS)); // bounded poll interval
    }
    await waitExit(ctx, s, HOLD_MS + 5000);
  },
  grade({ events, manifest }) {
    const bound = notes(events, 'bound')[0];
    const stop = sent(events)[0];
    const detail = 'a stop while the listener binds: no listener announced after it, none accepting after the hold';
    if (!bound?.bound || !stop) {
      const why = 'the service port never accepted a connection before readiness: the bind was not seen';
      return [unknown('START.STOP_NO_LISTENER', detail, why), unknown('START.SIGNALS_RECORDED', detail, why)];
    }
    const boundEv = events.find((e) => e.source === 'case' && e.kind === 'bound')!;
    // announced before the stop: the stop did not land inside the hold (the hold not honoured, or over)
    const before = probe(events, 'listening').filter(
      (e) => e.data.port === bound.port && BigInt(e.ns) < BigInt(stop.ns),
    );
    const ready = probe(events, 'ready').filter((e) => BigInt(e.ns) < BigInt(stop.ns));
    if (before.length > 0 || ready.length > 0) {
      const why = `the listener was announced ${ms(boundEv.ns, (before[0] ?? ready[0])!.ns).toFixed(0)} ms after the port accepted, before the stop: the stop did not land in the bind hold`;
      return [unknown('START.STOP_NO_LISTENER', detail, why), unknown('START.SIGNALS_RECORDED', detail, why)];
    }
    const after = probe(events, 'listening').filter((e) => BigInt(e.ns) > BigInt(stop.ns));
    // the hold ends at most HOLD_MS after the port first accepted
    const late = BigInt(boundEv.ns) + BigInt(HOLD_MS + SLACK_MS) * 1_000_000n;
    const ports = events.filter((e) => e.source === 'case' && e.kind === 'port');
    const acceptedLate = ports.filter((e) => e.data.outcome !== 'refused' && BigInt(e.ns) > late);
    // a port that refused once the subject had taken the stop and accepted later: opened after the stop
    const opened = notes(events, 'other-port').filter((p) => p.outcome !== 'refused');
    const openedText = opened.length
      ? `; ${opened.length} connect probe(s) accepted on ${[...new Set(opened.map((p) => String(p.name)))].join(', ')}, refused when the stop was taken: a listener bound after the stop`
      : '';
    const x = exitOf(events);
    return [
      verdict(
        'START.STOP_NO_LISTENER',
        after.length === 0 && acceptedLate.length === 0 && opened.length === 0,
        detail,
        `${after.length} listening event(s) after the stop; ${acceptedLate.length} of ${ports.length} connect probe(s) accepted more than ${HOLD_MS + SLACK_MS} ms after the port first accepted (the stop came ${ms(boundEv.ns, stop.ns).toFixed(0)} ms into the hold)${openedText}`,
      ),
      verdict(
        'START.SIGNALS_RECORDED',
        exitMatches(x, manifest.exitCodes.graceful, stop.data.sig as string | undefined),
        'the stop received while binding is honoured: the graceful exit status',
        describeExit(x),
      ),
    ];
  },
});
