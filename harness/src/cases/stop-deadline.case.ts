import { defineCase } from '../case.js';
import {
  describeExit,
  describeSpec,
  exitMatches,
  exitOf,
  ms,
  results,
  sent,
  verdict,
  verifyPersist,
} from '../grade/index.js';
import { recordResult, sendAction, startHeld, waitExit } from '../workload.js';

const GRACE_MS = 1000;

/**
 * Spec: "the stop deadline is enforced and request code cannot block it" (E11, E12); "a stop whose
 * deadline expired exits with the documented non-zero code"; persist still runs.
 */
export default defineCase({
  id: 'stop.deadline',
  title: 'Deadline expiry forces the stop, exits with the documented code, and persist still runs',
  description: `Launch with a ${GRACE_MS} ms grace period (SIGCERT_GRACE_MS), hold a request far longer, stop. The subject must exit within the grace period plus slack, with the declared deadline code, after persisting.`,
  requirements: ['STOP.DEADLINE', 'STOP.DEADLINE_EXIT_CODE', 'STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E11', 'E12', 'E34'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    // A black-box subject enforces its own declared grace period; a cooperative one is told ours.
    const grace = ctx.manifest.capabilities.conformanceEndpoints ? GRACE_MS : ctx.manifest.gracePeriodMs;
    ctx.note('grace', { ms: grace });
    const s = await ctx.launch({ env: { SIGCERT_GRACE_MS: String(grace) } });
    const held = await startHeld(ctx, s, { path: `/hold?ms=${grace + 10_000}`, label: 'too-long' });
    sendAction(ctx, s, 'stop');
    await waitExit(ctx, s, grace + 3000);
    recordResult(ctx, await held.done);
  },
  grade({ events, manifest }) {
    const grace = Number(
      events.find((e) => e.source === 'case' && e.kind === 'grace')?.data.ms ?? manifest.gracePeriodMs,
    );
    const send = sent(events)[0];
    const x = exitOf(events);
    const took = send && x ? ms(send.ns, x.ns) : Number.NaN;
    const r = results(events)[0];
    const out = [
      verdict(
        'STOP.DEADLINE',
        x !== null && took <= grace + 1000 && r?.ok !== true,
        `the subject exits within the grace period (${grace} ms, +1000 ms slack) even though a request is still running`,
        `${describeExit(x)}${Number.isFinite(took) ? ` after ${took.toFixed(1)} ms` : ''}; the long request ${r?.ok ? 'completed' : `was closed (${r?.error})`}`,
        Number.isFinite(took) ? { timeToExitMs: took } : undefined,
      ),
      verdict(
        'STOP.DEADLINE_EXIT_CODE',
        exitMatches(x, manifest.exitCodes.deadline) && manifest.exitCodes.deadline !== 0,
        `a stop whose deadline expired ends with the declared non-zero code (${describeSpec(manifest.exitCodes.deadline)})`,
        describeExit(x),
      ),
    ];
    out.push(...verifyPersist(events, manifest, 'deadline'));
    return out;
  },
});
