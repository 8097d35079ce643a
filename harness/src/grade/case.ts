/**
 * From one stored history to a case's outcome. Everything the runner decided (timeout, error, an
 * unsupported signal, an interruption, not-applicable, the attempt number) is an event of the history,
 * so this function is all there is to grading: the runner and `sigcert analyze` both call it.
 *
 * Order of the rules (first match wins):
 *   1. `not-applicable` / `skipped` event      -> that outcome, with its reason
 *   2. `interrupted` event                     -> skipped: an interrupted case is never graded
 *   3. `case-timeout` event                    -> timeout
 *   4. `case-error` of kind `unsupported`      -> unsupported
 *   5. `case-error` otherwise                  -> crash when a launch died unexpectedly; else, when the
 *      subject did not do what the case waited for (kind `subject`), a failure of the requirement it
 *      violates (the case's `stalls`, else its first requirement) with the message as evidence; else,
 *      when a launch had exited with no stop asked of it before the error (the case then failed to reach
 *      it), a failure of the requirement that exit violates (SIG.MAP.DECLARED after a signal whose action
 *      does not end the process, CONTROL.EQUIVALENT after such a control request, else as for `subject`);
 *      else, when a launch the case asked for exited before it was ready (kind `launch`; not over a port
 *      in use, not under the harness's wrapper), a failure of the case's `launchFault` requirement (else
 *      as for `subject`); else harness-error
 *   6. the case's own grader, plus the always-on process checks (crash signal, orphans); a verdict on a
 *      requirement the case does not declare is a harness error (a bug of the case)
 */
import type { CaseDef, GradeInput } from '../case.js';
import { requirementLevels } from '../spec.js';
import type { HistoryEvent, Outcome, Verdict } from '../types.js';
import {
  ALWAYS_ON,
  crashVerdicts,
  describeUnrequestedExit,
  orphanVerdicts,
  unexpectedDeaths,
  unrequestedExitRequirement,
  unrequestedExits,
} from './process.js';
import { outcomeFromVerdicts } from './rules.js';
import { type RequirementId, verdict } from './verdict.js';

export interface Graded {
  outcome: Outcome;
  reason?: string;
  /** a not-applicable case that only lacked cooperation: what would make it observable */
  needs?: string[];
  verdicts: Verdict[];
  metrics: Record<string, number>;
}

function harnessEvent(events: readonly HistoryEvent[], kind: string): HistoryEvent | undefined {
  return events.find((e) => e.source === 'harness' && e.kind === kind);
}

function graded(outcome: Outcome, reason: string | undefined, verdicts: Verdict[] = []): Graded {
  const metrics: Record<string, number> = {};
  for (const v of verdicts) for (const [k, n] of Object.entries(v.metrics ?? {})) metrics[k] = n;
  return reason === undefined ? { outcome, verdicts, metrics } : { outcome, reason, verdicts, metrics };
}

/**
 * A launch error inside a case that is the subject's: it exited before it was ready. Not when it lost a
 * port (its output says an address was in use: another process, or the TIME_WAIT of its own previous
 * launch on the same port), not when it ran under the harness's wrapper (which may be what failed), and
 * not a launch that was only slow to get ready (the machine may be loaded by the run itself).
 */
function subjectLaunchFault(error: HistoryEvent): boolean {
  return error.data.launchKind === 'exited' && error.data.addressInUse !== true && error.data.wrapped !== true;
}

