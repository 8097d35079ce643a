/**
 * Exit status: how a launch ended, against what the spec and the manifest require of the stop path it
 * took. One description of an exit and one matcher, used by every verifier.
 */
import type { ExitCodeSpec, ExitInfo, HistoryEvent, Verdict } from '../types.js';
import { exitOf } from './facts.js';
import { verdict } from './verdict.js';

/** An exit in words, for verdicts and for the launcher's errors: `exit 2`, `killed by SIGKILL`. */
export function describeExit(x: Pick<ExitInfo, 'code' | 'signal'> | null): string {
  if (!x) return 'still running when the case ended (the harness had to stop it)';
  return x.signal ? `killed by ${x.signal}` : `exit ${x.code}`;
}

export function describeSpec(spec: ExitCodeSpec): string {
  return spec === 'signal' ? 'death by the re-raised signal' : `exit ${spec}`;
}

/** Whether an exit matches a declared exit code (`signal`: death by `stopSignal`, when given). */
export function exitMatches(x: ExitInfo | null, spec: ExitCodeSpec, stopSignal?: string): boolean {
  if (!x) return false;
  if (spec === 'signal') return x.signal !== null && (stopSignal === undefined || x.signal === stopSignal);
  return x.signal === null && x.code === spec;
}

/** STOP.EXIT_ZERO: a graceful stop ends with exit 0, whatever the manifest declares. */
export function verifyExitZero(events: readonly HistoryEvent[], launch = 0): Verdict {
  const x = exitOf(events, launch);
  return verdict('STOP.EXIT_ZERO', exitMatches(x, 0), 'the graceful stop ends with exit 0', describeExit(x));
}
