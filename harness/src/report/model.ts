/**
 * The canonical report: one JSON document per run, versioned (`reportVersion`), described by
 * spec/schema/report.schema.json. Every other format (console, JUnit, HTML) is rendered from it and
 * never re-judges: outcomes, requirement statuses and the verdict are computed once (rollup.ts).
 */
import type { HistoryEvent, Level, Outcome, Verdict } from '../types.js';

/** 1.1.0: the path x guarantee table (`paths`). */
export const REPORT_VERSION = '1.1.0' as const;

/** Longest timeline excerpt a case result may carry (the full history stays in its run folder). */
export const MAX_TIMELINE_EVENTS = 200;
/** Latency samples kept in a case's timeline on top of the excerpt, so histograms show every trial. */
export const MAX_TIMELINE_SAMPLES = 2000;

/** Every outcome, in the order reports list them. */
export const OUTCOMES = [
  'pass',
  'fail',
  'non-strict',
  'informational',
  'flaky',
  'timeout',
  'crash',
  'harness-error',
  'unsupported',
  'not-applicable',
  'skipped',
] as const satisfies readonly Outcome[];

// Compile-time guard: OUTCOMES lists every Outcome of types.ts.
type MissingOutcome = Exclude<Outcome, (typeof OUTCOMES)[number]>;
const outcomesComplete: [MissingOutcome] extends [never] ? true : MissingOutcome = true;
void outcomesComplete;

export interface CaseResult {
  id: string;
  title: string;
  /** what the case does and expects, for readers of the report (optional) */
  description?: string;
  requirements: string[];
  edgeCases: string[];
  outcome: Outcome;
  /** why: for not-applicable / skipped / unsupported / harness-error / timeout / crash / flaky */
  reason?: string;
  /**
   * not-applicable only because the subject does not cooperate (black-box scope): what would make the
   * case observable, e.g. `probe`, `hold` (an endpoint), `slowStartup`
   */
  needs?: string[];
  /** evidence: expected vs actual, metrics */
  verdicts: Verdict[];
  metrics: Record<string, number>;
  durationMs: number;
  /** > 1 when retried; a case that passed only after a retry is `flaky` */
  attempts: number;
  /** an excerpt (the runner trims it, at most MAX_TIMELINE_EVENTS events) */
  timeline: HistoryEvent[];
  /** where history.json / stdout.log / stderr.log were stored */
  runDir?: string;
  /** repeat index with --repeat */
  repeat?: number;
}

export type RequirementStatus =
  | 'pass'
  | 'fail'
  | 'non-strict'
  | 'not-tested'
  | 'not-observable'
  | 'not-applicable'
  | 'informational';

export interface RequirementRollup {
  id: string;
  level: Level;
  title: string;
  status: RequirementStatus;
  /** ids of the cases that cite the requirement (deduplicated, in report order) */
  cases: string[];
  /** ids of the cases that failed it (fail, non-strict, flaky or crash) */
  failures: string[];
  /** not-observable: what cooperation would make it testable (`probe`, an endpoint name, ...) */
  needs?: string[];
}

/** The part of a registry entry (spec/requirements.json) the report needs. */
export interface RequirementInfo {
  id: string;
  level: Level;
  title: string;
}

export interface LatencyTable {
  scenario: string;
  requirement: string;
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  budgetMs: number;
  unit: 'ms';
}

export type VerdictLabel = 'fully compliant' | 'compliant' | 'not compliant' | 'not certified';

/**
 * Why a run certified nothing: the subject did not start (it could not be spawned, exited, or never
 * became ready within its manifest's readiness timeout). The subject's or its manifest's fault, not the
 * harness's: no case ran, no requirement was judged.
 */
export interface NotStarted {
  /** the launcher's kind of failure: not-found, exited, not-ready, setup-failed, bad-manifest */
  kind: string;
  /** one line: what the launcher saw */
  reason: string;
  /** how the subject ended, when it did */
  exit?: { code: number | null; signal: string | null };
  /** the last non-empty line it wrote to stderr */
  stderrTail?: string;
}

export interface ReportVerdict {
  compliant: boolean;
  fullyCompliant: boolean;
  label: VerdictLabel;
  /** MUST requirements with status fail */
  mustFailures: string[];
  /** SHOULD requirements with status fail or non-strict */
  shouldFailures: string[];
  /** applicable MUST requirements that were not demonstrated (not-tested, or informational only) */
  untestedMust: string[];
  /** number of cases with outcome harness-error */
  harnessErrors: number;
  /** label `not certified`: the subject did not start, so no case ran */
  notStarted?: NotStarted;
  /**
   * present when some MUST or SHOULD could not be observed without cooperation (a probe, an endpoint,
   * a test hook): the verdict covers only what was observable, and says so
   */
  scope?: {
    kind: 'black-box';
    /** MUST requirements judged (pass or fail) */
    mustTested: number;
    notObservableMust: string[];
    notObservableShould: string[];
    /** per kind of cooperation (`probe`, an endpoint name, ...): how many of them it would make testable */
    needs: Record<string, number>;
  };
}

export interface ReportEnvironment {
  os: string;
  platform: string;
  release: string;
  arch: string;
  node: string;
  cpus: number;
  cpuModel: string;
  ci: boolean;
  hostname?: string;
}

export interface Report {
  reportVersion: typeof REPORT_VERSION;
  tool: { name: 'sigcert'; version: string };
  specVersion: string;
  /** ISO 8601 (UTC) */
  startedAt: string;
  durationMs: number;
  environment: ReportEnvironment;
  subject: { name: string; manifestFile: string; manifest: unknown };
  /** effective runner options: grep, shard, repeat, retries, timeoutScale, seed... */
  options: Record<string, unknown>;
  cases: CaseResult[];
  requirements: RequirementRollup[];
  summary: { counts: Record<Outcome, number>; total: number };
  verdict: ReportVerdict;
  latency?: LatencyTable[];
  /** the stop paths of the declared map against every guarantee (grade/paths.ts) */
  paths?: PathRow[];
  /** true when the run was interrupted (Ctrl-C) */
  partial?: boolean;
}

/** One stop path, one cell per guarantee: pass, fail, or n/a (does not apply, or not observable here). */
export interface PathRow {
  path: string;
  case: string;
  outcome: Outcome;
  guarantees: Record<string, 'pass' | 'fail' | 'n/a' | 'not-observable' | 'not-tested'>;
}