export function gradeCase(c: CaseDef, input: GradeInput): Graded {
  const { events, manifest } = input;
  for (const kind of ['not-applicable', 'skipped'] as const) {
    const e = harnessEvent(events, kind);
    if (e) {
      const g = graded(kind, String(e.data.reason));
      if (kind === 'not-applicable' && Array.isArray(e.data.needs)) g.needs = e.data.needs.map(String);
      return g;
    }
  }
  if (harnessEvent(events, 'interrupted')) return graded('skipped', 'interrupted while running (not graded)');
  const timeout = harnessEvent(events, 'case-timeout');
  if (timeout) return graded('timeout', `case did not finish within ${String(timeout.data.budgetMs)} ms`);
  const error = harnessEvent(events, 'case-error');
  if (error?.data.kind === 'unsupported') return graded('unsupported', String(error.data.error));
  if (error) {
    const msg = String(error.data.error);
    const reason = error.data.kind === 'launch' ? `the subject could not be launched: ${msg}` : `harness error: ${msg}`;
    // a death the case already observed stays a crash (PROC.NO_CRASH_SIGNAL), whatever the run did next
    const deaths = unexpectedDeaths(events, manifest);
    if (deaths.length > 0) {
      return graded(
        'crash',
        `${deaths.map((d) => `died by ${d.signal}`).join('; ')} (then: ${reason})`,
        crashVerdicts(deaths),
      );
    }
    if (error.data.kind === 'subject') {
      const id = (error.data.requirement as RequirementId | undefined) ?? c.stalls ?? c.requirements[0];
      if (id) {
        const v = verdict(id, false, 'the subject reaches each phase the case waits for', `the subject ${msg}`);
        const verdicts = [v, ...orphanVerdicts(events)];
        return graded(outcomeFromVerdicts(verdicts, requirementLevels()), `${id}: the subject ${msg}`, verdicts);
      }
    }
    // A start the case asked for (a relaunch on the subject's own state, a configuration or fault of the
    // case) that exited or never became ready: the preflight proved the subject starts, so this is its
    // failure under the case's conditions. Not a port lost to another process (EADDRINUSE): that race is
    // no one's fault here, and stays a harness error.
    if (error.data.kind === 'launch' && subjectLaunchFault(error)) {
      const id = c.launchFault ?? c.stalls ?? c.requirements[0];
      if (id) {
        const actual = `the subject did not start for this case: ${msg}`;
        const verdicts = [
          verdict(id, false, 'the subject starts under the conditions of the case', actual),
          ...orphanVerdicts(events),
        ];
        return graded(outcomeFromVerdicts(verdicts, requirementLevels()), `${id}: ${actual}`, verdicts);
      }
    }
    // the case could not go on because the subject had already gone, unasked: the subject's fault
    const gone = error.data.kind === 'harness' ? unrequestedExits(events, manifest)[0] : undefined;
    const fallback = c.stalls ?? c.requirements[0];
    if (gone && fallback) {
      const id = unrequestedExitRequirement(gone, fallback);
      const actual = `${describeUnrequestedExit(gone)}; then the case could not go on: ${msg}`;
      const verdicts = [
        verdict(id, false, 'the subject ends only when a stop is asked of it', actual),
        ...orphanVerdicts(events),
      ];
      return graded(outcomeFromVerdicts(verdicts, requirementLevels()), `${id}: ${actual}`, verdicts);
    }
    return graded('harness-error', reason);
  }

  let verdicts: Verdict[];
  try {
    verdicts = c.grade(input);
  } catch (e) {
    return graded('harness-error', `grader failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const declared = new Set<string>([...c.requirements, ...(c.alsoJudges ?? []), ...ALWAYS_ON]);
  const undeclared = verdicts.filter((v) => !declared.has(v.requirement)).map((v) => v.requirement);
  if (undeclared.length > 0) {
    return graded(
      'harness-error',
      `the case judged requirements it does not declare: ${[...new Set(undeclared)].join(', ')}`,
    );
  }
  const deaths = unexpectedDeaths(events, manifest);
  verdicts.push(...crashVerdicts(deaths), ...orphanVerdicts(events));
  const outcome = outcomeFromVerdicts(verdicts, requirementLevels());
  if (deaths.length) return graded('crash', deaths.map((d) => `died by ${d.signal}`).join('; '), verdicts);
  const f = outcome === 'fail' || outcome === 'non-strict' ? verdicts.find((v) => v.status === 'fail') : undefined;
  return graded(outcome, f ? `${f.requirement}: ${f.actual}` : undefined, verdicts);
}
