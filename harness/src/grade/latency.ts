/**
 * Latency: percentiles (nearest rank, one definition for graders and reports) and the verifiers that
 * judge acknowledgement samples against a spec budget.
 */
import type { HistoryEvent, Verdict } from '../types.js';
import { notes, round } from './facts.js';
import { info, type RequirementId, verdict } from './verdict.js';

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentiles: the p-th percentile is the smallest sample such that at least p% of
 * the samples are <= it (rank = ceil(p/100 * n), 1-based). Throws on an empty or non-finite sample.
 */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) throw new RangeError('percentiles: no samples');
  if (samples.some((s) => !Number.isFinite(s))) throw new RangeError('percentiles: samples must be finite numbers');
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: number): number => sorted[Math.min(n, Math.max(1, Math.ceil((p * n) / 100))) - 1]!;
  return { n, p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1]! };
}

/** Grade `sample` notes against a budget on p99; also report every percentile. */
export function gradeLatency(
  events: readonly HistoryEvent[],
  requirement: RequirementId,
  budgetMs: number,
  what: string,
  minTrials: number,
): Verdict {
  const samples = notes(events, 'sample').map((n) => Number(n.ms));
  const lost = notes(events, 'lost').length + notes(events, 'ack-timeout').length;
  const detail = `${what}: p99 <= ${budgetMs} ms over >= ${minTrials} trials`;
  if (!samples.length) return verdict(requirement, false, detail, 'no acknowledgement was observed');
  const p = percentiles(samples);
  const m = { n: p.n, p50: round(p.p50), p90: round(p.p90), p99: round(p.p99), max: round(p.max), budgetMs };
  const actual = `n=${m.n} p50 ${m.p50} ms, p90 ${m.p90} ms, p99 ${m.p99} ms, max ${m.max} ms${lost ? `, ${lost} lost` : ''}`;
  const stoppedEarly = samples.length < minTrials && m.p99 > budgetMs;
  return verdict(
    requirement,
    m.p99 <= budgetMs && lost === 0 && (samples.length >= minTrials || stoppedEarly === false),
    detail,
    stoppedEarly ? `${actual} (stopped early: the budget was already exceeded)` : actual,
    m,
  );
}

/** LATENCY.WITHIN_GRACE over trial samples: the worst acknowledgement within the grace period. */
export function gradeWithinGrace(events: readonly HistoryEvent[], graceMs: number): Verdict {
  const samples = notes(events, 'sample').map((n) => Number(n.ms));
  const lost = notes(events, 'lost').length;
  const detail = `every acknowledgement within the grace period (${graceMs} ms)`;
  if (!samples.length) return info('LATENCY.WITHIN_GRACE', detail, 'no samples');
  const max = Math.max(...samples);
  return verdict(
    'LATENCY.WITHIN_GRACE',
    max <= graceMs && lost === 0,
    detail,
    `max ${round(max)} ms${lost ? `, ${lost} never acknowledged` : ''}`,
  );
}

/** LATENCY.WITHIN_GRACE for one acknowledgement (null: none was seen). */
export function verifyAckWithinGrace(latencyMs: number | null, graceMs: number): Verdict {
  return verdict(
    'LATENCY.WITHIN_GRACE',
    latencyMs !== null && latencyMs <= graceMs,
    `the signal is acknowledged within the grace period (${graceMs} ms)`,
    latencyMs === null ? 'no acknowledgement' : `acknowledged after ${latencyMs.toFixed(3)} ms`,
    latencyMs === null ? undefined : { handlerLatencyMs: latencyMs },
  );
}

/** A handler-latency budget for one acknowledgement (LATENCY.CPU_WORK, LATENCY.BLOCKING_IO…). */
export function verifyAckBudget(
  requirement: RequirementId,
  latencyMs: number | null,
  budgetMs: number,
  what: string,
): Verdict {
  return verdict(
    requirement,
    latencyMs !== null && latencyMs <= budgetMs,
    `the stop is acknowledged within ${budgetMs} ms ${what}`,
    latencyMs === null ? 'no acknowledgement' : `acknowledged after ${latencyMs.toFixed(3)} ms`,
    latencyMs === null ? undefined : { handlerLatencyMs: latencyMs },
  );
}
