import { defineCase } from '../case.js';
import { gradeLatency, gradeWithinGrace } from '../grade/index.js';
import { runLatencyTrials } from '../latency.js';

const TRIALS = 100;

/** Spec: with a free event loop a stop signal is acknowledged within 50 ms (MUST), within 5 ms (SHOULD). */
export default defineCase({
  id: 'latency.idle',
  title: `Handler latency, idle subject (${TRIALS} trials)`,
  description: `${TRIALS} signals to an idle subject; latency is the probe's handler-entry stamp minus the send stamp. Graded on p99: 50 ms (MUST), 5 ms (SHOULD).`,
  requirements: ['LATENCY.IDLE', 'LATENCY.IDLE_FAST', 'LATENCY.WITHIN_GRACE'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'] },
  exclusive: true,
  timeout: 'normal',
  async run(ctx) {
    await runLatencyTrials(ctx, { setup: async () => ({}) }, { trials: TRIALS, slowMs: 500, maxMs: 2000, maxSlow: 10 });
  },
  grade({ events, manifest }) {
    return [
      gradeLatency(events, 'LATENCY.IDLE', 50, 'idle', TRIALS),
      gradeLatency(events, 'LATENCY.IDLE_FAST', 5, 'idle', TRIALS),
      gradeWithinGrace(events, manifest.gracePeriodMs),
    ];
  },
});
