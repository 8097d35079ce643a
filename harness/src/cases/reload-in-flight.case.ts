import { defineCase, signalFor } from '../case.js';
import { describeExit, exitOf, loadCount, results, verdict } from '../grade/index.js';
import { http, recordResult, startHeld, waitAck } from '../workload.js';

const HOLD_MS = 1200;
const RELOADS = 5;
const CLIENTS = 4;

/**
 * Spec: "requests in flight during a reload complete" and "a reload never refuses or resets a new
 * connection" (E21). Bounded loopback load runs across several reloads.
 */
export default defineCase({
  id: 'reload.in-flight',
  title: 'Reloads under load: in-flight requests complete, no connection refused or reset',
  description: `Hold two ${HOLD_MS} ms requests, run ${CLIENTS} clients opening new connections in a bounded loop, and send ${RELOADS} reload signals (each after the previous was acknowledged). Nothing may fail.`,
  requirements: ['RELOAD.IN_FLIGHT', 'RELOAD.LISTENER_KEPT'],
  edgeCases: ['E21'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], needs: ['hold'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    const held = await Promise.all(
      [0, 1].map((i) => startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: `held-${i}` })),
    );
    let stop = false;
    // every request is recorded by the client (http-done / connect, label "load"); the grader counts
    const loop = async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        await http(ctx, s, { path: '/hold?ms=0', label: 'load', timeoutMs: ctx.ms(5000) });
      }
    };
    const clients = Array.from({ length: CLIENTS }, loop);
    for (let g = 2; g < 2 + RELOADS && !s.exited; g++) {
      s.writeConfig({ generation: g });
      const t = s.signal(sig);
      await waitAck(ctx, s, sig, t, 2000);
      if (ctx.manifest.capabilities.probe) {
        await s
          .waitProbe((e) => e.ev === 'reload-done' && e.generation === g, ctx.ms(3000), `reload to ${g}`)
          .catch(() => undefined);
      }
    }
    for (const h of held) recordResult(ctx, await h.done, { expectBody: `held ${HOLD_MS}\n` });
    stop = true;
    await Promise.all(clients);
  },
  grade({ events }) {
    const rs = results(events);
    const load = loadCount(events, ['load']);
    const exit = exitOf(events);
    const exact = rs.filter((r) => r.ok && r.body === r.expectBody).length;
    return [
      verdict(
        'RELOAD.IN_FLIGHT',
        rs.length === 2 && exact === 2,
        'both requests held across the reloads complete byte-exact',
        rs.map((r) => (r.ok ? `${r.status} ${JSON.stringify(r.body)}` : `failed (${r.error})`)).join('; '),
      ),
      verdict(
        'RELOAD.LISTENER_KEPT',
        load.sent > 0 && load.failed === 0 && exit === null,
        'no new connection is refused, reset or failed during the reloads, and the subject keeps running',
        `${load.sent} requests, ${load.failed} failed ${JSON.stringify(load.kinds)}${exit ? `; the subject ended (${describeExit(exit)})` : ''}`,
        { requests: load.sent, failed: load.failed },
      ),
    ];
  },
});
