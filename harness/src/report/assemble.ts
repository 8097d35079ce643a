/**
 * From case results to a Report, the way every command does it (`sigcert run`, `analyze`, the matrix):
 * this tool's version, the registry's spec version and requirements, the manifest as the subject, and
 * the latency table read from the verdicts that carry percentile metrics.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../launch/paths.js';
import { loadRegistry } from '../spec.js';
import type { Manifest } from '../types.js';
import { buildReport } from './build.js';
import type { CaseResult, LatencyTable, NotStarted, Report } from './model.js';

/** The version in the repository's package.json (0.0.0 when it cannot be read). */
export function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Latency rows from the verdicts of latency requirements that carry percentile metrics. */
export function latencyTables(cases: CaseResult[]): LatencyTable[] {
  const rows: LatencyTable[] = [];
  for (const c of cases) {
    for (const v of c.verdicts) {
      const m = v.metrics;
      const need = [m?.n, m?.p50, m?.p90, m?.p99, m?.max, m?.budgetMs];
      if (!m || need.some((x) => x === undefined || !Number.isFinite(x))) continue;
      rows.push({
        scenario: c.id,
        requirement: v.requirement,
        n: m.n!,
        p50: m.p50!,
        p90: m.p90!,
        p99: m.p99!,
        max: m.max!,
        budgetMs: m.budgetMs!,
        unit: 'ms',
      });
    }
  }
  return rows;
}

/** The report of one subject's results; its duration runs from `startedAt` to now. */
export function makeReport(
  manifest: Manifest,
  results: CaseResult[],
  options: Record<string, unknown>,
  startedAt: Date,
  partial: boolean,
  notStarted?: NotStarted,
): Report {
  const reg = loadRegistry();
  return buildReport({
    toolVersion: toolVersion(),
    specVersion: reg.specVersion,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    subject: { name: manifest.name, manifestFile: manifest.file, manifest },
    options,
    cases: results,
    requirements: reg.requirements,
    latency: latencyTables(results),
    partial,
    ...(notStarted ? { notStarted } : {}),
    // the platform graded, as `run` records it in the options (analyze reads them back)
    ...(typeof options.platform === 'string' ? { platform: options.platform } : {}),
  });
}
