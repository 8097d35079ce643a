/**
 * The conformance matrix: every subject in `subjects/` certified with the same catalog, side by side.
 *
 *   runMatrix({ subjectsDir, outDir, concurrency, timeoutScale, only, out })
 *
 * writes, in `outDir`:
 *   - `<subject>/report.json`: the canonical report of each subject (the same document `sigcert run`
 *     writes), with its run directories next to it;
 *   - `matrix.json`: requirement x subject statuses, latency figures, declared maps and findings;
 *   - `matrix.md`: the same as Markdown.
 *
 * Each subject folder may hold a `matrix.json` of its own (data, not code):
 *
 *   {
 *     "installed": [["/usr/bin/python3", "-c", "import uvicorn"]],   // every command must exit 0
 *     "version": ["/usr/bin/python3", "-c", "import uvicorn; print(uvicorn.__version__)"],
 *     "notes": {                                                        // keyed by requirement ID
 *       "STOP.DEADLINE": [{ "kind": "server", "text": "why, against the server's documentation" }],
 *       "STOP.LISTENER_CLOSED": [{ "kind": "harness", "when": "^0 probes", "text": "harness bug ..." }]
 *     }
 *   }
 *
 * A subject whose `installed` commands fail (or, without that file, whose `command` cannot be found)
 * is reported as `not installed`, never as an error. A note applies to a failed requirement when its
 * `when` (a regular expression) matches the `actual` text of one of the failing verdicts of the cases
 * that failed it, or always when it has none. `kind: "harness"` marks a failure that is the harness's mistake, not the server's:
 * such a cell is shown as a harness misjudgment, and the finding says so. A failure with no matching
 * note is listed as unexplained.
 *
 * The matrix only renders what the reports say; every judgement comes from the harness's own grading.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaseDef } from './case.js';
import { loadCases } from './cases/index.js';
import { History } from './history.js';
import { LaunchError, launch, loadManifest, ManifestError } from './launch/index.js';
import { repoRoot } from './launch/paths.js';
import {
  buildReport,
  type CaseResult,
  environmentInfo,
  type LatencyTable,
  progressLine,
  type Report,
  type RequirementStatus,
  serializeReport,
  validateReport,
  writeJsonReport,
} from './report/index.js';
import { runCases } from './runner.js';
import { loadRegistry } from './spec.js';
import type { Level, Manifest, Outcome, Platform } from './types.js';

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

// ---------------------------------------------------------------------------------------------
// Subject discovery and installation checks

interface Candidate {
  name: string;
  dir: string;
  data: SubjectMatrixData;
  manifest?: Manifest;
  problem?: { status: SubjectStatus; reason: string };
}

function readSubjectData(dir: string): SubjectMatrixData {
  const file = path.join(dir, 'matrix.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as SubjectMatrixData;
}

/** Folders of `subjectsDir` holding a manifest.json, by name. */
export function listSubjects(subjectsDir: string): string[] {
  return readdirSync(subjectsDir)
    .filter((n) => {
      const d = path.join(subjectsDir, n);
      return statSync(d).isDirectory() && existsSync(path.join(d, 'manifest.json'));
    })
    .sort((a, b) => (a === 'reference' ? -1 : b === 'reference' ? 1 : a.localeCompare(b)));
}

function run(cmd: string[], timeoutMs = 15_000): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const [file, ...args] = cmd;
    if (file === undefined) {
      resolve({ ok: false, output: 'empty command' });
      return;
    }
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout ?? ''}${stderr ?? ''}`.trim();
      if (err) resolve({ ok: false, output: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : output });
      else resolve({ ok: true, output });
    });
  });
}

function onPath(command: string): boolean {
  if (command.includes('/')) return existsSync(command);
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && existsSync(path.join(d, command)));
}

async function checkInstalled(c: Candidate, m: Manifest): Promise<string | null> {
  if (c.data.installed && c.data.installed.length > 0) {
    for (const cmd of c.data.installed) {
      const r = await run(cmd);
      if (!r.ok) return `\`${cmd.join(' ')}\` failed${r.output ? `: ${r.output.split('\n').pop()}` : ''}`;
    }
    return null;
  }
  return onPath(m.command) ? null : `command not found: ${m.command}`;
}

