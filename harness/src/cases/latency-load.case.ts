import { defineCase, hasEndpoint } from '../case.js';
import { HttpConnection } from '../clients/http.js';
import { gradeLatency, gradeWithinGrace, notes } from '../grade/index.js';
import { runLatencyTrials } from '../latency.js';

const TRIALS = 100;
const CLIENTS = 4;
const MAX_REQUESTS = 50_000;

/** Spec: under request load a stop signal is acknowledged within 100 ms (MUST). Load is bounded and loopback only. */
export default defineCase({
  id: 'latency.load',
  title: `Handler latency under bounded loopback load (${TRIALS} trials)`,
  description: `${CLIENTS} keep-alive clients send requests back to back (at most ${MAX_REQUESTS}) while ${TRIALS} signals are measured. Graded on p99 against 100 ms.`,
  requirements: ['LATENCY.LOAD', 'LATENCY.WITHIN_GRACE'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'] },
  exclusive: true,
  timeout: 'normal',
  async run(ctx) {
    let served = 0;
    await runLatencyTrials(
      ctx,
      {
        async setup(c, s) {
          let stop = false;
          const path = hasEndpoint(c.manifest, 'live') ? '/live' : c.manifest.readiness.path;
          const loop = async () => {
            const conn = await HttpConnection.open(s.ports.http!, { label: 'load' });
            try {
              while (!stop && served < MAX_REQUESTS && !conn.isClosed) {
                const r = await conn.request({ path, timeoutMs: 5000, label: 'load' });
                if (!r.ok) break;
                served++;
              }
            } finally {
              conn.close();
            }
          };
          const clients = Array.from({ length: CLIENTS }, () => loop().catch(() => undefined));
          return {
            async teardown() {
              stop = true;
              await Promise.all(clients);
              c.note('load', { served });
            },
          };
        },
      },
      { trials: TRIALS, slowMs: 500, maxMs: 2000, maxSlow: 10 },
    );
  },
  grade({ events, manifest }) {
    const v = gradeLatency(
      events,
      'LATENCY.LOAD',
      100,
      `under load (${String(notes(events, 'load')[0]?.served ?? 0)} requests served)`,
      TRIALS,
    );
    return [v, gradeWithinGrace(events, manifest.gracePeriodMs)];
  },
});
