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

/**
 * Requirements named after a signal and the meaning they give it. Where the declared map gives that
 * signal another meaning, or none, the requirement does not apply (spec 4.2): a subject that declares
 * only SIGTERM, SIGINT and SIGHUP is not asked what SIGQUIT does. (SIG.HUP.NEVER_FATAL and
 * SIG.PIPE.IGNORED apply to every subject: an undeclared SIGHUP must not kill it either.)
 */
export const SIGNAL_NAMED: Readonly<Record<string, { sig: string; action: Action; repeat?: true }>> = {
  'SIG.TERM.GRACEFUL': { sig: 'SIGTERM', action: 'stop' },
  'SIG.INT.GRACEFUL': { sig: 'SIGINT', action: 'stop' },
  'SIG.INT.SECOND_FAST': { sig: 'SIGINT', action: 'fast-stop', repeat: true },
  'SIG.QUIT.FAST': { sig: 'SIGQUIT', action: 'fast-stop' },
  'SIG.HUP.RELOAD': { sig: 'SIGHUP', action: 'reload' },
  'SIG.USR1.REOPEN_LOGS': { sig: 'SIGUSR1', action: 'reopen-logs' },
  'SIG.USR2.RESTART': { sig: 'SIGUSR2', action: 'restart' },
};

/** The signal-named requirements the declared map does not keep the meaning of. */
export function mapExclusions(m: Pick<Manifest, 'signals' | 'signalsRepeat'>): string[] {
  return Object.entries(SIGNAL_NAMED)
    .filter(([, d]) => (d.repeat ? m.signalsRepeat[d.sig] : m.signals[d.sig]) !== d.action)
    .map(([id]) => id);
}
