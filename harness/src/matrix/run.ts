/**
 * Running a matrix: each installed subject is certified the way `sigcert run` certifies it (the
 * runner's pool over the catalog, then the report assembled by report/assemble.ts), one subject
 * after another so that `concurrency` bounds the whole machine and exclusive (measurement) cases
 * never share the CPU with another subject's cases. Then matrix.json and matrix.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CaseDef } from '../case.js';
import { loadCases } from '../cases/index.js';
import { History } from '../history.js';
import { LaunchError, launch, launchRetryingPortRace } from '../launch/index.js';
import { makeReport, toolVersion } from '../report/assemble.js';
import {
  environmentInfo,
  progressLine,
  type Report,
  serializeReport,
  validateReport,
  writeJsonReport,
} from '../report/index.js';
import { runCases } from '../runner.js';
import { loadRegistry } from '../spec.js';
import type { Manifest } from '../types.js';
import { listSubjects, prepareSubject, versionOf } from './discovery.js';
import { renderMatrixMarkdown } from './markdown.js';
import { metricsOf } from './metrics.js';
import { MATRIX_VERSION, type MatrixOptions, type MatrixResult, type MatrixSubject } from './model.js';
import { requirementTable } from './notes.js';
import { spawnedPids, sweepSessions } from './session-sweep.js';

/** Launch once and stop: proves the subject starts before its cases run (a lost port race is tried again). */
async function preflight(m: Manifest, dir: string, scale: number): Promise<void> {
  const s = await launchRetryingPortRace(() =>
    launch({
      manifest: m,
      runDir: path.join(dir, 'preflight'),
      history: new History(),
      readyTimeoutMs: Math.round(m.readiness.timeoutMs * scale),
    }),
  );
  await s.teardown();
}

