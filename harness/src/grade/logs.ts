/**
 * LOGS.REOPEN (and SIG.USR1.REOPEN_LOGS where the map keeps SIGUSR1's meaning), judged from the log
 * file the harness hands over (`SIGCERT_LOG_FILE`, subject-protocol.md section 2). The case renames the
 * file the way logrotate does, asks for reopen-logs, waits for its outcome, causes a new line, and
 * notes what it saw of both files:
 *
 *  - `log-rotated` {file, to, bytes, ino}: the file as it was renamed (before the request);
 *  - `log-not-written` {file}: the subject wrote nothing there: the reopen is not observable;
 *  - `log-at-outcome` {how, rotatedBytes, newExists, newBytes, newIno}: right after the outcome (the
 *    probe's `reopen-logs`; black box: the file back at its path, or a bounded wait);
 *  - `log-final` {rotatedBytes, newExists, newBytes, newIno}: after a request and a bounded wait for a
 *    new line.
 *
 * Reopened: a new file (another inode) is at the old path and has lines, and the renamed file did not
 * grow after the outcome. A subject that writes no line after the reopen leaves the question open, unless
 * its manifest declares `capabilities.logFile` (it writes its lines to that file): then nothing written
 * before the request, or no line after the reopen, is a failure (subject-protocol.md section 2).
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { describeExit } from './exit.js';
import { exitOf, notes } from './facts.js';
import { type RequirementId, unknown, verdict } from './verdict.js';

/** The requirements this verifier judges for a reopen-logs request through `via` (a signal or `control`). */
export function logReopenRequirements(via: string): RequirementId[] {
  return via === 'SIGUSR1' ? ['LOGS.REOPEN', 'SIG.USR1.REOPEN_LOGS'] : ['LOGS.REOPEN'];
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

/**
 * The reopen was asked for and reported (the probe's `reopen-logs`, or a new file back at the path), yet
 * lines kept landing in the renamed file after it, or (the subject declares `logFile`) nothing opened the
 * old path again: the declared action was not carried out. Positive evidence only: a reopen never seen
 * within the bound, or an undeclared subject that writes no line, is not this (LOGS.REOPEN judges those).
 * Returns the evidence, or null. SIG.MAP.DECLARED (a declared signal) and CONTROL.EQUIVALENT (the control
 * channel's 200) fail on it: LOGS.REOPEN is a MAY, but a subject that declares reopen-logs and reports it
 * done promises it.
 */
export function reopenNotCarriedOut(events: readonly HistoryEvent[], m: Manifest): string | null {
  const rotated = notes(events, 'log-rotated')[0];
  const at = notes(events, 'log-at-outcome')[0];
  const fin = notes(events, 'log-final')[0];
  if (!rotated || !at || !fin || at.how === 'none within the bound') return null;
  const grew = num(fin.rotatedBytes) - num(at.rotatedBytes);
  if (grew > 0)
    return `the log file was not reopened: after the reopen was reported (${String(at.how)}) the renamed file grew by ${grew} bytes`;
  // A subject that declares logFile writes its lines to the path, creating the file when it is missing,
  // and one line for the reopen itself: a reopen by path leaves a file there. (One that does not declare
  // it may open lazily, on its next line, and need write none.) The renamed file's growth alone misses a
  // no-op whose own line landed before the outcome was seen and that logs no request.
  if (m.capabilities.logFile === true && fin.newExists !== true)
    return `the log file was not reopened: after the reopen was reported (${String(at.how)}), a request and a bounded wait, no file is at the old path, though the manifest declares capabilities.logFile`;
  return null;
}

export function verifyLogReopen(events: readonly HistoryEvent[], m: Manifest, via: string): Verdict[] {
  const ids = logReopenRequirements(via);
  const asked = via === 'control' ? 'POST /control/reopen-logs' : via;
  const detail = `after the log file was renamed, ${asked} makes new lines land in a new file at the old path and none in the renamed one`;
  const declared = m.capabilities.logFile === true;
  const rotated = notes(events, 'log-rotated')[0];
  if (!rotated) {
    const missing = notes(events, 'log-not-written')[0];
    if (missing && declared)
      return ids.map((id) =>
        verdict(
          id,
          false,
          detail,
          `the manifest declares capabilities.logFile, yet the subject wrote nothing to the handed-over log file (${String(missing.file)}, SIGCERT_LOG_FILE) before the request, after a request and a bounded wait`,
        ),
      );
    const why = missing
      ? `not observable: the subject wrote nothing to the handed-over log file (${String(missing.file)}, SIGCERT_LOG_FILE) before the request (it may log elsewhere, e.g. stdout)`
      : 'not observable: the log file was not rotated';
    return ids.map((id) => unknown(id, detail, why));
  }
  const at = notes(events, 'log-at-outcome')[0];
  const fin = notes(events, 'log-final')[0];
  const x = exitOf(events);
  const outcome = at ? `outcome: ${String(at.how)}` : 'no outcome recorded';
  if (!at || !fin) {
    // the case did not get to look: the subject's fault only when it ended
    if (x) return ids.map((id) => verdict(id, false, detail, `the subject ended (${describeExit(x)})`));
    return ids.map((id) => unknown(id, detail, `the case ended before the check (${outcome})`));
  }
  const grew = num(fin.rotatedBytes) - num(at.rotatedBytes);
  const newFile = fin.newExists === true && fin.newIno !== rotated.ino;
  const newBytes = newFile ? num(fin.newBytes) : 0;
  const actual = `renamed at ${num(rotated.bytes)} bytes; ${outcome}; then ${
    fin.newExists === true
      ? newFile
        ? `a new file at the old path with ${newBytes} bytes`
        : 'the renamed file itself at the old path'
      : 'no file at the old path'
  }, the renamed file ${grew > 0 ? `grew by ${grew} bytes after the outcome` : 'unchanged after the outcome'}${
    x ? `; the subject ended (${describeExit(x)})` : ''
  }`;
  const failed = x !== null || grew > 0 || (fin.newExists === true && !newFile);
  if (!failed && newBytes === 0) {
    // no line landed in either file after the reopen: where the next line goes cannot be seen, unless
    // the subject declared that its lines go to this file (one for each action: the reopen is one)
    if (declared)
      return ids.map((id) =>
        verdict(
          id,
          false,
          detail,
          `${actual}: no line was written after the reopen, though the manifest declares capabilities.logFile`,
        ),
      );
    return ids.map((id) => unknown(id, detail, `${actual}: no line was written after the reopen`));
  }
  const ok = !failed && newBytes > 0;
  return ids.map((id) => verdict(id, ok, detail, actual));
}
