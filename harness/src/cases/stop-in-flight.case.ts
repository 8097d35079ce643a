import { defineCase } from '../case.js';
import { gracefulExitVerdicts, verifyConnectionClose, verifyDrain } from '../grade/index.js';
import { noteClosedAfter, recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 800;
const N = 3;

/**
 * Spec: "requests in flight when the stop arrives complete, byte-exact" and "every response
 * written after a stop request carries Connection: close".
 */
export default defineCase({
  id: 'stop.in-flight',
  title: 'Held in-flight requests complete byte-exact with Connection: close',
  description: `Start ${N} requests held for ${HOLD_MS} ms (headers flushed first), send the stop signal once all are in flight. Each must complete with its exact body and Connection: close; the subject then exits gracefully.`,
  requirements: ['STOP.DRAIN.IN_FLIGHT', 'STOP.CONNECTION_CLOSE', 'STOP.EXIT_ZERO', 'STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E04', 'E08'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await Promise.all(
      Array.from({ length: N }, (_, i) => startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: `held-${i}` })),
    );
    sendAction(ctx, s, 'stop');
    for (const [i, h] of held.entries()) {
      recordResult(ctx, await h.done, { expectBody: `held ${HOLD_MS}\n` });
      await noteClosedAfter(ctx, h.conn, `held-${i}`);
    }
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    return [
      verifyDrain(events, manifest, { count: N, what: `${N} held requests` }),
      verifyConnectionClose(events, manifest),
      ...gracefulExitVerdicts(events, manifest),
    ];
  },
});
