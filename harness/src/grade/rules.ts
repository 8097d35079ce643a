/**
 * Grading rules, as pure functions: verdicts -> case outcome, cases -> requirement statuses,
 * requirement statuses -> the run's verdict (compliant / fully compliant / not compliant).
 *
 * The rules, in one place (documented for certificate readers):
 *
 * Case outcome from its verdicts (outcomeFromVerdicts), first match wins:
 *   1. no verdicts at all                      -> harness-error (a case must produce evidence)
 *   2. a `fail` verdict on a MUST requirement   -> fail   (an ID missing from the registry counts as MUST)
 *   3. (an `unknown` verdict does not decide the case: its requirement rolls up as not tested; the
 *      history could not decide, which is neither the subject's fault nor, by itself, the harness's)
 *   4. `fail` verdicts only on SHOULD/MAY       -> non-strict
 *   5. only `info` verdicts                     -> informational
 *   6. otherwise (pass, possibly with info)     -> pass
 *
 * Requirement status (rollupRequirements). Every case that cites the requirement (in its
 * `requirements` or in a verdict) casts one vote:
 *   - not-applicable case that only lacks cooperation (a probe, an endpoint, a test hook; its `needs`)
 *                                               -> unobservable
 *   - not-applicable case                       -> n/a
 *   - skipped / unsupported case                -> untested (it did not run / the subject cannot do it)
 *   - flaky case                                -> fail (a pass that needed a retry is not a pass)
 *   - crash case                                -> fail (the subject died while under test)
 *   - timeout / harness-error case              -> fail if it has a `fail` verdict for the requirement,
 *                                                  else undecided (its `pass` verdicts are not trusted)
 *   - other cases, from their verdicts for the requirement: any fail -> fail; any unknown that names
 *     nothing that would make it observable -> undecided; any pass -> pass; an unknown that names what
 *     would make it observable (`needs`: a probe, an endpoint) -> unobservable; only info -> info; no
 *     verdict for it -> undecided
 * and the status is:
 *   - the manifest excludes it (e.g. `stateless`: nothing to persist), no fail vote -> not-applicable
 *   - no votes                                   -> not-tested
 *   - any fail vote                              -> fail (MUST) / non-strict (SHOULD, MAY)
 *   - only n/a votes                             -> not-applicable
 *   - only n/a and unobservable votes            -> not-observable (with what would make it testable)
 *   - any untested or undecided vote (n/a aside) -> not-tested
 *   - any pass vote                              -> pass (unobservable votes aside: tested where observable)
 *   - only info votes                            -> informational
 *
 * Run verdict (computeVerdict):
 *   - compliant: no MUST requirement is fail; every applicable MUST is pass (a MUST that is
 *     not-tested or only informational is listed in `untestedMust` and breaks compliance);
 *     no case with outcome harness-error / timeout / crash / flaky cites a MUST requirement
 *     (or an ID missing from the registry). not-applicable and not-observable requirements are excluded;
 *     when a MUST or SHOULD is not-observable the verdict names its scope (black-box scope: what was
 *     tested and what would need cooperation), e.g. `compliant (black-box scope: 15 MUST tested, 24 not
 *     observable without a probe or endpoints)`.
 *   - fully compliant: compliant, and every applicable SHOULD requirement is pass.
 *   - MAY requirements never affect the verdict (their failures show in the requirement table).
 */

import type {
  CaseResult,
  ReportVerdict,
  RequirementInfo,
  RequirementRollup,
  RequirementStatus,
} from '../report/model.js';
import type { Level, Manifest, Outcome, Verdict } from '../types.js';
import { mapExclusions } from './signals.js';

/** Outcomes that break compliance when the case cites a MUST requirement. */
const BLOCKING_OUTCOMES: ReadonlySet<Outcome> = new Set(['harness-error', 'timeout', 'crash', 'flaky']);

