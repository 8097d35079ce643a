/**
 * The shape of a conformance matrix: options, a subject folder's own matrix.json (installation
 * checks and notes), and the result written to matrix.json.
 */
import type { CaseDef } from '../case.js';
import type { environmentInfo, RequirementStatus } from '../report/index.js';
import type { Level, Outcome } from '../types.js';

export const MATRIX_VERSION = '1' as const;

export interface MatrixOptions {
  /** folder holding one folder per subject, each with a manifest.json */
  subjectsDir: string;
  /** where matrix.md, matrix.json and the per-subject reports go */
  outDir: string;
  /** cases in flight at once, over all subjects together (default 3) */
  concurrency?: number;
  /** multiply every deadline by this (slow machines) */
  timeoutScale?: number;
  /** subject folder names to certify (default: every folder with a manifest) */
  only?: string[];
  /** progress lines (default: none) */
  out?: (line: string) => void;
  /** only cases whose id or requirement IDs match (default: the whole catalog) */
  grep?: RegExp;
  /** leave out the cases whose id matches (e.g. a time-bounded run of the test suite) */
  exclude?: RegExp;
  /** replaces the catalog (tests) */
  cases?: CaseDef[];
  /** stop starting new cases once aborted */
  abort?: AbortSignal;
}

/** A note a subject folder keeps about one requirement (its matrix.json `notes`). */
export interface SubjectNote {
  kind: 'server' | 'harness';
  /** regular expression matched against the `actual` of the failing verdicts; absent: always applies */
  when?: string;
  text: string;
}

/** A subject folder's own matrix.json. */
export interface SubjectMatrixData {
  installed?: string[][];
  version?: string[];
  notes?: Record<string, SubjectNote[]>;
}

export type SubjectStatus = 'certified' | 'not-installed' | 'unsupported-platform' | 'error';

export interface SubjectMetrics {
  /** stop.new-connections-refused: first refused connect after the stop signal */
  timeToRefuseMs?: number;
  /** stop.idle: stop signal to exit, nothing in flight */
  idleStopExitMs?: number;
  /** signals.fast-stop: fast-stop signal to exit, a request in flight */
  fastStopExitMs?: number;
  /** repeat.int-int: second SIGINT to exit */
  secondIntExitMs?: number;
  /** stop.deadline: stop signal to exit with a request that outlives the grace period */
  deadlineExitMs?: number;
  /** handler latency (probe): idle and under load, p50 / p99 */
  handlerIdle?: { p50: number; p99: number; n: number };
  handlerLoad?: { p50: number; p99: number; n: number };
}

export interface MatrixSubject {
  /** folder name */
  name: string;
  status: SubjectStatus;
  /** why not certified (not installed, unsupported platform, error) */
  reason?: string;
  version?: string;
  description?: string;
  /** declared signal map and repeat map */
  signals?: Record<string, string>;
  signalsRepeat?: Record<string, string>;
  capabilities?: string[];
  /** verdict label of the report */
  verdict?: string;
  mustFailures?: string[];
  shouldFailures?: string[];
  untestedMust?: string[];
  counts?: Partial<Record<Outcome, number>>;
  /** cases with no outcome or with outcome harness-error, and schema problems of the report (a complete run has none) */
  harnessErrors?: string[];
  /** processes the harness's teardown left running (found by session, killed by the matrix): a harness bug */
  leaks?: string[];
  /** report.json, relative to outDir */
  reportFile?: string;
  durationMs?: number;
  metrics: SubjectMetrics;
}

export type MatrixCell = RequirementStatus | 'harness-misjudged' | 'not-installed' | 'error';

export interface MatrixRow {
  id: string;
  level: Level;
  title: string;
  cells: Record<string, MatrixCell>;
}

export interface MatrixFinding {
  subject: string;
  requirement: string;
  level: Level;
  status: RequirementStatus;
  /** server: the server fails the requirement; harness: the harness misjudged it; unexplained: no note */
  kind: 'server' | 'harness' | 'unexplained';
  cases: string[];
  /** the failing verdicts' `actual`, for the record */
  observed: string[];
  note?: string;
}

export interface MatrixResult {
  matrixVersion: typeof MATRIX_VERSION;
  toolVersion: string;
  specVersion: string;
  startedAt: string;
  durationMs: number;
  environment: ReturnType<typeof environmentInfo>;
  options: { concurrency: number; timeoutScale: number; only?: string[]; grep?: string };
  subjects: MatrixSubject[];
  requirements: MatrixRow[];
  findings: MatrixFinding[];
  /** absolute paths of the files written */
  files: { markdown: string; json: string };
}
