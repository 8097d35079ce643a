import { defineCase } from '../case.js';
import { connectProbe } from '../clients/probe-connect.js';
import { exitOf, ms, notes, sent, verdict } from '../grade/index.js';
import { recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 1500;

/**
 * Spec: "after the drain starts new connections are refused, never accepted then reset". A held
 * request keeps the subject alive while the harness keeps opening new connections.
 */
export default defineCase({
  id: 'stop.new-connections-refused',
  title: 'New connections after the stop are refused, never accepted then reset',
  description: `Hold a ${HOLD_MS} ms request, send the stop signal, then open new connections until the subject exits. Each must be refused or fully served; an accepted connection that is then reset or closed without a response fails. Reports the time until the first refusal.`,
  requirements: ['STOP.LISTENER_CLOSED'],
  edgeCases: ['E03'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const sentNs = process.hrtime.bigint();
    sendAction(ctx, s, 'stop');
    // black box: the drain counts as started 100 ms after the signal (spec 6.2); only probes after it are judged
    const judgedFrom = ctx.manifest.capabilities.probe ? 0n : sentNs + 100_000_000n;
    if (ctx.manifest.capabilities.probe) {
      // connections opened before the listener closed race the stop (E09); judge the ones after it
      await s.waitProbe((e) => e.ev === 'stop-accepting', ctx.ms(1000), 'stop-accepting').catch(() => undefined);
    }
    const port = s.ports.http!;
    let judged = 0;
    // Bounded loop: at most 200 probes, and only while the subject is alive.
    for (let i = 0; i < 200 && !s.exited; i++) {
      const startNs = process.hrtime.bigint().toString();
      const r = await connectProbe(port, {
        history: ctx.history,
        path: '/',
        timeoutMs: ctx.ms(2000),
        label: `late-${i}`,
      });
      ctx.note('late-connect', { i, outcome: r.outcome, status: r.status, startNs });
      if (BigInt(startNs) >= judgedFrom) judged++;
      if (r.outcome === 'refused') {
        // refused before the judged window: probe again once it begins (a bounded wait, not a sync)
        if (BigInt(startNs) < judgedFrom) {
          const waitMs = Math.ceil(Number(judgedFrom - process.hrtime.bigint()) / 1e6);
          await new Promise((res) => setTimeout(res, Math.max(0, waitMs)));
        } else if (judged >= 3) break;
      }
    }
    recordResult(ctx, await held.done);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const send = sent(events)[0];
    // the drain has started once the subject says so (probe) or, black box, 100 ms after the signal
    const closedAt = events.find((e) => e.source === 'probe' && e.data.ev === 'stop-accepting');
    const blackBox = send ? BigInt(send.ns) + BigInt(manifest.preDrainDelayMs) * 1_000_000n + 100_000_000n : 0n;
    const from = closedAt && BigInt(closedAt.ns) < blackBox ? BigInt(closedAt.ns) : blackBox;
    const probes = notes(events, 'late-connect').filter((p) => BigInt(String(p.startNs)) >= from);
    const bad = probes.filter((p) => p.outcome === 'reset' || p.outcome === 'eof' || p.outcome === 'timeout');
    const firstRefused = events.find(
      (e) => e.source === 'client' && e.kind === 'connect-probe' && e.data.outcome === 'refused',
    );
    const metrics: Record<string, number> = {};
    if (send && firstRefused) metrics.timeToRefuseMs = ms(send.ns, firstRefused.ns);
    const x = exitOf(events);
    return [
      verdict(
        'STOP.LISTENER_CLOSED',
        probes.length > 0 && bad.length === 0,
        'every connection opened after the drain started is refused or fully served (never reset or dropped after accept)',
        `${probes.length} probes: ${summarise(probes.map((p) => String(p.outcome)))}${x ? '' : '; subject did not exit'}`,
        metrics,
      ),
    ];
  },
});

function summarise(xs: string[]): string {
  const c = new Map<string, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  return [...c].map(([k, v]) => `${v} ${k}`).join(', ');
}
