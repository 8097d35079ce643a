/**
 * What every renderer says about an outcome, a requirement status, a case and a run: the symbol and
 * label of each outcome, one tone per outcome and status (the console maps a tone to a colour, the
 * HTML page to a class), and the shared sentences (a case's short reason, the counts line, the
 * VERDICT line). The renderers read them here; none imports another. Wording only: every judgement
 * comes from the report.
 */

import { COOPERATION_CAPABILITIES } from '../case.js';
import { citedRequirements } from '../grade/rules.js';
import { expectedHere } from '../grade/verdict.js';
import type { Outcome, Verdict } from '../types.js';
import { type CaseResult, type NotStarted, OUTCOMES, type Report, type RequirementStatus } from './model.js';

/** good: pass; bad: a failure of the subject; warn: not fully met; error: the harness's own fault. */
export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'muted' | 'error';

export const OUTCOME_LABELS: Record<Outcome, { symbol: string; label: string; tone: Tone }> = {
  pass: { symbol: '✔', label: 'PASS', tone: 'good' },
  fail: { symbol: '✘', label: 'FAIL', tone: 'bad' },
  'non-strict': { symbol: '!', label: 'NON-STRICT', tone: 'warn' },
  informational: { symbol: 'i', label: 'INFO', tone: 'info' },
  flaky: { symbol: '!', label: 'FLAKY', tone: 'warn' },
  timeout: { symbol: '✘', label: 'TIMEOUT', tone: 'bad' },
  crash: { symbol: '✘', label: 'CRASH', tone: 'bad' },
  'harness-error': { symbol: '✘', label: 'HARNESS-ERROR', tone: 'error' },
  unsupported: { symbol: '?', label: 'UNSUPPORTED', tone: 'muted' },
  'not-applicable': { symbol: '-', label: 'N/A', tone: 'muted' },
  skipped: { symbol: '○', label: 'SKIPPED', tone: 'muted' },
};

export const STATUS_TONE: Record<RequirementStatus, Tone> = {
  pass: 'good',
  fail: 'bad',
  'non-strict': 'warn',
  'not-tested': 'warn',
  'not-observable': 'muted',
  'not-applicable': 'muted',
  informational: 'info',
};

export const VERDICT_STATUS_TONE: Record<Verdict['status'], Tone> = {
  pass: 'good',
  fail: 'bad',
  unknown: 'error',
  info: 'info',
};

/** One-character symbol for an outcome (✔ ✘ ! i ? - ○). */
export function outcomeSymbol(outcome: Outcome): string {
  return OUTCOME_LABELS[outcome].symbol;
}

/** Upper-case label for an outcome (PASS, FAIL, NON-STRICT, N/A...). */
export function outcomeLabel(outcome: Outcome): string {
  return OUTCOME_LABELS[outcome].label;
}

/** A case's id, with `#<repeat>` when the run repeated it. */
export function caseName(c: CaseResult): string {
  return c.repeat !== undefined ? `${c.id} #${c.repeat}` : c.id;
}

/** Why a case did not pass, in one short line (empty for pass / informational). */
export function shortReason(c: CaseResult): string {
  switch (c.outcome) {
    case 'pass':
    case 'informational':
      return '';
    case 'flaky':
      return `passed only after ${c.attempts} attempts${c.reason ? `: ${c.reason}` : ''}`;
    default: {
      const failing = c.verdicts.filter((v) => v.status === 'fail');
      const first = failing[0];
      if ((c.outcome === 'fail' || c.outcome === 'non-strict') && first) {
        const more = failing.length > 1 ? ` (+${failing.length - 1} more)` : '';
        return `${first.requirement}: expected ${expectedHere(first.expected)}; actual ${first.actual}${more}`;
      }
      return c.reason ?? '';
    }
  }
}

/** Applicable and passed MUST / SHOULD counts, for the verdict line. */
export function complianceCounts(report: Report): {
  must: { passed: number; applicable: number };
  should: { passed: number; applicable: number };
} {
  const count = (level: 'MUST' | 'SHOULD') => {
    const applicable = report.requirements.filter(
      (r) => r.level === level && r.status !== 'not-applicable' && r.status !== 'not-observable',
    );
    return { passed: applicable.filter((r) => r.status === 'pass').length, applicable: applicable.length };
  };
  return { must: count('MUST'), should: count('SHOULD') };
}

/** Requirement IDs for the verdict line; long lists end in `+N more` (the JSON report has them all). */
const VERDICT_IDS_MAX = 10;
function idList(ids: readonly string[]): string {
  if (ids.length <= VERDICT_IDS_MAX) return ids.join(', ');
  return `${ids.slice(0, VERDICT_IDS_MAX).join(', ')}, +${ids.length - VERDICT_IDS_MAX} more`;
}

