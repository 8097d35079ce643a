/**
 * STOP.DEADLINE_EXIT_CODE: "When the drain deadline passed with connections still open, the subject MUST
 * close them, log how many it closed, still run the persist step, and exit with its deadline status."
 * Two observations, one verifier:
 *
 *  - the exit status: the declared deadline code, never 0;
 *  - the count, on the log file the harness hands over (`SIGCERT_LOG_FILE`, subject-protocol.md section
 *    2). The case holds `pastDeadline` requests, each on its own connection, far past the deadline, and
 *    `endsInDrain` more that end during the drain, so that the number in flight at the stop differs
 *    from the number left to close at the deadline (2 and 1 for a subject with the conformance
 *    endpoints; 1 and 0 otherwise, where the two numbers agree and the check is weaker). It notes the
 *    file's size at the stop (`deadline-log-at-stop`) and, after the exit, the lines written since
 *    (`deadline-log-after-exit`). A line written after the stop must state `pastDeadline` (as a
 *    number, in any wording).
 *
 * What the spec does not say is not judged: the wording and the form of the line, and whether it names
 * connections or requests (each held request has its own connection, so the numbers agree). Where the
 * line sits relative to the persist step cannot be seen in a log file without a common clock, so the
 * order is not judged here. A subject that writes no line of its own to the file after the stop (none
 * at all, or only the request lines of the case's own requests, as an access log does) logs elsewhere:
 * the count is then not observable, never failed, unless its manifest declares `capabilities.logFile`
 * (its lines go to that file): then it failed to log the count where it said it logs.
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { describeExit, describeSpec, exitMatches } from './exit.js';
import { exitOf, notes, results } from './facts.js';
import { unobservable, verdict } from './verdict.js';

/** What would make the logged count observable: log lines in the handed-over file. */
export const LOG_FILE_NEED = 'logFile';

/** Whether `line` states the number `n` as a number of its own (not a digit of 2026, 12:02, 1.5 or 250, nor -1). */
export function statesNumber(line: string, n: number): boolean {
  return new RegExp(`(?<![\\d.:-])${n}(?![\\d:]|\\.\\d)`).test(line);
}

function quoted(lines: readonly string[], max = 4): string {
  const shown = lines.slice(0, max).map((l) => `"${l.length > 160 ? `${l.slice(0, 157)}...` : l}"`);
  return `${shown.join(', ')}${lines.length > max ? `, +${lines.length - max} more` : ''}`;
}

/** The logged count of connections closed at the deadline; undefined when the case did not look. */
export function verifyDeadlineLogCount(events: readonly HistoryEvent[], m?: Manifest): Verdict | undefined {
  const held = notes(events, 'deadline-held')[0];
  const atStop = notes(events, 'deadline-log-at-stop')[0];
  const after = notes(events, 'deadline-log-after-exit')[0];
  if (!held || !atStop) return undefined; // a history from before the case looked at the log
  const k = Number(held.pastDeadline);
  const labels = (held.labels as string[] | undefined) ?? [];
  const x = exitOf(events);
  const long = results(events).filter((r) => labels.includes(String(r.label)));
  // the deadline closed nothing the case can count: the subject did not exit, or answered what it held
  // (the exit status and STOP.DEADLINE say what went wrong)
  if (x === null || long.length !== k || long.some((r) => r.ok === true)) return undefined;
  const detail = `the deadline closed the ${k} connection${k === 1 ? '' : 's'} still open (a request held on ${k === 1 ? 'it' : 'each'}, far past the grace period); a line the subject wrote to the handed-over log file (SIGCERT_LOG_FILE) after the stop states that number (${k}), in any wording`;
  const lines = ((after?.lines as string[] | undefined) ?? []).filter((l) => l.trim() !== '');
  const paths = (held.paths as string[] | undefined) ?? [];
  const own = lines.filter((l) => !paths.some((p) => l.includes(p)));
  if (own.length === 0) {
    if (m?.capabilities.logFile === true) {
      const what =
        lines.length === 0 ? 'no line' : `only the request lines of the case's own requests (${quoted(lines, 2)})`;
      return verdict(
        'STOP.DEADLINE_EXIT_CODE',
        false,
        detail,
        `the manifest declares capabilities.logFile, yet the subject wrote ${what} to the handed-over log file (${String(atStop.file)}, SIGCERT_LOG_FILE) after the stop`,
      );
    }
    const why =
      lines.length === 0
        ? `not observable: the subject wrote no line to the handed-over log file (${String(atStop.file)}, SIGCERT_LOG_FILE) after the stop (it may log elsewhere, e.g. stderr)`
        : `not observable: after the stop the subject wrote only the request lines of the case's own requests to the handed-over log file (${quoted(lines, 2)}): its other lines go elsewhere`;
    return unobservable('STOP.DEADLINE_EXIT_CODE', detail, [LOG_FILE_NEED], why);
  }
  const stating = own.filter((l) => {
    let rest = l;
    for (const p of paths) rest = rest.split(p).join(' ');
    return statesNumber(rest, k);
  });
  const actual =
    stating.length > 0
      ? `logged after the stop: ${quoted(stating, 1)}`
      : `${own.length} line(s) written to the log file after the stop, none states ${k}: ${quoted(own)}${
          after?.truncated === true ? " (the lines noted were cut at the case's bound)" : ''
        }`;
  return verdict('STOP.DEADLINE_EXIT_CODE', stating.length > 0, detail, actual);
}

/** STOP.DEADLINE_EXIT_CODE on a stop whose deadline expired (case stop.deadline). */
export function verifyDeadlineExit(events: readonly HistoryEvent[], m: Manifest): Verdict[] {
  const x = exitOf(events);
  const out = [
    verdict(
      'STOP.DEADLINE_EXIT_CODE',
      exitMatches(x, m.exitCodes.deadline) && m.exitCodes.deadline !== 0,
      `a stop whose deadline expired ends with the declared non-zero code (${describeSpec(m.exitCodes.deadline)})`,
      describeExit(x),
    ),
  ];
  const logged = verifyDeadlineLogCount(events, m);
  if (logged) out.push(logged);
  return out;
}