async function versionOf(c: Candidate): Promise<string | undefined> {
  if (!c.data.version) return undefined;
  const r = await run(c.data.version);
  if (!r.ok) return undefined;
  // `nginx -v` prints to stderr, `caddy version` adds a hash: keep the first line
  return r.output.split('\n')[0]?.trim() || undefined;
}

async function prepare(subjectsDir: string, name: string): Promise<Candidate> {
  const dir = path.join(subjectsDir, name);
  const c: Candidate = { name, dir, data: {} };
  try {
    c.data = readSubjectData(dir);
  } catch (e) {
    c.problem = { status: 'error', reason: `matrix.json: ${(e as Error).message}` };
    return c;
  }
  let m: Manifest;
  try {
    m = loadManifest(path.join(dir, 'manifest.json'));
  } catch (e) {
    c.problem = { status: 'error', reason: e instanceof ManifestError ? e.message : String(e) };
    return c;
  }
  c.manifest = m;
  if (!m.platforms.includes(process.platform as Platform)) {
    c.problem = { status: 'unsupported-platform', reason: `the manifest does not declare ${process.platform}` };
    return c;
  }
  const missing = await checkInstalled(c, m);
  if (missing !== null) c.problem = { status: 'not-installed', reason: missing };
  return c;
}

// ---------------------------------------------------------------------------------------------
// Running

function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * Linux safety net after each case: processes still alive in the session of one of the case's launches
 * once that launch's leader (the harness's direct child, spawned with setsid) is gone. The harness's own
 * teardown finds processes by the run marker in their environment, which a process can overwrite
 * (nginx's setproctitle does); whatever it missed is killed here and reported as a leak. A session id
 * cannot name anything else while a member of the session lives, and a leader pid that is alive again
 * (reused) disables the sweep for that session.
 */
export function sweepSessions(leaders: readonly number[]): { pid: number; cmdline: string }[] {
  if (process.platform !== 'linux' || leaders.length === 0) return [];
  const gone = new Set(leaders.filter((p) => p > 1 && !existsSync(`/proc/${p}`)));
  if (gone.size === 0) return [];
  const sessionOf = (pid: number): number | null => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return f[0] === 'Z' || f[0] === 'X' ? null : Number(f[3]);
    } catch {
      return null;
    }
  };
  const swept: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const sid = sessionOf(pid);
    if (sid === null || !gone.has(sid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      // gone meanwhile
    }
    // re-checked just before the kill: still in that session, its leader still gone
    if (sessionOf(pid) !== sid || existsSync(`/proc/${sid}`)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      swept.push({ pid, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return swept;
}

/** Pids of the launches of a case (its `spawn` events). */
function spawnedPids(r: CaseResult): number[] {
  return r.timeline
    .filter((e) => e.source === 'process' && e.kind === 'spawn' && typeof e.data.pid === 'number')
    .map((e) => e.data.pid as number);
}

/** Latency rows from verdicts carrying percentile metrics (as `sigcert run` reports them). */
function latencyRows(cases: readonly CaseResult[]): LatencyTable[] {
  const rows: LatencyTable[] = [];
  for (const c of cases) {
    for (const v of c.verdicts) {
      const m = v.metrics;
      if (!m) continue;
      const { n, p50, p90, p99, max, budgetMs } = m;
      if (
        n === undefined ||
        p50 === undefined ||
        p90 === undefined ||
        p99 === undefined ||
        max === undefined ||
        budgetMs === undefined
      )
        continue;
      rows.push({ scenario: c.id, requirement: v.requirement, n, p50, p90, p99, max, budgetMs, unit: 'ms' });
    }
  }
  return rows;
}

/** Launch once and stop: proves the subject starts before its cases run. */
async function preflight(m: Manifest, dir: string, scale: number): Promise<void> {
  const s = await launch({
    manifest: m,
    runDir: path.join(dir, 'preflight'),
    history: new History(),
    readyTimeoutMs: Math.round(m.readiness.timeoutMs * scale),
  });
  await s.teardown();
}

interface Job {
  subject: number;
  caseIndex: number;
  c: CaseDef;
}

/** Run every job on a shared pool of `n` workers; each job is one case of one subject. */
async function pool(jobs: Job[], n: number, work: (j: Job) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const k = next++;
      if (k >= jobs.length) return;
      await work(jobs[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, jobs.length)) }, worker));
}