/** What a need is called in the verdict line: `probe`, `/hold`, `slowStartup hook`, `log file`. */
function needLabel(need: string): string {
  if (need === 'probe' || need === 'notify') return need;
  // the other cooperation capabilities are test hooks (slowStartup, slowBind, faultInjection, slowStore)
  if ((COOPERATION_CAPABILITIES as readonly string[]).includes(need)) return `${need} hook`;
  if (need === 'logFile') return 'log file';
  return `/${need}`;
}

/**
 * What a verdict that covers only what a black box shows leaves out, and what would make it testable,
 * e.g. `24 more need cooperation: probe 20, /hold 6`.
 */
export function scopeText(scope: NonNullable<Report['verdict']['scope']>): string {
  const n = scope.notObservableMust.length + scope.notObservableShould.length;
  const needs = Object.entries(scope.needs)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, c]) => `${needLabel(k)} ${c}`)
    .join(', ');
  return `${n} more need cooperation: ${needs}`;
}

/**
 * The final line, e.g. `VERDICT: fully compliant (54/54 MUST, 12/12 SHOULD)`,
 * `VERDICT: compliant (black-box scope: 15/15 MUST, 1/1 SHOULD; 24 more need cooperation: probe 20, /hold 6)` or
 * `VERDICT: not compliant — 3 MUST failed: A, B, C; 1 MUST not tested: D (50/54 MUST, 12/12 SHOULD)`.
 */
export function verdictLine(report: Report): string {
  const v = report.verdict;
  const { must, should } = complianceCounts(report);
  const counted = `${must.passed}/${must.applicable} MUST, ${should.passed}/${should.applicable} SHOULD`;
  const tally = v.scope ? `(${v.scope.kind} scope: ${counted}; ${scopeText(v.scope)})` : `(${counted})`;
  const bailed = typeof report.options.bailedAfter === 'string' ? report.options.bailedAfter : undefined;
  const partial = report.partial
    ? ' [partial run: interrupted]'
    : bailed
      ? ` [stopped after ${bailed} (--bail): not a certificate]`
      : '';
  if (v.notStarted) return `VERDICT: not certified — ${notStartedText(v.notStarted)}; no case ran`;
  if (v.label === 'fully compliant') return `VERDICT: fully compliant ${tally}${partial}`;
  if (v.label === 'compliant') {
    const unmet = report.requirements
      .filter(
        (r) =>
          r.level === 'SHOULD' && r.status !== 'pass' && r.status !== 'not-applicable' && r.status !== 'not-observable',
      )
      .map((r) => r.id);
    const detail = unmet.length > 0 ? ` — ${unmet.length} SHOULD not met: ${idList(unmet)}` : '';
    return `VERDICT: compliant ${tally}${detail}${partial}`;
  }
  const clauses: string[] = [];
  if (v.mustFailures.length > 0) clauses.push(`${v.mustFailures.length} MUST failed: ${idList(v.mustFailures)}`);
  if (v.untestedMust.length > 0) clauses.push(`${v.untestedMust.length} MUST not tested: ${idList(v.untestedMust)}`);
  const levels = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const blocking = report.cases.filter(
    (c) =>
      ['timeout', 'crash', 'flaky'].includes(c.outcome) &&
      citedRequirements(c).some((id) => (levels.get(id) ?? 'MUST') === 'MUST'),
  ).length;
  if (v.harnessErrors > 0) clauses.push(`${v.harnessErrors} harness error${v.harnessErrors === 1 ? '' : 's'}`);
  if (blocking > 0) clauses.push(`${blocking} MUST case${blocking === 1 ? '' : 's'} timed out, crashed or flaked`);
  if (clauses.length === 0) clauses.push('MUST requirements not demonstrated');
  return `VERDICT: not compliant — ${clauses.join('; ')} ${tally}${partial}`;
}

/**
 * Why the subject did not start, in one line: the launcher's reason, then how it ended and the last line
 * of its stderr where the reason does not already say them.
 */
export function notStartedText(n: NotStarted): string {
  const parts = [`the subject did not start: ${n.reason}`];
  if (n.exit && !/\bexit|\bexited|\bsignal/.test(n.reason)) {
    parts.push(n.exit.signal ? `it died by ${n.exit.signal}` : `it exited with status ${n.exit.code}`);
  }
  if (n.stderrTail && !n.reason.includes(n.stderrTail)) parts.push(`its stderr ends: ${n.stderrTail}`);
  return parts.join('; ');
}

/** Non-zero counts in report order: `50 pass, 2 fail, 1 not-applicable`. */
export function countsLine(report: Report): string {
  const parts = OUTCOMES.filter((o) => report.summary.counts[o] > 0).map((o) => `${report.summary.counts[o]} ${o}`);
  return `${report.summary.total} case${report.summary.total === 1 ? '' : 's'}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}
