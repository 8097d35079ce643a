import { defineCase, signalFor } from '../case.js';
import {
  ackLatency,
  gracefulExitVerdicts,
  sent,
  verifyAckBudget,
  verifyAckWithinGrace,
  verifyDrain,
} from '../grade/index.js';
import { recordResult, startHeld, stopBudget, waitExit } from '../workload.js';

const WORK_MS = 1000;

/**
 * Spec: "during long CPU work a stop signal is acknowledged within 50 ms" (SHOULD, E26) and
 * "within the grace period in every scenario" (MUST); the drain waits for the work.
 */
export default defineCase({
  id: 'stop.during-cpu-work',
  title: `Stop during a ${WORK_MS} ms CPU request: handler latency and drain`,
  description: `Start /cpu?ms=${WORK_MS} and send the stop signal once its headers arrived (the work has begun). The acknowledgement latency is measured against the 50 ms SHOULD budget; the request must still complete.`,
  requirements: ['LATENCY.CPU_WORK', 'LATENCY.WITHIN_GRACE', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E26'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'], needs: ['cpu'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const work = await startHeld(ctx, s, { path: `/cpu?ms=${WORK_MS}`, label: 'cpu' });
    s.signal(signalFor(ctx.manifest, 'stop')!);
    recordResult(ctx, await work.done, { expectBody: `cpu ${WORK_MS}\n` });
    await waitExit(ctx, s, stopBudget(ctx) + WORK_MS);
  },
  grade({ events, manifest }) {
    const send = sent(events)[0];
    const lat = send ? ackLatency(events, send) : null;
    return [
      verifyAckBudget('LATENCY.CPU_WORK', lat, 50, 'although a CPU request is running'),
      verifyAckWithinGrace(lat, manifest.gracePeriodMs),
      verifyDrain(events, manifest, { labels: ['cpu'], what: 'the CPU request' }),
      ...gracefulExitVerdicts(events, manifest),
    ];
  },
});
