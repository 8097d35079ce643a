/**
 * Requirements named after a signal (SIG.HUP.NEVER_FATAL, SIG.HUP.RELOAD, SIG.QUIT.FAST…) are graded
 * only where the declared map keeps that signal's meaning (spec 4.2, E38).
 */
import { signalFor } from '../case.js';
import type { Action, Manifest, Verdict } from '../types.js';

/**
 * Verdicts on a requirement named after `sig` that a case judged by sending the signal the map gives
 * `action`: kept only when that signal is `sig` itself, so a reload through SIGUSR1 is never reported
 * as evidence about SIGHUP.
 */
export function throughSignal(m: Manifest, sig: string, action: Action, vs: Verdict[]): Verdict[] {
  return signalFor(m, action) === sig ? vs : [];
}
