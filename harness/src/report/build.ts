/**
 * Assembling a Report from case results: counts, requirement rollups and the verdict are derived
 * here, once, so every renderer shows the same judgement.
 */
import os from 'node:os';
import { percentiles } from '../grade/latency.js';
import { pathTable } from '../grade/paths.js';
import { computeVerdict, manifestExclusions, rollupRequirements } from '../grade/rules.js';
import type { Manifest, Outcome } from '../types.js';
import {
  type CaseResult,
  type LatencyTable,
  type NotStarted,
  OUTCOMES,
  REPORT_VERSION,
  type Report,
  type ReportEnvironment,
  type RequirementInfo,
  type RequirementRollup,
} from './model.js';

export interface BuildReportInput {
  toolVersion: string;
  specVersion: string;
  startedAt: Date | string;
  durationMs: number;
  subject: Report['subject'];
  options: Record<string, unknown>;
  cases: CaseResult[];
  /** the subject did not start: the verdict is `not certified`, whatever the cases say */
  notStarted?: NotStarted;
  /** the registry (spec/requirements.json `requirements`; `applies.platforms` where known) */
  requirements: readonly (RequirementInfo & { applies?: { platforms?: readonly string[] } })[];
  /**
   * The platform graded (`run --platform`, default the machine's): a requirement that does not apply
   * there (its registry `applies.platforms`) and that no case of the run tested is not-applicable, not
   * "not tested" (on win32 the signal requirements only alsoJudged by the signal cases). Absent: no change.
   */
  platform?: string;
  latency?: LatencyTable[];
  partial?: boolean;
  /** defaults to environmentInfo() */
  environment?: ReportEnvironment;
}

export function buildReport(input: BuildReportInput): Report {
  // requirements the manifest's own declarations rule out (stateless; signals the map gives another meaning)
  const excluded = manifestExclusions((input.subject.manifest ?? {}) as Partial<Manifest>);
  const rollups = outsidePlatform(rollupRequirements(input.cases, input.requirements, excluded), input);
  const report: Report = {
    reportVersion: REPORT_VERSION,
    tool: { name: 'sigcert', version: input.toolVersion },
    specVersion: input.specVersion,
    startedAt: typeof input.startedAt === 'string' ? input.startedAt : input.startedAt.toISOString(),
    durationMs: input.durationMs,
    environment: input.environment ?? environmentInfo(),
    subject: input.subject,
    options: input.options,
    cases: input.cases,
    requirements: rollups,
    summary: { counts: countOutcomes(input.cases), total: input.cases.length },
    verdict: computeVerdict(rollups, input.cases),
  };
  if (input.notStarted) {
    report.verdict = {
      ...report.verdict,
      compliant: false,
      fullyCompliant: false,
      label: 'not certified',
      notStarted: input.notStarted,
    };
  }
  if (input.latency && input.latency.length > 0) report.latency = input.latency;
  const paths = pathTable(input.cases);
  if (paths.length > 0) report.paths = paths;
  if (input.partial) report.partial = true;
  return report;
}

/** Not-tested requirements that do not apply on the platform graded become not-applicable. */
function outsidePlatform(rollups: RequirementRollup[], input: BuildReportInput): RequirementRollup[] {
  const platform = input.platform;
  if (platform === undefined) return rollups;
  const platforms = new Map(input.requirements.map((r) => [r.id, r.applies?.platforms] as const));
  return rollups.map((r) => {
    const where = platforms.get(r.id);
    return r.status === 'not-tested' && where !== undefined && !where.includes(platform)
      ? { ...r, status: 'not-applicable' }
      : r;
  });
}

/** Number of cases per outcome; every outcome is present (0 when none). */
export function countOutcomes(cases: readonly CaseResult[]): Record<Outcome, number> {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const c of cases) counts[c.outcome] += 1;
  return counts;
}

/** The machine the run happened on. The hostname is left out unless asked for (reports get published). */
export function environmentInfo(opts: { hostname?: boolean } = {}): ReportEnvironment {
  const cpus = os.cpus();
  const env: ReportEnvironment = {
    os: `${os.type()} ${os.release()}`,
    platform: process.platform,
    release: os.release(),
    arch: process.arch,
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    ci: isCi(process.env),
  };
  if (opts.hostname) env.hostname = os.hostname();
  return env;
}

/** CI=true/1 (GitHub Actions, GitLab, CircleCI, Travis, Buildkite...) or a provider-specific marker. */
function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI?.toLowerCase();
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return true;
  return ['GITHUB_ACTIONS', 'GITLAB_CI', 'BUILDKITE', 'TF_BUILD', 'JENKINS_URL', 'TEAMCITY_VERSION'].some(
    (k) => (env[k] ?? '') !== '',
  );
}

/** A latency table row from raw samples (milliseconds). Throws on an empty sample. */
export function latencyTable(
  scenario: string,
  requirement: string,
  samples: readonly number[],
  budgetMs: number,
): LatencyTable {
  return { scenario, requirement, ...percentiles(samples), budgetMs, unit: 'ms' };
}
