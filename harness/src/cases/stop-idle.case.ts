import { defineCase } from '../case.js';
import {
  ackLatency,
  exitOf,
  gracefulExitVerdicts,
  probe,
  sent,
  verdict,
  verifyAckWithinGrace,
} from '../grade/index.js';
import { sendAction, stopBudget, waitExit } from '../workload.js';

/**
 * Spec: "the subject behaves as its declared signal map says" (the stop signal); "a successful graceful stop exits with status 0";
 * "state is persisted on every stop path". The simplest stop: nothing in flight.
 */
export default defineCase({
  id: 'stop.idle',
  title: 'Graceful stop of an idle subject',
  description:
    'Launch, wait for readiness, send the declared stop signal with nothing in flight. The subject must exit with the graceful code within the grace period, persist state, and (with a probe) go through STOPPING.',
  requirements: ['SIG.MAP.DECLARED', 'STOP.EXIT_ZERO', 'STOP.PERSIST_ALL_PATHS', 'LATENCY.WITHIN_GRACE'],
  edgeCases: ['E33', 'E34'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    sendAction(ctx, s, 'stop');
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const send = sent(events)[0];
    const x = exitOf(events);
    const out = gracefulExitVerdicts(events, manifest);
    const stopSig = send?.data.sig as string;
    out.push(
      verdict(
        'SIG.MAP.DECLARED',
        x !== null && x.signal === null,
        `${stopSig} (declared: stop) ends in a graceful stop, not death by the signal`,
        x ? (x.signal ? `killed by ${x.signal}` : `exit ${x.code}`) : 'did not exit',
      ),
    );
    if (manifest.capabilities.probe && send) {
      const lat = ackLatency(events, send);
      const stopping = probe(events, 'state').some((e) => e.data.state === 'STOPPING');
      out.push(verifyAckWithinGrace(lat, manifest.gracePeriodMs));
      out.push(
        verdict(
          'SIG.MAP.DECLARED',
          stopping,
          'the declared stop signal moves the subject to STOPPING',
          stopping ? 'state STOPPING observed' : 'no STOPPING state on the probe',
        ),
      );
    } else if (send && x) {
      out.push(
        verdict(
          'LATENCY.WITHIN_GRACE',
          BigInt(x.ns) - BigInt(send.ns) <= BigInt(manifest.gracePeriodMs) * 1_000_000n,
          `the subject exits within the grace period (${manifest.gracePeriodMs} ms) (black box: exit time)`,
          `exited after ${(Number(BigInt(x.ns) - BigInt(send.ns)) / 1e6).toFixed(1)} ms`,
          { timeToExitMs: Number(BigInt(x.ns) - BigInt(send.ns)) / 1e6 },
        ),
      );
    }
    return out;
  },
});