function levelOf(levels: ReadonlyMap<string, Level>, id: string): Level {
  return levels.get(id) ?? 'MUST';
}

/** A case's outcome from its verdicts (rules at the top of this file). */
export function outcomeFromVerdicts(verdicts: readonly Verdict[], levels: ReadonlyMap<string, Level>): Outcome {
  if (verdicts.length === 0) return 'harness-error';
  const fails = verdicts.filter((v) => v.status === 'fail');
  if (fails.some((v) => levelOf(levels, v.requirement) === 'MUST')) return 'fail';
  if (fails.length > 0) return 'non-strict';
  if (verdicts.every((v) => v.status === 'info' || v.status === 'unknown')) return 'informational';
  return 'pass';
}

/** The requirement IDs a case touches: the ones it declares plus the ones its verdicts judge. */
export function citedRequirements(c: CaseResult): string[] {
  const ids = new Set(c.requirements);
  for (const v of c.verdicts) ids.add(v.requirement);
  return [...ids];
}

type Vote = 'pass' | 'fail' | 'info' | 'na' | 'unobservable' | 'untested' | 'undecided';

function voteOf(c: CaseResult, requirement: string): Vote {
  const mine = c.verdicts.filter((v) => v.requirement === requirement);
  switch (c.outcome) {
    case 'not-applicable':
      return c.needs && c.needs.length > 0 ? 'unobservable' : 'na';
    case 'skipped':
    case 'unsupported':
      return 'untested';
    case 'flaky':
      return 'fail';
    case 'crash':
    case 'timeout':
    case 'harness-error':
      return mine.some((v) => v.status === 'fail') ? 'fail' : 'undecided';
    default:
      if (mine.some((v) => v.status === 'fail')) return 'fail';
      if (mine.some((v) => v.status === 'unknown' && !v.needs?.length)) return 'undecided';
      if (mine.some((v) => v.status === 'pass')) return 'pass';
      if (mine.some((v) => v.status === 'unknown')) return 'unobservable';
      if (mine.length > 0) return 'info';
      return 'undecided';
  }
}

function statusOf(level: Level, votes: readonly Vote[], excluded: boolean): RequirementStatus {
  if (votes.includes('fail')) return level === 'MUST' ? 'fail' : 'non-strict';
  if (excluded) return 'not-applicable';
  if (votes.length === 0) return 'not-tested';
  const ran = votes.filter((v) => v !== 'na');
  if (ran.length === 0) return 'not-applicable';
  if (ran.every((v) => v === 'unobservable')) return 'not-observable';
  if (ran.includes('untested') || ran.includes('undecided')) return 'not-tested';
  if (ran.includes('pass')) return 'pass';
  return 'informational';
}

/** What cooperation would make a requirement observable: the union of its unobservable votes' `needs`. */
function needsOf(cases: readonly CaseResult[], requirement: string): string[] {
  const needs = new Set<string>();
  for (const c of cases) {
    if (c.outcome === 'not-applicable') for (const n of c.needs ?? []) needs.add(n);
    for (const v of c.verdicts)
      if (v.requirement === requirement && v.status === 'unknown') for (const n of v.needs ?? []) needs.add(n);
  }
  return [...needs].sort();
}

/**
 * One rollup per registry requirement, in registry order (rules at the top of this file). `excluded`:
 * requirements the manifest's own declarations rule out (`manifestExclusions`).
 */
