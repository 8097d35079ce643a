import { readFileSync, statSync } from 'node:fs';
import type { CaseContext } from '../case.js';
import { defineCase } from '../case.js';
import { HttpConnection } from '../clients/http.js';
import {
  describeExit,
  exitOf,
  ms,
  results,
  sent,
  verdict,
  verifyDeadlineExit,
  verifyDrainReport,
  verifyPersist,
} from '../grade/index.js';
import { subjectLogPath } from '../launch/handover.js';
import type { Subject } from '../launch/index.js';
import { type InFlight, recordResult, sendAction, startHeld, waitExit } from '../workload.js';

const GRACE_MS = 1000;
/**
 * A subject that serves the conformance endpoints (and is told our grace period) gets, beside the
 * request held far past the deadline (the one connection it must say it closed), one more that ends
 * during the drain (at this share of the grace period), so that the number in flight at the stop (2)
 * is not the number left to close at the deadline (1). It is sent only when the subject serves two
 * requests at once: its headers must come within SECOND_REQUEST_MS (gunicorn's sync workers serve one
 * request each), else it is closed unanswered and the stop goes ahead with the one held request, as
 * for any other subject; the two numbers then agree and the logged count is a weaker check.
 */
const ENDS_IN_DRAIN_SHARE = 0.3;
const SECOND_REQUEST_MS = 1000;
/** Bounds of the log lines noted after the exit. */
const LOG_LINES_MAX = 200;
const LOG_LINE_CHARS = 500;

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The lines the subject appended to `file` after byte `from` (bounded). */
function linesAfter(file: string, from: number): { lines: string[]; truncated: boolean } {
  let text = '';
  try {
    const all = readFileSync(file);
    text = all.subarray(Math.min(from, all.length)).toString('utf8');
  } catch {
    return { lines: [], truncated: false };
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const truncated = lines.length > LOG_LINES_MAX || lines.some((l) => l.length > LOG_LINE_CHARS);
  return { lines: lines.slice(0, LOG_LINES_MAX).map((l) => l.slice(0, LOG_LINE_CHARS)), truncated };
}

/**
 * Start a held request on a fresh connection and wait (bounded) for its headers: the subject serves it
 * beside the requests already held. Null, and the connection closed unanswered, when it does not.
 */
async function startIfServed(ctx: CaseContext, s: Subject, path: string, withinMs: number): Promise<InFlight | null> {
  const conn = await HttpConnection.open(s.ports.http!, { history: ctx.history, label: 'ends-in-drain' });
  let onHeaders!: () => void;
  const headers = new Promise<'headers'>((r) => {
    onHeaders = () => r('headers');
  });
  const done = conn.request({ path, label: 'ends-in-drain', timeoutMs: ctx.ms(15_000), onHeaders: () => onHeaders() });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ctx.ms(withinMs));
  });
  const first = await Promise.race([headers, done.then(() => 'done' as const), late]);
  clearTimeout(timer);
  if (first === 'headers') return { conn, done };
  conn.close();
  const r = await done;
  ctx.note('second-request-not-served', { withinMs, ok: r.ok, error: r.error });
  return null;
}

/**
 * Spec: "the stop deadline is enforced and request code cannot block it" (E11, E12); "a stop whose
 * deadline expired exits with the documented non-zero code", after closing the connections still open
 * and logging how many it closed; persist still runs.
 */
export default defineCase({
  id: 'stop.deadline',
  title:
    'Deadline expiry forces the stop, logs how many connections it closed, exits with the documented code, and persist still runs',
  description: `Launch with a ${GRACE_MS} ms grace period (SIGCERT_GRACE_MS), hold a request far longer and, when the subject serves two at once, one more that ends during the drain, each on its own connection (a subject without the conformance endpoints: its own grace period, the long request only), stop. The subject must exit within the grace period plus slack, with the declared deadline code, after persisting; when it writes the handed-over log file (SIGCERT_LOG_FILE), a line written after the stop must state how many it closed.`,
  requirements: ['STOP.DEADLINE', 'STOP.DEADLINE_EXIT_CODE', 'STOP.PERSIST_ALL_PATHS'],
  alsoJudges: ['STOP.OBSERVABLE'],
  edgeCases: ['E11', 'E12', 'E34'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    // A black-box subject enforces its own declared grace period; a cooperative one is told ours.
    const cooperative = ctx.manifest.capabilities.conformanceEndpoints === true;
    const grace = cooperative ? GRACE_MS : ctx.manifest.gracePeriodMs;
    ctx.note('grace', { ms: grace });
    const s = await ctx.launch({ env: { SIGCERT_GRACE_MS: String(grace) } });
    const longPath = `/hold?ms=${grace + 10_000}`;
    const shortPath = `/hold?ms=${Math.round(grace * ENDS_IN_DRAIN_SHARE)}`;
    const held = await startHeld(ctx, s, { path: longPath, label: 'too-long' });
    const short = cooperative ? await startIfServed(ctx, s, shortPath, SECOND_REQUEST_MS) : null;
    const log = subjectLogPath(s.runDir, s.launchIndex);
    ctx.note('deadline-held', {
      pastDeadline: 1,
      endsInDrain: short ? 1 : 0,
      labels: ['too-long'],
      paths: cooperative ? [longPath, shortPath] : [longPath],
    });
    const at = sizeOf(log);
    ctx.note('deadline-log-at-stop', { file: log, bytes: at });
    sendAction(ctx, s, 'stop');
    await waitExit(ctx, s, grace + 3000);
    recordResult(ctx, await held.done);
    if (short) recordResult(ctx, await short.done);
    ctx.note('deadline-log-after-exit', linesAfter(log, at));
  },
  grade({ events, manifest }) {
    const grace = Number(
      events.find((e) => e.source === 'case' && e.kind === 'grace')?.data.ms ?? manifest.gracePeriodMs,
    );
    const send = sent(events)[0];
    const x = exitOf(events);
    const took = send && x ? ms(send.ns, x.ns) : Number.NaN;
    const r = results(events).find((q) => q.label === 'too-long');
    const out = [
      verdict(
        'STOP.DEADLINE',
        x !== null && took <= grace + 1000 && r?.ok !== true,
        `the subject exits within the grace period (${grace} ms, +1000 ms slack) even though a request is still running`,
        `${describeExit(x)}${Number.isFinite(took) ? ` after ${took.toFixed(1)} ms` : ''}; the long request ${r?.ok ? 'completed' : `was closed (${r?.error})`}`,
        Number.isFinite(took) ? { timeToExitMs: took } : undefined,
      ),
      ...verifyDeadlineExit(events, manifest),
    ];
    out.push(...verifyPersist(events, manifest, 'deadline'));
    out.push(verifyDrainReport(events, manifest, { at: send?.ns, held: ['too-long', 'ends-in-drain'] }));
    return out;
  },
});
