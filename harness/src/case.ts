/**
 * The case model. One case per file in harness/src/cases/, found automatically (cases/index.ts).
 *
 * A case has two halves that never mix:
 *  - run(ctx): drives real processes (launch, signals, clients) and records every observation in
 *    ctx.history. It judges nothing.
 *  - grade(input): a pure function from the stored history (plus the manifest) to verdicts with
 *    evidence. `sigcert analyze <run-dir>` calls it again on a stored history.
 */

import type { RequirementId } from './grade/requirement-ids.js';
import type { History } from './history.js';
import type { LaunchOptions, Subject } from './launch/index.js';
import type { Action, Capability, Endpoint, HistoryEvent, Manifest, Platform, TimeoutClass, Verdict } from './types.js';

export interface CaseApplies {
  /** platforms where the case can run; elsewhere it is not-applicable */
  platforms?: Platform[];
  /** capabilities the manifest must declare */
  capabilities?: Capability[];
  /** actions that the declared signal map must reach through some signal */
  actions?: Action[];
  /**
   * conformance endpoints the case drives (subject protocol section 9), each declared in the manifest's
   * `endpoints` or by `capabilities.conformanceEndpoints`; `hold` (GET /hold?ms=N) also comes from a slow
   * upstream
   */
  needs?: Endpoint[];
}

export interface GradeInput {
  events: HistoryEvent[];
  manifest: Manifest;
}

export interface CaseDef {
  /** stable dotted name, e.g. `stop.in-flight` */
  id: string;
  title: string;
  /** what the case does and what it expects, for the report */
  description: string;
  requirements: RequirementId[];
  /**
   * Requirements the case judges only when the subject makes them observable: a requirement named after
   * a signal when the declared map keeps that signal's meaning (spec 4.2), persistence when there is a
   * probe. Without a verdict the case says nothing about them (it is not counted as testing them).
   */
  alsoJudges?: RequirementId[];
  /**
   * The requirement a subject violates when it never reaches a phase this case waits for (a deadlock in
   * a handler, a lost signal, a FIFO never opened); default: the first of `requirements`.
   */
  stalls?: RequirementId;
  /**
   * The requirement a subject violates when a start this case asks for (a relaunch on its own state
   * directory, the case's configuration) exits before it is ready; default: `stalls`, else the first of
   * `requirements`.
   */
  launchFault?: RequirementId;
  /** the (signal, action) pairs of the declared map this case delivers (generated cases say so) */
  sends?: [string, Action][];
  /** the (signal, repeat action) pairs of the repeat map this case delivers during a stop */
  sendsRepeat?: [string, Action][];
  edgeCases?: string[];
  applies?: CaseApplies;
  /** extra applicability decided from the manifest (and the platform graded); the reason when not applicable */
  notApplicable?(m: Manifest, platform: Platform): string | NotApplicable | null;
  timeout: TimeoutClass;
  /** a measurement case: it runs alone, after the others, so no other case of the run shares the CPU */
  exclusive?: boolean;
  run(ctx: CaseContext): Promise<void>;
  grade(input: GradeInput): Verdict[];
}

export interface CaseContext {
  readonly manifest: Manifest;
  readonly history: History;
  /** a folder of this case's own, kept with the report */
  readonly runDir: string;
  /** multiply every deadline by this (slow CI machines) */
  readonly timeoutScale: number;
  /** launch the subject (tracked: the runner tears down every launch, also on failure) */
  launch(opts?: Partial<Omit<LaunchOptions, 'manifest' | 'history' | 'runDir'>>): Promise<Subject>;
  /** record a case-level observation (for the grader) */
  note(kind: string, data?: Record<string, unknown>): void;
  /** a deadline in ms, scaled */
  ms(ms: number): number;
}

/**
 * The subject did not do what the case was waiting for (a request failed before any signal, a phase
 * never came): a failure of the subject, graded under `requirement` (default: the case's `stalls`, else
 * its first requirement), never a harness error.
 */
export class SubjectFaultError extends Error {
  override readonly name = 'SubjectFaultError';
  constructor(
    message: string,
    readonly requirement?: RequirementId,
  ) {
    super(message);
  }
}

