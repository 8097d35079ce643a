/**
 * PIDFILE.REMOVED, both halves, judged here alone. The owner removes the pidfile at the end of every
 * clean stop path (`verifyPidfileRemoved`, on every stop path of `paths.ts` and in `pidfile.lifecycle`),
 * and it removes it "only while it still names that process" (`verifyPidfileNotOurs`, from the case
 * `pidfile.not-ours`): after
 * readiness the harness replaced the pidfile with one that names another live process (the harness
 * itself, as a new instance of the server would when it starts before the old one has gone), then
 * stopped the subject. The pidfile must be there afterwards, unchanged: an owner that removes it
 * regardless deletes the new instance's pidfile (edge case E39).
 */
import type { HistoryEvent, Verdict } from '../types.js';
import { describeExit } from './exit.js';
import { exitOf, notes } from './facts.js';
import { unknown, verdict } from './verdict.js';

/** Notes of `pidfile.not-ours`: what the harness wrote, and what was there after the stop. */
export interface PidfileReplacedNote {
  content: string;
}
export interface PidfileAfterNote {
  exists: boolean;
  content: string | null;
}

/**
 * The removal half: after the stop path `what` ended, the pidfile is gone. `note` is the case's note of
 * what was at the path after the exit (`{ exists }`). A stop that did not end says nothing about where
 * the pidfile stands at its end (the stop's own requirements judge the hang): unknown.
 */
export function verifyPidfileRemoved(events: readonly HistoryEvent[], what: string, note: string): Verdict {
  const after = notes(events, note)[0] as { exists?: unknown } | undefined;
  const x = exitOf(events);
  const expected = `the pidfile is gone after the ${what}`;
  if (x === null || after === undefined || typeof after.exists !== 'boolean')
    return unknown('PIDFILE.REMOVED', expected, describeExit(x));
  return verdict(
    'PIDFILE.REMOVED',
    !after.exists,
    expected,
    after.exists ? `still there after ${describeExit(x)}` : 'removed',
  );
}

export function verifyPidfileNotOurs(events: readonly HistoryEvent[]): Verdict {
  const replaced = notes(events, 'pidfile-replaced')[0] as PidfileReplacedNote | undefined;
  const after = notes(events, 'pidfile-after-stop')[0] as PidfileAfterNote | undefined;
  const x = exitOf(events);
  const expected = 'a pidfile that names another process is left as it is by the stop';
  const missing = notes(events, 'pidfile-own-missing')[0] as { waitedMs?: unknown } | undefined;
  if (missing !== undefined)
    return unknown(
      'PIDFILE.REMOVED',
      expected,
      `the subject wrote no pidfile of its own within ${String(missing.waitedMs)} ms of readiness: nothing to replace (PIDFILE.WRITTEN is pidfile.lifecycle's)`,
    );
  // Without a stop that ended, the pidfile's fate says nothing: the stop's own requirements judge that.
  if (replaced === undefined)
    return unknown('PIDFILE.REMOVED', expected, 'the case ended before it replaced the pidfile');
  if (x === null || after === undefined) return unknown('PIDFILE.REMOVED', expected, describeExit(x));
  const ok = after.exists && after.content === replaced.content;
  const actual = !after.exists
    ? `the subject removed the pidfile naming pid ${replaced.content} (not its own) on its way out`
    : after.content === replaced.content
      ? `still there, naming pid ${replaced.content}`
      : `rewritten: "${after.content ?? ''}" instead of pid ${replaced.content}`;
  return verdict('PIDFILE.REMOVED', ok, expected, actual);
}
