import { defineCase } from '../case.js';
import { gradeLatency, gradeWithinGrace } from '../grade/index.js';
import { runLatencyTrials } from '../latency.js';
import { type InFlight, startHeld } from '../workload.js';

const TRIALS = 100;
const WORK_MS = 2000;

/** Spec: during long CPU work a stop signal is acknowledged within 50 ms (SHOULD, E26): offload the work. */
export default defineCase({
  id: 'latency.cpu-work',
  title: `Handler latency while CPU work runs (${TRIALS} trials)`,
  description: `A /cpu?ms=${WORK_MS} request is kept in flight (re-armed when it ends) while ${TRIALS} signals are measured. Graded on p99 against 50 ms; stops early once 10 trials were slow.`,
  requirements: ['LATENCY.CPU_WORK', 'LATENCY.WITHIN_GRACE'],
  edgeCases: ['E26'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'], needs: ['cpu'] },
  exclusive: true,
  timeout: 'long',
  async run(ctx) {
    await runLatencyTrials(
      ctx,
      {
        async setup(c, s) {
          let work: InFlight | null = null;
          let finished = true;
          const arm = async () => {
            if (!finished || s.exited) return;
            finished = false;
            work = await startHeld(c, s, { path: `/cpu?ms=${WORK_MS}`, label: 'cpu' });
            void work.done.then(() => {
              finished = true;
            });
          };
          return {
            beforeTrial: arm,
            async teardown() {
              (work as InFlight | null)?.conn.close();
            },
          };
        },
      },
      { trials: TRIALS, slowMs: 200, maxMs: WORK_MS + 2000, maxSlow: 10 },
    );
  },
  grade({ events, manifest }) {
    return [
      gradeLatency(events, 'LATENCY.CPU_WORK', 50, 'during CPU work', TRIALS),
      gradeWithinGrace(events, manifest.gracePeriodMs),
    ];
  },
});