/** Identity helper that keeps case files typed. */
export function defineCase(def: CaseDef): CaseDef {
  return def;
}

/** The first signal whose declared action is `action`, or null. */
export function signalFor(m: Manifest, action: Action): NodeJS.Signals | null {
  for (const [sig, a] of Object.entries(m.signals)) if (a === action) return sig as NodeJS.Signals;
  return null;
}

/** Whether the subject serves a conformance endpoint (a slow upstream serves `/hold` for a proxy). */
export function hasEndpoint(m: Manifest, e: Endpoint): boolean {
  return m.endpoints.includes(e) || (e === 'hold' && m.upstream !== undefined);
}

const ENDPOINT_LABEL: Record<Endpoint, string> = {
  ready: 'GET /ready',
  live: 'GET /live',
  hold: 'GET /hold?ms=N',
  cpu: 'GET /cpu?ms=N',
  fifo: 'GET /fifo',
  upload: 'POST /upload',
  download: 'GET /download?bytes=N',
  kv: 'PUT/GET /kv',
  config: 'GET /config',
  version: 'GET /version',
  cert: 'POST /cert',
};

/** The request line of an endpoint, for reasons and the doctor. */
export function endpointLabel(e: Endpoint): string {
  return ENDPOINT_LABEL[e];
}

/**
 * Capabilities that add no behaviour to the server, only a way for the harness to see or steer it: a case
 * that lacks one is not observable (black-box scope), not inapplicable.
 */
export const COOPERATION_CAPABILITIES: readonly Capability[] = [
  'probe',
  'slowStartup',
  'slowBind',
  'faultInjection',
  'slowStore',
  'failingCode',
];

/**
 * Why a case does not run: the reason, and when the only obstacle is missing cooperation (a probe, a
 * conformance endpoint, a test hook) what would make it observable (`needs`, e.g. `probe`, `hold`).
 */
export interface NotApplicable {
  reason: string;
  needs?: string[];
}

/** Why a case does not apply to this manifest on this platform, or null when it applies. */
export function notApplicableTo(c: CaseDef, m: Manifest, platform: Platform): NotApplicable | null {
  const a = c.applies ?? {};
  if (!m.platforms.includes(platform)) return { reason: `the subject does not declare platform ${platform}` };
  if (a.platforms && !a.platforms.includes(platform)) {
    return {
      reason:
        platform === 'win32'
          ? 'POSIX signals cannot be delivered on Windows (process.kill terminates without running a handler)'
          : `runs only on ${a.platforms.join(', ')}`,
    };
  }
  const caps = a.capabilities ?? [];
  for (const cap of caps) {
    if (!m.capabilities[cap] && !COOPERATION_CAPABILITIES.includes(cap))
      return { reason: `the subject does not declare capability ${cap}` };
  }
  for (const act of a.actions ?? []) {
    if (!signalFor(m, act)) return { reason: `the declared signal map has no signal for ${act}` };
  }
  // what the subject does not do decides first; what is left is cooperation: say all that is missing,
  // so the report can say what would make the case observable
  const custom = c.notApplicable?.(m, platform) ?? null;
  if (typeof custom === 'string') return { reason: custom };
  if (custom !== null && !custom.needs?.length) return custom;
  const missingCaps = caps.filter((cap) => !m.capabilities[cap]);
  const missingEndpoints = (a.needs ?? []).filter((e) => !hasEndpoint(m, e));
  if (missingCaps.length === 0 && missingEndpoints.length === 0) return custom;
  const parts = [
    ...missingCaps.map((cap) => `capability ${cap}`),
    ...missingEndpoints.map((e) => `${endpointLabel(e)} (declare it in "endpoints")`),
  ];
  const needs: string[] = [...missingCaps, ...missingEndpoints];
  for (const n of custom?.needs ?? []) if (!needs.includes(n)) needs.push(n);
  return { reason: `not observable without ${parts.join(', ')}`, needs };
}

/** Why a case does not apply to this manifest on this platform (the reason only), or null when it applies. */
export function whyNotApplicable(c: CaseDef, m: Manifest, platform: Platform): string | null {
  return notApplicableTo(c, m, platform)?.reason ?? null;
}
