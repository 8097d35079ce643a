import { defineCase } from '../case.js';
import { describeExit, describeSpec, exitMatches, exitOf, ms, probe, results, sent, verdict } from '../grade/index.js';
import { recordResult, startHeld, waitAck, waitExit, waitRefused } from '../workload.js';

const HOLD_MS = 8000;

/**
 * Spec: "a second SIGINT during a stop escalates to a fast stop" (E14) and "only a second SIGINT,
 * SIGQUIT or the deadline escalates a graceful stop".
 */
export default defineCase({
  id: 'repeat.int-int',
  title: 'SIGINT twice: the second escalates to a fast stop',
  description: `Hold a ${HOLD_MS} ms request, send SIGINT, wait for its acknowledgement, send SIGINT again. The subject must end quickly (long before the held request) with the declared fast-stop status and still persist.`,
  requirements: ['SIG.INT.SECOND_FAST', 'REPEAT.ESCALATION', 'SIG.INT.GRACEFUL'],
  edgeCases: ['E14'],
  applies: { platforms: ['linux', 'darwin'], needs: ['hold'] },
  notApplicable: (m) =>
    m.signals.SIGINT !== 'stop'
      ? 'SIGINT is not declared as a graceful stop'
      : m.signalsRepeat.SIGINT !== 'fast-stop'
        ? 'a second SIGINT is not declared to escalate'
        : null,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const t1 = s.signal('SIGINT');
    const acked = await waitAck(ctx, s, 'SIGINT', t1, 2000);
    if (!acked && !ctx.manifest.capabilities.probe) {
      // black box: the first SIGINT is acknowledged once new connections are refused. Without this wait the
      // second kill() can reach the subject while the first is still pending, and POSIX merges the two.
      await waitRefused(ctx, s, 2000);
    }
    if (ctx.manifest.capabilities.probe) {
      await s.waitProbe(
        (e) => e.ev === 'state' && e.state === 'STOPPING',
        ctx.ms(2000),
        'STOPPING after the first SIGINT',
      );
    }
    if (!s.exited) s.signal('SIGINT');
    await waitExit(ctx, s, 3000);
    recordResult(ctx, await held.done);
  },
  grade({ events, manifest }) {
    const x = exitOf(events);
    const ints = sent(events, 0, 'SIGINT');
    const took = ints[1] && x ? ms(ints[1].ns, x.ns) : Number.NaN;
    const r = results(events)[0];
    const stopping = probe(events, 'state').some((e) => e.data.state === 'STOPPING');
    const out = [
      verdict(
        'SIG.INT.GRACEFUL',
        manifest.capabilities.probe ? stopping : ints.length === 2,
        'the first SIGINT starts a graceful stop (the subject survives it and keeps draining)',
        manifest.capabilities.probe
          ? stopping
            ? 'STOPPING observed after the first SIGINT'
            : 'no STOPPING state'
          : `${ints.length} SIGINT sent before exit`,
      ),
      verdict(
        'SIG.INT.SECOND_FAST',
        ints.length === 2 && exitMatches(x, manifest.exitCodes.fastStop, 'SIGINT') && took <= 2000,
        `the second SIGINT ends the subject at once with ${describeSpec(manifest.exitCodes.fastStop)}`,
        `${describeExit(x)}${Number.isFinite(took) ? ` ${took.toFixed(1)} ms after the second SIGINT` : ''}`,
        Number.isFinite(took) ? { fastStopMs: took } : undefined,
      ),
      verdict(
        'REPEAT.ESCALATION',
        ints.length === 2 && x !== null && r?.ok !== true,
        'escalation aborts the remaining work instead of waiting for it',
        `held request ${r?.ok ? 'was allowed to finish' : `was closed (${r?.error})`}`,
      ),
    ];
    return out;
  },
});
