/**
 * Core types shared by every part of the harness: the manifest, the history (one timeline of
 * observations), checkers (pure functions history -> verdicts), cases and reports.
 *
 * Data moves one way: launcher/clients record into a History; checkers read it; the runner turns
 * verdicts into case outcomes; reporters only render.
 */

import { defaultRepeatMap, defaultSignalMap } from './spec-lifecycle.js';

export type Platform = 'linux' | 'darwin' | 'win32';
export type Level = 'MUST' | 'SHOULD' | 'MAY';
export type Action = 'stop' | 'fast-stop' | 'reload' | 'restart' | 'reopen-logs' | 'ignore';
export type Capability =
  | 'probe'
  | 'conformanceEndpoints'
  | 'reload'
  | 'restart'
  | 'durableStore'
  | 'crashDurability'
  | 'controlChannel'
  | 'workers'
  | 'preDrainDelay'
  | 'pidfile'
  | 'tls'
  | 'slowStartup'
  | 'slowBind'
  | 'logFile'
  | 'faultInjection'
  | 'slowStore'
  | 'threadReload'
  | 'failingCode'
  | 'stateless';

/**
 * The conformance endpoints (subject protocol section 9), declared one by one in the manifest's
 * `endpoints` (or all at once with `capabilities.conformanceEndpoints`): a server that already has a
 * `/hold` gets every case that needs only `/hold`.
 */
export const ENDPOINTS = [
  'ready',
  'live',
  'hold',
  'cpu',
  'fifo',
  'upload',
  'download',
  'kv',
  'config',
  'version',
  'cert',
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/**
 * A Manifest read back from a stored run (manifest.json beside the histories). Runs stored before
 * per-endpoint declarations have no `endpoints`: `conformanceEndpoints` meant all of them.
 */
export function storedManifest(m: Manifest): Manifest {
  m.endpoints ??= m.capabilities.conformanceEndpoints === true ? [...ENDPOINTS] : [];
  return m;
}

export type ExitCodeSpec = number | 'signal';

/** A manifest after validation, with defaults applied and paths resolved. */
export interface Manifest {
  protocol: '1';
  name: string;
  description?: string;
  command: string;
  args: string[];
  /** absolute */
  cwd: string;
  env: Record<string, string>;
  ports: string[];
  readiness: { kind: 'probe' | 'http' | 'tcp' | 'notify'; path: string; port: string; timeoutMs: number };
  signals: Record<string, Action>;
  signalsRepeat: Record<string, Action>;
  capabilities: Partial<Record<Capability, boolean>>;
  /** the conformance endpoints served: the declared `endpoints`, or all of them with `conformanceEndpoints` */
  endpoints: Endpoint[];
  gracePeriodMs: number;
  preDrainDelayMs: number;
  exitCodes: { graceful: ExitCodeSpec; deadline: ExitCodeSpec; fastStop: ExitCodeSpec };
  platforms: Platform[];
  upstream?: { port: string; holdMs: number };
  setup?: string[];
  breaks?: string[];
  /** absolute path of the manifest file */
  file: string;
  /** absolute path of the folder holding the manifest */
  dir: string;
}

/** The default signal map (spec section 4.1), from spec/lifecycle.json. */
export const DEFAULT_SIGNAL_MAP: Readonly<Record<string, Action>> = defaultSignalMap();

/** The default repeat map (spec section 4.2), from spec/lifecycle.json. */
export const DEFAULT_SIGNAL_REPEAT: Readonly<Record<string, Action>> = defaultRepeatMap();

// ---------------------------------------------------------------------------------------------
// History

export type EventSource = 'harness' | 'probe' | 'process' | 'client' | 'case';

/**
 * One observation. `ns` is the system monotonic clock in nanoseconds as a decimal string
 * (process.hrtime.bigint() in the harness; the subject's own stamp for probe events), so
 * cross-process differences are exact. `t` is milliseconds since the history's origin, for humans.
 */
export interface HistoryEvent {
  ns: string;
  t: number;
  source: EventSource;
  /** e.g. 'spawn', 'signal-sent', 'probe', 'exit', 'http', 'connect', 'note' */
  kind: string;
  /** which launch of the case this belongs to (a case may launch a subject more than once) */
  launch?: number;
  data: Record<string, unknown>;
}

export interface HistoryJSON {
  /** absent in histories written before version 2 */
  historyVersion?: number;
  originNs: string;
  events: HistoryEvent[];
}

// ---------------------------------------------------------------------------------------------
// Verdicts, outcomes

/** One checker's judgement of one requirement. Pure data, carries its evidence. */
export interface Verdict {
  requirement: string;
  /** pass; fail; unknown = the history cannot decide (graded as harness-error unless the case says otherwise) */
  status: 'pass' | 'fail' | 'unknown' | 'info';
  /** what the spec requires, in words */
  expected: string;
  /** what was observed, in words and numbers */
  actual: string;
  /** measured figures (milliseconds unless the name says otherwise) */
  metrics?: Record<string, number>;
  /** unknown only: the cooperation that would make it observable (`probe`, an endpoint name, ...) */
  needs?: string[];
}

export type Outcome =
  | 'pass'
  | 'fail'
  | 'non-strict'
  | 'informational'
  | 'unsupported'
  | 'not-applicable'
  | 'skipped'
  | 'timeout'
  | 'crash'
  | 'harness-error'
  | 'flaky';

// ---------------------------------------------------------------------------------------------
// Subjects and cases

export type TimeoutClass = 'short' | 'normal' | 'long';
export const TIMEOUT_MS: Record<TimeoutClass, number> = { short: 15_000, normal: 30_000, long: 120_000 };

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  ns: string;
}