export async function runMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const started = new Date();
  const concurrency = Math.max(1, opts.concurrency ?? 3);
  const scale = opts.timeoutScale ?? 1;
  const out = opts.out ?? (() => undefined);
  const outDir = path.resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const reg = loadRegistry();

  const names = listSubjects(opts.subjectsDir).filter((n) => !opts.only || opts.only.includes(n));
  const unknown = (opts.only ?? []).filter((n) => !names.includes(n));
  if (unknown.length > 0) throw new Error(`no such subject in ${opts.subjectsDir}: ${unknown.join(', ')}`);

  const candidates = await Promise.all(names.map((n) => prepareSubject(opts.subjectsDir, n)));
  const selected = (c: CaseDef) =>
    !opts.exclude?.test(c.id) && (!opts.grep || opts.grep.test(c.id) || c.requirements.some((r) => opts.grep!.test(r)));
  // the fixed cases; each subject adds the cases its declared map calls for (loadCases(manifest))
  const catalog = (opts.cases ?? (await loadCases())).filter(selected);

  // preflight the installed subjects one at a time (a start-up failure is reported, not run)
  const runnable: number[] = [];
  for (const [i, c] of candidates.entries()) {
    if (c.problem || !c.manifest) {
      out(`${c.name}: ${c.problem?.status ?? 'error'} (${c.problem?.reason ?? 'no manifest'})`);
      continue;
    }
    try {
      await preflight(c.manifest, path.join(outDir, c.name), scale);
      runnable.push(i);
      out(`${c.name}: starts; ${catalog.length} cases queued`);
    } catch (e) {
      const reason = e instanceof LaunchError ? `cannot be started: ${e.message}` : `preflight failed: ${String(e)}`;
      c.problem = { status: 'error', reason };
      out(`${c.name}: error (${reason})`);
    }
  }

  // each subject as `sigcert run` certifies it
  const reports = new Map<number, Report>();
  const leaks = new Map<number, string[]>();
  for (const i of runnable) {
    const cand = candidates[i]!;
    const manifest = cand.manifest!;
    const subjectCases = (opts.cases ?? (await loadCases(manifest))).filter(selected);
    const startedAt = new Date();
    const leaked: string[] = [];
    let done = 0;
    const { results, partial } = await runCases({
      manifest,
      cases: subjectCases,
      outDir: path.join(outDir, cand.name),
      timeoutScale: scale,
      concurrency,
      ...(opts.abort ? { abort: opts.abort } : {}),
      onCaseEnd: (r) => {
        for (const p of sweepSessions(spawnedPids(r))) {
          const msg = `${r.id}: left running after teardown, killed by the matrix: ${p.pid} ${p.cmdline}`;
          leaked.push(msg);
          out(`${cand.name}: ${msg}`);
        }
        done++;
        out(`${cand.name.padEnd(10)} ${progressLine(done, subjectCases.length, r)}`);
      },
    });
    const options = {
      matrix: true,
      concurrency,
      timeoutScale: scale,
      ...(opts.grep ? { grep: opts.grep.source } : {}),
    };
    const incomplete = partial || results.length < subjectCases.length;
    reports.set(i, makeReport(manifest, results, options, startedAt, incomplete));
    leaks.set(i, leaked);
  }

  // per-subject reports
  const subjects: MatrixSubject[] = [];
  const byName = new Map<string, Report>();
  for (const [i, c] of candidates.entries()) {
    const m = c.manifest;
    const base: MatrixSubject = {
      name: c.name,
      status: c.problem?.status ?? 'certified',
      metrics: {},
      ...(c.problem ? { reason: c.problem.reason } : {}),
      ...(m?.description ? { description: m.description } : {}),
      ...(m ? { signals: { ...m.signals }, signalsRepeat: { ...m.signalsRepeat } } : {}),
      ...(m
        ? {
            capabilities: Object.entries(m.capabilities)
              .filter(([, v]) => v === true)
              .map(([k]) => k),
          }
        : {}),
    };
    if (c.problem === undefined) {
      const version = await versionOf(c);
      if (version) base.version = version;
    }
    const report = reports.get(i);
    if (!m || !report || c.problem) {
      subjects.push(base);
      continue;
    }
    const reportFile = path.join(c.name, 'report.json');
    await writeJsonReport(report, path.join(outDir, reportFile));
    byName.set(c.name, report);
    const cases = report.cases;
    const missing = catalog.filter((cd) => !cases.some((r) => r.id === cd.id)).map((cd) => `${cd.id}: no outcome`);
    const errors = cases.filter((r) => r.outcome === 'harness-error').map((r) => `${r.id}: ${r.reason ?? ''}`);
    // the report must be one `sigcert run` could have written: valid against spec/schema/report.schema.json
    const schema = validateReport(JSON.parse(serializeReport(report)) as unknown).errors.map(
      (e) => `report.json does not validate: ${e}`,
    );
    subjects.push({
      ...base,
      verdict: report.verdict.label,
      mustFailures: report.verdict.mustFailures,
      shouldFailures: report.verdict.shouldFailures,
      untestedMust: report.verdict.untestedMust,
      counts: Object.fromEntries(Object.entries(report.summary.counts).filter(([, v]) => v > 0)),
      harnessErrors: [...missing, ...errors, ...schema],
      leaks: leaks.get(i) ?? [],
      reportFile,
      durationMs: report.durationMs,
      metrics: metricsOf(report),
    });
  }

  const { rows, findings } = requirementTable(
    reg.requirements,
    subjects,
    byName,
    (name) => candidates.find((c) => c.name === name)?.data ?? {},
  );

  const result: MatrixResult = {
    matrixVersion: MATRIX_VERSION,
    toolVersion: toolVersion(),
    specVersion: reg.specVersion,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    environment: environmentInfo(),
    options: {
      concurrency,
      timeoutScale: scale,
      ...(opts.only ? { only: opts.only } : {}),
      ...(opts.grep ? { grep: opts.grep.source } : {}),
    },
    subjects,
    requirements: rows,
    findings,
    files: { markdown: path.join(outDir, 'matrix.md'), json: path.join(outDir, 'matrix.json') },
  };
  writeFileSync(result.files.json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(result.files.markdown, renderMatrixMarkdown(result));
  out(`matrix: ${result.files.markdown}`);
  return result;
}
