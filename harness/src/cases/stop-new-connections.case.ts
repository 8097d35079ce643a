import { defineCase } from '../case.js';
import { type ConnectOutcome, connectProbe } from '../clients/probe-connect.js';
import { exitOf, ms, notes, probe, sentFor, verdict } from '../grade/index.js';
import { recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 1500;
/** a new connection attempt every CADENCE_MS from just before the signal: any accept-then-reset window longer than this is seen */
const CADENCE_MS = 10;
/** the spec's bound (6.2): the drain starts, and the listeners are closed, 100 ms after the stop request plus the pre-drain delay */
const DRAIN_START_MS = 100;
const MAX_PROBES = 400;
/**
 * Scheduling slack for a listener that closes a little after the bound on a loaded machine: an attempt
 * served more than this after the bound means the listener stayed open through the drain. Reset or
 * closed without a response is never allowed once the bound has passed.
 */
const SERVE_SLACK_MS = 500;

/**
 * Spec: "When the drain starts, every process of the subject MUST close its copy of every listening
 * socket, so that a new connection attempt is refused. A connection that the kernel accepted on the
 * subject's behalf MUST be served in full" (STOP.LISTENER_CLOSED, E03); 6.2: the drain starts at the
 * latest 100 ms after the stop request plus the configured pre-drain delay.
 *
 * Connect probes start at a fixed cadence, each on its own, from just before the signal until the
 * subject exits, so a server that keeps accepting through the drain, or accepts and then resets for
 * any window longer than the cadence, is seen. A held request keeps the subject in its drain.
 */
export default defineCase({
  id: 'stop.new-connections-refused',
  title: 'New connections after the drain starts are refused, never accepted then reset',
  description: `Hold a ${HOLD_MS} ms request and send the stop signal while a new connection attempt starts every ${CADENCE_MS} ms (each on its own) until the subject exits. Every attempt started once the drain must have begun (${DRAIN_START_MS} ms after the stop plus the pre-drain delay; with a probe, at stop-accepting if earlier) must be refused: served means the listener is still open, reset or closed without a response means accepted and dropped. Reports the time until the first refusal.`,
  requirements: ['STOP.LISTENER_CLOSED'],
  edgeCases: ['E03', 'E09'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const port = s.ports.http!;
    const pending: Promise<void>[] = [];
    const until = Date.now() + ctx.ms(HOLD_MS + ctx.manifest.preDrainDelayMs + ctx.manifest.gracePeriodMs + 1000);
    const fire = (i: number) => {
      const startNs = process.hrtime.bigint().toString();
      pending.push(
        connectProbe(port, { history: ctx.history, path: '/', timeoutMs: ctx.ms(2000), label: `late-${i}` }).then(
          (r: { outcome: ConnectOutcome; status?: number }) => {
            ctx.note('late-connect', { i, outcome: r.outcome, status: r.status, startNs });
          },
        ),
      );
    };
    let i = 0;
    fire(i++); // one attempt before the signal: the listener is open (a baseline)
    sendAction(ctx, s, 'stop');
    // a fixed cadence, bounded in count and time; it ends when the subject has exited
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (s.exited || i >= MAX_PROBES || Date.now() > until) {
          clearInterval(timer);
          resolve();
          return;
        }
        fire(i++);
      }, CADENCE_MS);
    });
    await Promise.all(pending);
    recordResult(ctx, await held.done);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const send = sentFor(events, manifest, 'stop');
    if (!send) return [verdict('STOP.LISTENER_CLOSED', false, 'a stop was requested', 'no stop signal was sent')];
    // the drain must have started by then (spec 6.2); with a probe, at stop-accepting if that came first
    const bound = BigInt(send.ns) + BigInt(manifest.preDrainDelayMs + DRAIN_START_MS) * 1_000_000n;
    const closedAt = probe(events, 'stop-accepting')[0];
    const from = closedAt && BigInt(closedAt.ns) < bound ? BigInt(closedAt.ns) : bound;
    const all = notes(events, 'late-connect');
    const judged = all.filter((p) => BigInt(String(p.startNs)) >= from);
    const lateServe = from + BigInt(SERVE_SLACK_MS) * 1_000_000n;
    const served = judged.filter((p) => p.outcome === 'served' && BigInt(String(p.startNs)) >= lateServe);
    const dropped = judged.filter((p) => p.outcome === 'reset' || p.outcome === 'eof' || p.outcome === 'timeout');
    const refused = all
      .filter((p) => p.outcome === 'refused' && BigInt(String(p.startNs)) >= BigInt(send.ns))
      .sort((a, b) => (BigInt(String(a.startNs)) < BigInt(String(b.startNs)) ? -1 : 1))[0];
    const metrics: Record<string, number> = {};
    if (refused) metrics.timeToRefuseMs = ms(send.ns, String(refused.startNs));
    const x = exitOf(events);
    const exitedBefore = x !== null && BigInt(x.ns) <= from;
    const window = (ps: Record<string, unknown>[]) =>
      ps.length
        ? ` (${ms(send.ns, String(ps[0]!.startNs)).toFixed(0)}–${ms(send.ns, String(ps.at(-1)!.startNs)).toFixed(0)} ms after the stop)`
        : '';
    const ok = exitedBefore || (judged.length > 0 && served.length === 0 && dropped.length === 0);
    return [
      verdict(
        'STOP.LISTENER_CLOSED',
        ok,
        `attempts start every ${CADENCE_MS} ms; once the drain must have begun (${manifest.preDrainDelayMs + DRAIN_START_MS} ms after the stop${closedAt ? ', or at stop-accepting' : ''}) none is accepted and dropped, and none is still served ${SERVE_SLACK_MS} ms later (the listener stayed open)`,
        exitedBefore && judged.length === 0
          ? `the subject exited ${ms(send.ns, x.ns).toFixed(1)} ms after the stop, before the drain window; its listener closed with it`
          : `${judged.length} attempts judged: ${judged.filter((p) => p.outcome === 'refused').length} refused, ${judged.filter((p) => p.outcome === 'served').length} served (${served.length} after the slack${window(served)}), ${dropped.length} accepted then dropped${window(dropped)} [${summarise(dropped.map((p) => String(p.outcome)))}]; ${all.length - judged.length} before the drain window${x ? '' : '; the subject did not exit'}`,
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
