/**
 * One way from a stored history to a CaseResult, used by the runner and by `sigcert analyze`: the
 * case's identity and attempt come from the history's own events, the outcome from gradeCase, the
 * timeline excerpt from one trimming policy, and retried attempts combine by one rule.
 */
import type { CaseDef } from '../case.js';
import { type CaseResult, MAX_TIMELINE_EVENTS, MAX_TIMELINE_SAMPLES } from '../report/model.js';
import type { HistoryEvent, Manifest } from '../types.js';
import { gradeCase } from './case.js';

/** Written by the runner as the first event of every history. */
export interface AttemptData {
  case: string;
  attempt: number;
  repeat?: number;
}

export function attemptOf(events: readonly HistoryEvent[]): AttemptData | null {
  const e = events.find((x) => x.source === 'harness' && x.kind === 'attempt');
  if (!e) return null;
  const d = e.data as Partial<AttemptData>;
  return {
    case: String(d.case),
    attempt: Number(d.attempt ?? 1),
    ...(d.repeat !== undefined ? { repeat: Number(d.repeat) } : {}),
  };
}

/** The case's wall time as the runner recorded it (`case-end`), 0 when it never ran. */
function durationOf(events: readonly HistoryEvent[]): number {
  const e = events.find((x) => x.source === 'harness' && x.kind === 'case-end');
  return e ? Number(e.data.durationMs ?? 0) : 0;
}

/** The excerpt kept in the report: the first and last events, plus every latency sample (histograms). */
export function trimTimeline(events: readonly HistoryEvent[]): HistoryEvent[] {
  if (events.length <= MAX_TIMELINE_EVENTS) return [...events];
  const half = MAX_TIMELINE_EVENTS / 2;
  const kept = new Set([...events.slice(0, half), ...events.slice(-half)]);
  let samples = 0;
  for (const e of events)
    if (e.source === 'case' && e.kind === 'sample' && samples++ < MAX_TIMELINE_SAMPLES) kept.add(e);
  return events.filter((e) => kept.has(e));
}

/** Grade one attempt's history (sorted events) into a CaseResult. */
export function caseResult(c: CaseDef, events: HistoryEvent[], manifest: Manifest, runDir?: string): CaseResult {
  const a = attemptOf(events);
  const ran = events.some((e) => e.source === 'harness' && e.kind === 'case-end');
  return {
    id: c.id,
    title: c.title,
    requirements: [...c.requirements],
    edgeCases: c.edgeCases ?? [],
    durationMs: durationOf(events),
    attempts: ran ? (a?.attempt ?? 1) : 0,
    timeline: ran ? trimTimeline(events) : [],
    ...(runDir !== undefined && ran ? { runDir } : {}),
    ...(a?.repeat !== undefined ? { repeat: a.repeat } : {}),
    ...gradeCase(c, { events, manifest }),
  };
}

/**
 * The result of a case from its attempts, in order: the last attempt decides; a pass that needed a
 * retry is `flaky`, never `pass`.
 */
export function combineAttempts(attempts: readonly CaseResult[]): CaseResult {
  if (attempts.length === 0) throw new RangeError('combineAttempts: no attempts');
  const last = attempts[attempts.length - 1]!;
  if (attempts.length > 1 && last.outcome === 'pass') {
    const first = attempts[0]!;
    return {
      ...last,
      outcome: 'flaky',
      reason: `passed on attempt ${last.attempts}; first attempt: ${first.outcome} (${first.reason ?? ''})`,
    };
  }
  return last;
}

/** Report order: shared cases by id then repeat, then the exclusive (measurement) cases. */
export function compareResults(exclusive: (id: string) => boolean): (a: CaseResult, b: CaseResult) => number {
  return (a, b) =>
    Number(exclusive(a.id)) - Number(exclusive(b.id)) || a.id.localeCompare(b.id) || (a.repeat ?? 0) - (b.repeat ?? 0);
}