/** Longest cases first (their timeout class is the best guess available), subjects interleaved. */
function schedule(jobs: Job[]): Job[] {
  const weight: Record<string, number> = { long: 0, normal: 1, short: 2 };
  return [...jobs].sort(
    (a, b) =>
      (weight[a.c.timeout] ?? 2) - (weight[b.c.timeout] ?? 2) || a.caseIndex - b.caseIndex || a.subject - b.subject,
  );
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

  const candidates = await Promise.all(names.map((n) => prepare(opts.subjectsDir, n)));
  const catalog = (opts.cases ?? (await loadCases())).filter(
    (c) => !opts.grep || opts.grep.test(c.id) || c.requirements.some((r) => opts.grep!.test(r)),
  );

  // preflight the installed subjects one at a time (a start-up failure is reported, not run)
  const results = new Map<number, (CaseResult | undefined)[]>();
  const subjectStart = new Map<number, number>();
  for (const [i, c] of candidates.entries()) {
    if (c.problem || !c.manifest) {
      out(`${c.name}: ${c.problem?.status ?? 'error'} (${c.problem?.reason ?? 'no manifest'})`);
      continue;
    }
    try {
      await preflight(c.manifest, path.join(outDir, c.name), scale);
      results.set(i, new Array(catalog.length));
      out(`${c.name}: starts; ${catalog.length} cases queued`);
    } catch (e) {
      const reason = e instanceof LaunchError ? `cannot be started: ${e.message}` : `preflight failed: ${String(e)}`;
      c.problem = { status: 'error', reason };
      out(`${c.name}: error (${reason})`);
    }
  }

  const jobs: Job[] = [];
  for (const i of results.keys()) {
    for (const [caseIndex, c] of catalog.entries()) jobs.push({ subject: i, caseIndex, c });
  }
  const done = new Map<number, number>();
  const leaks = new Map<number, string[]>();
  const runJob = async (j: Job) => {
    const cand = candidates[j.subject]!;
    if (!subjectStart.has(j.subject)) subjectStart.set(j.subject, Date.now());
    const { results: rs } = await runCases({
      manifest: cand.manifest!,
      cases: [j.c],
      outDir: path.join(outDir, cand.name),
      timeoutScale: scale,
      concurrency: 1,
      ...(opts.abort ? { abort: opts.abort } : {}),
    });
    const r = rs[0];
    results.get(j.subject)![j.caseIndex] = r;
    if (r) {
      for (const p of sweepSessions(spawnedPids(r))) {
        const msg = `${r.id}: left running after teardown, killed by the matrix: ${p.pid} ${p.cmdline}`;
        leaks.set(j.subject, [...(leaks.get(j.subject) ?? []), msg]);
        out(`${cand.name}: ${msg}`);
      }
    }
    const n = (done.get(j.subject) ?? 0) + 1;
    done.set(j.subject, n);
    if (r) out(`${cand.name.padEnd(10)} ${progressLine(n, catalog.length, r)}`);
  };
  // shared cases in the pool; exclusive (measurement) cases afterwards, one at a time, so that no other
  // case shares the CPU with them (the runner's rule for a single subject, kept across subjects)
  await pool(schedule(jobs.filter((j) => j.c.exclusive !== true)), concurrency, runJob);
  await pool(
    jobs.filter((j) => j.c.exclusive === true),
    1,
    runJob,
  );

  // per-subject reports
  const subjects: MatrixSubject[] = [];
  const reports = new Map<string, Report>();
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
    const rs = results.get(i);
    if (!m || !rs || c.problem) {
      subjects.push(base);
      continue;
    }
    const cases = rs.filter((r): r is CaseResult => r !== undefined);
    const startedAt = new Date(subjectStart.get(i) ?? Date.now());
    const report = buildReport({
      toolVersion: toolVersion(),
      specVersion: reg.specVersion,
      startedAt,
      durationMs: Date.now() - startedAt.getTime(),
      subject: { name: m.name, manifestFile: m.file, manifest: m },
      options: { matrix: true, concurrency, timeoutScale: scale, ...(opts.grep ? { grep: opts.grep.source } : {}) },
      cases,
      requirements: reg.requirements,
      latency: latencyRows(cases),
      partial: cases.length < catalog.length || opts.abort?.aborted === true,
    });
    const reportFile = path.join(c.name, 'report.json');
    await writeJsonReport(report, path.join(outDir, reportFile));
    reports.set(c.name, report);
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

  // requirement x subject, findings
  const findings: MatrixFinding[] = [];
  const rows: MatrixRow[] = reg.requirements.map((r) => ({ id: r.id, level: r.level, title: r.title, cells: {} }));
  for (const s of subjects) {
    const report = reports.get(s.name);
    const data = candidates.find((c) => c.name === s.name)?.data ?? {};
    for (const row of rows) {
      if (!report) {
        row.cells[s.name] = s.status === 'error' ? 'error' : 'not-installed';
        continue;
      }
      const roll = report.requirements.find((x) => x.id === row.id);
      const status: RequirementStatus = roll?.status ?? 'not-tested';
      row.cells[s.name] = status;
      if (status !== 'fail' && status !== 'non-strict') continue;
      const failing = report.cases.filter((c) => roll?.failures.includes(c.id));
      const observed = failing.flatMap((c) => {
        const vs = c.verdicts.filter((v) => v.requirement === row.id && v.status === 'fail').map((v) => v.actual);
        return vs.length > 0 ? vs : [`${c.id}: ${c.outcome}${c.reason ? ` (${c.reason})` : ''}`];
      });
      // a note's `when` may point at any failing verdict of the same case (e.g. the exit that explains an escalation)
      const context = failing.flatMap((c) => c.verdicts.filter((v) => v.status === 'fail').map((v) => v.actual));
      const note = pickNote(data.notes?.[row.id], [...observed, ...context]);
      const kind = note ? note.kind : 'unexplained';
      if (kind === 'harness') row.cells[s.name] = 'harness-misjudged';
      findings.push({
        subject: s.name,
        requirement: row.id,
        level: row.level,
        status,
        kind,
        cases: roll?.failures ?? [],
        observed,
        ...(note ? { note: note.text } : {}),
      });
    }
  }

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

/** The first note whose `when` matches one of the failing verdicts (a note without `when` always does). */
export function pickNote(notes: SubjectNote[] | undefined, observed: readonly string[]): SubjectNote | undefined {
  return notes?.find((n) => n.when === undefined || observed.some((o) => new RegExp(n.when!).test(o)));
}

// ---------------------------------------------------------------------------------------------
// Metrics

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

// ---------------------------------------------------------------------------------------------
// Markdown

const UNEXPLAINED = "_unexplained: no note in the subject folder's matrix.json matches this failure._";

const CELL_TEXT: Record<MatrixCell, string> = {
  pass: 'pass',
  fail: '**FAIL**',
  'non-strict': 'non-strict',
  'not-tested': 'not tested',
  'not-applicable': 'n/a',
  informational: 'info',
  'harness-misjudged': 'harness bug †',
  'not-installed': 'not installed',
  error: 'error',
};

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function num(v: number | undefined): string {
  if (v === undefined) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function pcts(v: { p50: number; p99: number; n: number } | undefined): string {
  return v ? `${num(v.p50)} / ${num(v.p99)} (n=${v.n})` : '—';
}

function columnHead(s: MatrixSubject): string {
  return s.name;
}

export function renderMatrixMarkdown(r: MatrixResult): string {
  const ss = r.subjects;
  const head = `| | ${ss.map(columnHead).join(' | ')} |`;
  const sep = `|---|${ss.map(() => '---').join('|')}|`;
  const line = (label: string, cells: string[]) => `| ${label} | ${cells.map(esc).join(' | ')} |`;
  const L: string[] = [];
  L.push('# sigcert conformance matrix', '');
  L.push(
    `Clean Signal Handling ${r.specVersion}, sigcert ${r.toolVersion}, ${r.startedAt}, ${r.environment.os} ${r.environment.arch}, ` +
      `${r.environment.cpus} CPU, Node ${r.environment.node}; ${Math.round(r.durationMs / 1000)} s at concurrency ${r.options.concurrency}` +
      `${r.options.timeoutScale !== 1 ? `, timeout scale ${r.options.timeoutScale}` : ''}${r.options.grep ? `, cases matching /${r.options.grep}/` : ''}.`,
    '',
    'Each server is certified against its own declared signal map (spec 4.2); requirements named after a signal are',
    'not applicable where the map departs. Black-box servers (no probe) cannot show persistence, handler latency or',
    'readiness, so those requirements stay "not tested" for them. Cells marked † are failures the harness reported',
    'that are the harness\'s own mistake (see "Harness misjudgments"), not the server\'s.',
    '',
  );

  L.push('## Verdicts', '', head, sep);
  L.push(
    line(
      'version',
      ss.map((s) => s.version ?? '—'),
    ),
  );
  L.push(
    line(
      'verdict',
      ss.map((s) =>
        s.status === 'certified'
          ? (s.verdict ?? '—')
          : s.status === 'not-installed'
            ? 'not installed'
            : s.status === 'unsupported-platform'
              ? 'unsupported platform'
              : `error: ${s.reason ?? ''}`,
      ),
    ),
  );
  L.push(
    line(
      'MUST failed',
      ss.map((s) => (s.mustFailures ? String(s.mustFailures.length) : '—')),
    ),
  );
  L.push(
    line(
      'of which harness misjudgments †',
      ss.map((s) =>
        s.mustFailures
          ? String(r.findings.filter((f) => f.subject === s.name && f.level === 'MUST' && f.kind === 'harness').length)
          : '—',
      ),
    ),
  );
  L.push(
    line(
      'MUST not tested',
      ss.map((s) => (s.untestedMust ? String(s.untestedMust.length) : '—')),
    ),
  );
  L.push(
    line(
      'SHOULD not met',
      ss.map((s) => (s.shouldFailures ? String(s.shouldFailures.length) : '—')),
    ),
  );
  L.push(
    line(
      'cases',
      ss.map((s) =>
        s.counts
          ? Object.entries(s.counts)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')
          : '—',
      ),
    ),
  );
  L.push(
    line(
      'harness errors',
      ss.map((s) => (s.harnessErrors ? String(s.harnessErrors.length + (s.leaks?.length ?? 0)) : '—')),
    ),
  );
  L.push('');

  L.push('## Requirements', '', `| requirement | level | ${ss.map(columnHead).join(' | ')} |`);
  L.push(`|---|---|${ss.map(() => '---').join('|')}|`);
  for (const row of r.requirements) {
    L.push(`| ${row.id} | ${row.level} | ${ss.map((s) => CELL_TEXT[row.cells[s.name] ?? 'not-tested']).join(' | ')} |`);
  }
  L.push('');

  L.push('## Latency (milliseconds)', '', head, sep);
  const ms = (f: (m: SubjectMetrics) => number | undefined) =>
    ss.map((s) => (s.status === 'certified' ? num(f(s.metrics)) : '—'));
  L.push(
    line(
      'stop signal → first refused connect (`stop.new-connections-refused`)',
      ms((m) => m.timeToRefuseMs),
    ),
  );
  L.push(
    line(
      'stop signal → exit, idle (`stop.idle`)',
      ms((m) => m.idleStopExitMs),
    ),
  );
  L.push(
    line(
      'fast-stop signal → exit, request in flight (`signals.fast-stop`)',
      ms((m) => m.fastStopExitMs),
    ),
  );
  L.push(
    line(
      'second SIGINT → exit (`repeat.int-int`)',
      ms((m) => m.secondIntExitMs),
    ),
  );
  L.push(
    line(
      'stop signal → exit at the deadline (`stop.deadline`)',
      ms((m) => m.deadlineExitMs),
    ),
  );
  L.push(
    line(
      'handler latency idle, p50 / p99 (`latency.idle`, probe)',
      ss.map((s) => (s.status === 'certified' ? pcts(s.metrics.handlerIdle) : '—')),
    ),
  );
  L.push(
    line(
      'handler latency under load, p50 / p99 (`latency.load`, probe)',
      ss.map((s) => (s.status === 'certified' ? pcts(s.metrics.handlerLoad) : '—')),
    ),
  );
  L.push('', '— : not measured (no probe, the case does not apply, or the subject did not exit on its own).', '');

  const sigs = [...new Set(ss.flatMap((s) => Object.keys(s.signals ?? {})))].sort();
  L.push('## Declared signal maps', '', head, sep);
  for (const sig of sigs) {
    L.push(
      line(
        sig,
        ss.map((s) => {
          const a = s.signals?.[sig] ?? '—';
          const rep = s.signalsRepeat?.[sig];
          return rep ? `${a}; again during a stop: ${rep}` : a;
        }),
      ),
    );
  }
  L.push(
    line(
      'capabilities',
      ss.map((s) => (s.capabilities?.length ? s.capabilities.join(', ') : '—')),
    ),
  );
  L.push('');

  const server = r.findings.filter((f) => f.kind !== 'harness');
  const harness = r.findings.filter((f) => f.kind === 'harness');
  L.push('## Findings', '');
  if (server.length === 0) L.push('No failures.', '');
  for (const s of ss) {
    const fs = server.filter((f) => f.subject === s.name);
    if (fs.length === 0) continue;
    L.push(`### ${s.name}`, '');
    for (const f of fs) {
      const label = f.status === 'fail' ? 'fails' : 'non-strict';
      L.push(`- **${f.requirement}** (${f.level}, ${label}; ${f.cases.join(', ')}): ${f.note ?? UNEXPLAINED}`);
      L.push(`  Observed: ${f.observed.map((o) => esc(o)).join(' / ')}`);
    }
    L.push('');
  }
  if (harness.length > 0) {
    L.push('## Harness misjudgments †', '');
    L.push('Failures the harness reported that are its own mistake; they are not failures of the server.', '');
    for (const f of harness) {
      L.push(`- **${f.subject} / ${f.requirement}** (${f.cases.join(', ')}): ${f.note ?? ''}`);
      L.push(`  Observed: ${f.observed.map((o) => esc(o)).join(' / ')}`);
    }
    L.push('');
  }
  const errored = ss.filter((s) => (s.harnessErrors?.length ?? 0) + (s.leaks?.length ?? 0) > 0);
  if (errored.length > 0) {
    L.push('## Harness errors', '');
    L.push(
      'Cases that produced no trustworthy outcome, and processes the teardown missed (a harness problem to fix, never a verdict on the server).',
      '',
    );
    for (const s of errored) {
      for (const e of s.harnessErrors ?? []) L.push(`- **${s.name}** ${esc(e)}`);
      for (const e of s.leaks ?? []) L.push(`- **${s.name}** ${esc(e)}`);
    }
    L.push('');
  }
  const missing = ss.filter((s) => s.status !== 'certified');
  if (missing.length > 0) {
    L.push('## Not certified', '');
    for (const s of missing) L.push(`- **${s.name}**: ${s.status} — ${s.reason ?? ''}`);
    L.push('');
  }
  L.push('## Reports', '');
  for (const s of ss) if (s.reportFile) L.push(`- ${s.name}: \`${s.reportFile}\``);
  L.push('');
  return `${L.join('\n')}\n`;
}

/** Default output folder of `sigcert matrix`. */
export function defaultMatrixDir(): string {
  return path.join('.sigcert', 'matrix', new Date().toISOString().replace(/[:.]/g, '-'));
}

/** Default subjects folder: the repository's `subjects/`. */
export function defaultSubjectsDir(): string {
  return path.join(repoRoot(), 'subjects');
}

/** For the CLI: the number of CPUs, as a hint for the default concurrency. */
export function defaultMatrixConcurrency(): number {
  return Math.max(2, Math.min(4, os.cpus().length + 1));
}
