/**
 * The figures a matrix compares across subjects (time to refuse, stop-to-exit times, handler
 * latency), read from a subject's report: its case metrics, its latency table, or its timelines.
 */
import type { CaseResult, Report } from '../report/index.js';
import type { SubjectMetrics } from './model.js';

function caseOf(report: Report, id: string): CaseResult | undefined {
  return report.cases.find((c) => c.id === id);
}

function metric(report: Report, caseId: string, name: string): number | undefined {
  const c = caseOf(report, caseId);
  if (!c || c.outcome === 'not-applicable' || c.outcome === 'skipped') return undefined;
  const v = c.metrics[name];
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** Signal sent to exit of launch 0, from a case's timeline (milliseconds), when both are in it. */
function signalToExit(report: Report, caseId: string): number | undefined {
  const c = caseOf(report, caseId);
  if (!c || c.outcome === 'not-applicable' || c.outcome === 'skipped') return undefined;
  const teardown = c.timeline.find((e) => e.source === 'harness' && e.kind === 'teardown-begin');
  const send = c.timeline.find((e) => e.source === 'harness' && e.kind === 'signal-sent' && (e.launch ?? 0) === 0);
  const exit = c.timeline.find((e) => e.source === 'process' && e.kind === 'exit' && (e.launch ?? 0) === 0);
  if (!send || !exit) return undefined;
  if (teardown && BigInt(exit.ns) > BigInt(teardown.ns)) return undefined; // the harness had to stop it
  return Number(BigInt(exit.ns) - BigInt(send.ns)) / 1e6;
}

function latencyOf(report: Report, requirement: string): { p50: number; p99: number; n: number } | undefined {
  const row = report.latency?.find((l) => l.requirement === requirement);
  return row ? { p50: row.p50, p99: row.p99, n: row.n } : undefined;
}

export function metricsOf(report: Report): SubjectMetrics {
  const m: SubjectMetrics = {};
  const set = <K extends keyof SubjectMetrics>(k: K, v: SubjectMetrics[K] | undefined) => {
    if (v !== undefined) m[k] = v;
  };
  set('timeToRefuseMs', metric(report, 'stop.new-connections-refused', 'timeToRefuseMs'));
  set('idleStopExitMs', metric(report, 'stop.idle', 'timeToExitMs') ?? signalToExit(report, 'stop.idle'));
  set('fastStopExitMs', metric(report, 'signals.fast-stop', 'timeToExitMs'));
  set('secondIntExitMs', metric(report, 'repeat.int-int', 'fastStopMs'));
  set('deadlineExitMs', metric(report, 'stop.deadline', 'timeToExitMs'));
  set('handlerIdle', latencyOf(report, 'LATENCY.IDLE'));
  set('handlerLoad', latencyOf(report, 'LATENCY.LOAD'));
  return m;
}