export function rollupRequirements(
  cases: readonly CaseResult[],
  requirements: readonly RequirementInfo[],
  excluded: ReadonlySet<string> = new Set(),
): RequirementRollup[] {
  const byRequirement = new Map<string, CaseResult[]>();
  for (const c of cases) {
    for (const id of citedRequirements(c)) {
      const list = byRequirement.get(id);
      if (list) list.push(c);
      else byRequirement.set(id, [c]);
    }
  }
  return requirements.map((r) => {
    const touching = byRequirement.get(r.id) ?? [];
    const votes = touching.map((c) => voteOf(c, r.id));
    const failures = touching.filter((_, i) => votes[i] === 'fail').map((c) => c.id);
    const status = statusOf(r.level, votes, excluded.has(r.id));
    return {
      id: r.id,
      level: r.level,
      title: r.title,
      status,
      cases: unique(touching.map((c) => c.id)),
      failures: unique(failures),
      ...(status === 'not-observable'
        ? {
            needs: needsOf(
              touching.filter((_, i) => votes[i] === 'unobservable'),
              r.id,
            ),
          }
        : {}),
    };
  });
}

/** The run's verdict from the requirement rollups and the cases (rules at the top of this file). */
export function computeVerdict(rollups: readonly RequirementRollup[], cases: readonly CaseResult[]): ReportVerdict {
  const levels = new Map(rollups.map((r) => [r.id, r.level] as const));
  const inScope = (r: RequirementRollup) => r.status !== 'not-applicable' && r.status !== 'not-observable';
  const must = rollups.filter((r) => r.level === 'MUST' && inScope(r));
  const should = rollups.filter((r) => r.level === 'SHOULD' && inScope(r));
  const notObservable = rollups.filter((r) => r.status === 'not-observable' && r.level !== 'MAY');

  const mustFailures = must.filter((r) => r.status === 'fail' || r.status === 'non-strict').map((r) => r.id);
  const untestedMust = must.filter((r) => r.status === 'not-tested' || r.status === 'informational').map((r) => r.id);
  const shouldFailures = should.filter((r) => r.status === 'fail' || r.status === 'non-strict').map((r) => r.id);
  const harnessErrors = cases.filter((c) => c.outcome === 'harness-error').length;

  const blockingCase = cases.some(
    (c) => BLOCKING_OUTCOMES.has(c.outcome) && citedRequirements(c).some((id) => levelOf(levels, id) === 'MUST'),
  );

  const compliant =
    mustFailures.length === 0 && untestedMust.length === 0 && !blockingCase && must.every((r) => r.status === 'pass');
  const fullyCompliant = compliant && should.every((r) => r.status === 'pass');
  const out: ReportVerdict = {
    compliant,
    fullyCompliant,
    label: fullyCompliant ? 'fully compliant' : compliant ? 'compliant' : 'not compliant',
    mustFailures,
    shouldFailures,
    untestedMust,
    harnessErrors,
  };
  if (notObservable.length > 0) {
    out.scope = {
      kind: 'black-box',
      mustTested: must.filter((r) => r.status === 'pass' || r.status === 'fail' || r.status === 'non-strict').length,
      notObservableMust: notObservable.filter((r) => r.level === 'MUST').map((r) => r.id),
      notObservableShould: notObservable.filter((r) => r.level === 'SHOULD').map((r) => r.id),
      needs: countNeeds(notObservable),
    };
  }
  return out;
}

/** How many not-observable MUST/SHOULD requirements each kind of cooperation would make testable. */
function countNeeds(rollups: readonly RequirementRollup[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rollups) for (const n of r.needs ?? []) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/**
 * Requirements a manifest's own declarations rule out: `stateless` (nothing to persist at a stop), and
 * the requirements named after a signal whose meaning the declared map does not keep (spec 4.2).
 */
export function manifestExclusions(
  m: Partial<Pick<Manifest, 'capabilities' | 'signals' | 'signalsRepeat'>>,
): Set<string> {
  const out = new Set<string>(m.capabilities?.stateless === true ? STATELESS_EXCLUDES : []);
  if (m.signals)
    for (const id of mapExclusions({ signals: m.signals, signalsRepeat: m.signalsRepeat ?? {} })) out.add(id);
  return out;
}

/** What a server that keeps no state is not asked for. */
export const STATELESS_EXCLUDES: readonly string[] = ['STOP.PERSIST_ALL_PATHS', 'START.STOP_PERSISTS'];

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
