/**
 * `sigcert merge`: the JSON reports of shards (`run --shard i/n`) combined into one report with one
 * verdict, as if one run had run every case. Reports of different subjects, spec versions, sigcert
 * versions or report formats are refused, and so are reports graded as different platforms (one
 * certificate per platform: `run --platform win32` on Linux is a win32 shard), and a case that two
 * reports both ran.
 */
import { readFileSync } from 'node:fs';
import { buildReport, type CaseResult, type LatencyTable, type Report, validateReport } from './report/index.js';
import { loadRegistry } from './spec.js';

export class MergeError extends Error {}

function readReport(file: string): Report {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MergeError(`${file}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? 'error'})`}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MergeError(`${file}: not JSON`);
  }
  const v = validateReport(json);
  if (v.errors.length > 0) throw new MergeError(`${file}: not a sigcert JSON report (${v.errors[0]})`);
  return json as Report;
}

/** The platform a report graded: its `platform` option (`run` records it), else the machine's. */
function gradedPlatform(r: Report): string {
  return typeof r.options.platform === 'string' ? r.options.platform : r.environment.platform;
}

/** The fields every merged report must agree on, as [label, value]. */
function identity(r: Report): [string, string][] {
  return [
    ['subject', r.subject.name],
    ['spec version', r.specVersion],
    ['sigcert version', r.tool.version],
    ['report version', r.reportVersion],
    ['platform graded', gradedPlatform(r)],
  ];
}

/** Merge parsed reports (`files` name them in messages). */
export function mergeReports(reports: readonly Report[], files: readonly string[]): Report {
  const first = reports[0];
  if (first === undefined) throw new MergeError('merge needs at least one report');
  const base = identity(first);
  reports.forEach((r, i) => {
    identity(r).forEach(([label, value], k) => {
      const want = base[k]![1];
      if (value !== want) {
        throw new MergeError(
          `${files[i]}: ${label} ${JSON.stringify(value)} differs from ${JSON.stringify(want)} in ${files[0]}; only shards of one run can be merged`,
        );
      }
    });
  });

  const cases: CaseResult[] = [];
  const seen = new Map<string, string>();
  reports.forEach((r, i) => {
    for (const c of r.cases) {
      const key = `${c.id}#${c.repeat ?? ''}`;
      const other = seen.get(key);
      if (other !== undefined) {
        throw new MergeError(
          `case ${c.id}${c.repeat !== undefined ? ` (repeat ${c.repeat})` : ''} is in both ${other} and ${files[i]}; shards must not overlap`,
        );
      }
      seen.set(key, files[i]!);
      cases.push(c);
    }
  });
  cases.sort((a, b) => a.id.localeCompare(b.id) || (a.repeat ?? 0) - (b.repeat ?? 0));

  const starts = reports.map((r) => Date.parse(r.startedAt));
  const ends = reports.map((r, i) => starts[i]! + r.durationMs);
  const startedAt = Math.min(...starts);
  const latency: LatencyTable[] = reports.flatMap((r) => r.latency ?? []);
  // the requirement registry as the reports state it (they agree on the spec version)
  // (where a platform applies comes from this sigcert's registry: the reports name the same sigcert version)
  const where = new Map(loadRegistry().requirements.map((r) => [r.id, r.applies] as const));
  const requirements = first.requirements.map(({ id, level, title }) => ({ id, level, title, applies: where.get(id) }));

  const notStarted = reports.find((r) => r.verdict.notStarted !== undefined)?.verdict.notStarted;
  return buildReport({
    toolVersion: first.tool.version,
    specVersion: first.specVersion,
    startedAt: new Date(startedAt),
    durationMs: Math.max(...ends) - startedAt,
    subject: first.subject,
    options: {
      platform: gradedPlatform(first),
      ...(first.options.emulated === true ? { emulated: true } : {}),
      merged: files.map((f, i) => ({ file: f, options: reports[i]!.options })),
    },
    cases,
    requirements,
    latency,
    partial: reports.some((r) => r.partial === true),
    // a shard whose subject did not start certified nothing: neither does the merge
    ...(notStarted ? { notStarted } : {}),
    environment: first.environment,
    platform: gradedPlatform(first),
  });
}

/** Read and merge JSON report files. Throws MergeError (one line) on any problem. */
export function mergeReportFiles(files: readonly string[]): Report {
  return mergeReports(
    files.map((f) => readReport(f)),
    files,
  );
}
