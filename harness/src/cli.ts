/**
 * sigcert — certify a server's signal handling against "Clean Signal Handling" v1.
 *
 *   sigcert run [--subject M] [--grep RE] [--shard i/n] [--repeat N] [--retries N] [--timeout-scale X]
 *               [--concurrency N] [--json FILE] [--junit FILE] [--out DIR]
 *   sigcert list [--subject M]
 *   sigcert analyze <run-dir> [--json FILE] [--junit FILE]
 *   sigcert doctor [--subject M]
 *
 * Exit codes: 0 compliant, 1 not compliant, 2 usage or manifest error, 3 harness error
 * (including a subject that cannot be started), 130 interrupted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type CaseDef, whyNotApplicable } from './case.js';
import { loadCases } from './cases/index.js';
import { RunDirError, reportOfRunDir } from './analyze.js';
import { History } from './history.js';
import {
  canDeliver,
  descendantScanSupported,
  LaunchError,
  launch,
  loadManifest,
  ManifestError,
  teardownAll,
} from './launch/index.js';
import { repoRoot } from './launch/paths.js';
import { makeReport } from './report/assemble.js';
import {
  type CaseResult,
  progressLine,
  type Report,
  renderConsole,
  toJUnitXml,
  writeHtmlReport,
  writeJsonReport,
} from './report/index.js';
import { runCases } from './runner.js';
import { loadRegistry } from './spec.js';
import type { Manifest, Platform } from './types.js';

export { latencyTables } from './report/assemble.js';

export const EXIT = { compliant: 0, notCompliant: 1, usage: 2, harness: 3, interrupted: 130 } as const;

class UsageError extends Error {}

const USAGE = `usage: sigcert <command> [options]

commands:
  run       certify a subject (default: the bundled reference server)
  list      cases x requirements, uncovered requirements marked
  analyze   re-grade a stored run directory without re-running it
  doctor    check a manifest, the subject's readiness, and which signals this OS can deliver
  fuzz      random signal sequences against a subject (--runs N --seed S --time-limit T)
  matrix    certify every subject in subjects/ side by side (--only a,b --out DIR)

options (run):
  --subject FILE        manifest (default subjects/reference/manifest.json)
  --grep RE             only cases whose id, title or requirement matches
  --shard i/n           run the i-th of n shards
  --repeat N            run every case N times
  --retries N           retry a failing case N times (a pass after a retry is graded flaky)
  --timeout-scale X     multiply every deadline by X (slow machines)
  --concurrency N       cases run at once, each on its own ports (default 2)
  --json FILE           write the canonical JSON report
  --junit FILE          write a JUnit XML report
  --html FILE           write a self-contained HTML report (timelines, latency charts)
  --out DIR             where run directories go (default .sigcert/runs/<time>)

exit codes: 0 compliant, 1 not compliant, 2 usage or manifest error, 3 harness error, 130 interrupted`;

function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !process.env.CI;
}

function defaultManifest(): string {
  return path.join(repoRoot(), 'subjects', 'reference', 'manifest.json');
}

function parseShard(s: string | undefined): [number, number] | undefined {
  if (!s) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new UsageError(`--shard must look like i/n (got ${s})`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new UsageError(`--shard ${s}: need 1 <= i <= n`);
  return [i, n];
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer (got ${v})`);
  return n;
}

async function writeOutputs(report: Report, json?: string, junit?: string, html?: string): Promise<void> {
  if (html) await writeHtmlReport(report, html);
  if (json) {
    mkdirSync(path.dirname(path.resolve(json)), { recursive: true });
    await writeJsonReport(report, json);
  }
  if (junit) {
    mkdirSync(path.dirname(path.resolve(junit)), { recursive: true });
    writeFileSync(junit, toJUnitXml(report));
  }
}

function exitFor(report: Report, selection = false): number {
  if (report.partial) return EXIT.interrupted;
  if (report.verdict.harnessErrors > 0) return EXIT.harness;
  if (selection) {
    // --grep / --shard: a selection is not a certificate; it passes when no selected case failed
    const bad = report.cases.some((c) => ['fail', 'crash', 'timeout', 'flaky'].includes(c.outcome));
    return bad ? EXIT.notCompliant : EXIT.compliant;
  }
  return report.verdict.compliant ? EXIT.compliant : EXIT.notCompliant;
}

/** Launch once and stop: proves the subject starts before any case runs. */
async function preflight(manifest: Manifest, dir: string): Promise<number> {
  const t0 = Date.now();
  const s = await launch({ manifest, runDir: path.join(dir, 'preflight'), history: new History() });
  const ms = Date.now() - t0;
  await s.teardown();
  return ms;
}

async function cmdRun(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      subject: { type: 'string' },
      grep: { type: 'string' },
      shard: { type: 'string' },
      repeat: { type: 'string' },
      retries: { type: 'string' },
      'timeout-scale': { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'string' },
      junit: { type: 'string' },
      html: { type: 'string' },
      out: { type: 'string' },
    },
    allowPositionals: false,
  });
  const manifest = loadManifest(path.resolve(values.subject ?? defaultManifest()));
  const scale = values['timeout-scale'] === undefined ? 1 : Number(values['timeout-scale']);
  if (!(scale > 0)) throw new UsageError(`--timeout-scale must be a positive number (got ${values['timeout-scale']})`);
  let grep: RegExp | undefined;
  try {
    grep = values.grep ? new RegExp(values.grep) : undefined;
  } catch {
    throw new UsageError(`--grep is not a valid regular expression: ${values.grep}`);
  }
  const opts = {
    grep: values.grep,
    shard: parseShard(values.shard),
    repeat: Math.max(1, positiveInt('repeat', values.repeat, 1)),
    retries: positiveInt('retries', values.retries, 0),
    timeoutScale: scale,
    concurrency: Math.max(1, positiveInt('concurrency', values.concurrency, 2)),
  };
  const outDir = path.resolve(
    values.out ?? path.join('.sigcert', 'runs', new Date().toISOString().replace(/[:.]/g, '-')),
  );
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));

  const cases = await loadCases();
  const abort = new AbortController();
  const onInt = () => {
    if (abort.signal.aborted) return;
    process.stderr.write('\nsigcert: interrupted; stopping every subject and writing a partial report\n');
    abort.abort();
    void teardownAll();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  const startedAt = new Date();
  try {
    const readyMs = await preflight(manifest, outDir);
    const color = useColor();
    const tty = Boolean(process.stdout.isTTY) && !process.env.CI;
    process.stdout.write(`sigcert ${toolVersion()}: certifying ${manifest.name} (ready in ${readyMs} ms)\n`);
    let done = 0;
    const { results, partial } = await runCases({
      manifest,
      cases,
      outDir,
      ...(grep ? { grep } : {}),
      ...(opts.shard ? { shard: opts.shard } : {}),
      repeat: opts.repeat,
      retries: opts.retries,
      timeoutScale: opts.timeoutScale,
      concurrency: opts.concurrency,
      abort: abort.signal,
      onCaseStart: (c, _i, total) => {
        if (tty) process.stdout.write(`\r\x1b[2K[${done}/${total}] running ${c.id}`);
      },
      onCaseEnd: (r, _i, total) => {
        done++;
        if (tty) process.stdout.write('\r\x1b[2K');
        process.stdout.write(`${progressLine(done, total, r, { color })}\n`);
      },
    });
    const report = makeReport(manifest, results, { ...opts, outDir }, startedAt, partial);
    await writeJsonReport(report, path.join(outDir, 'report.json'));
    await writeOutputs(report, values.json, values.junit, values.html);
    process.stdout.write(`\n${renderConsole(report, { color })}\n`);
    const selection = Boolean(grep || opts.shard);
    if (selection) {
      process.stdout.write(
        'note: a selection of cases (--grep/--shard) is not a certificate; the verdict above counts the unselected requirements as not tested, and the exit status says whether every selected case passed\n',
      );
    }
    process.stdout.write(`run directory: ${outDir}\n`);
    return exitFor(report, selection);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onInt);
    await teardownAll();
  }
}

function cmdList(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { subject: { type: 'string' } } });
  return (async () => {
    const cases = await loadCases();
    const reg = loadRegistry();
    const manifest = values.subject ? loadManifest(path.resolve(values.subject)) : null;
    const lines: string[] = ['CASES', ''];
    for (const c of cases) {
      const na = manifest ? whyNotApplicable(c, manifest, process.platform as Platform) : null;
      lines.push(`${c.id.padEnd(38)} ${c.requirements.join(', ')}${na ? `   [not applicable: ${na}]` : ''}`);
    }
    const covered = new Set(cases.flatMap((c) => c.requirements));
    lines.push('', 'REQUIREMENTS', '');
    for (const r of reg.requirements) {
      const by = cases.filter((c) => c.requirements.includes(r.id)).map((c) => c.id);
      const mark = covered.has(r.id) ? ' ' : r.level === 'MAY' ? '-' : '!';
      lines.push(`${mark} ${r.id.padEnd(30)} ${r.level.padEnd(6)} ${by.length ? by.join(', ') : '(no case)'}`);
    }
    const uncovered = reg.requirements.filter((r) => r.level !== 'MAY' && !covered.has(r.id));
    lines.push(
      '',
      `${cases.length} cases; ${reg.requirements.length} requirements; ${uncovered.length} MUST/SHOULD without a case (marked !)`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.compliant;
  })();
}

async function cmdAnalyze(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'string' }, junit: { type: 'string' }, html: { type: 'string' } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (!dir) throw new UsageError('analyze needs a run directory');
  let report: Report;
  try {
    report = reportOfRunDir(dir, await loadCases());
  } catch (e) {
    if (e instanceof RunDirError) throw new UsageError(e.message);
    throw e;
  }
  await writeOutputs(report, values.json, values.junit, values.html);
  process.stdout.write(`${renderConsole(report, { color: useColor() })}\n`);
  return exitFor(report);
}

async function cmdDoctor(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { subject: { type: 'string' } } });
  const file = path.resolve(values.subject ?? defaultManifest());
  const manifest = loadManifest(file);
  const out: string[] = [`manifest ${file}: valid (subject ${manifest.name})`];
  const sigs = [
    'SIGTERM',
    'SIGINT',
    'SIGQUIT',
    'SIGHUP',
    'SIGUSR1',
    'SIGUSR2',
    'SIGPIPE',
    'SIGWINCH',
    'SIGKILL',
  ] as const;
  out.push(
    `signals this OS can deliver: ${sigs.filter((s) => canDeliver(s)).join(' ') || 'none'}; cannot: ${sigs.filter((s) => !canDeliver(s)).join(' ') || 'none'}`,
  );
  out.push(
    `descendant tracking: ${descendantScanSupported() ? 'by run marker (finds processes that left the group)' : 'direct child only on this platform'}`,
  );
  for (const [sig, action] of Object.entries(manifest.signals)) out.push(`declared: ${sig} -> ${action}`);
  const dir = path.resolve('.sigcert', 'doctor');
  const ms = await preflight(manifest, dir);
  out.push(`readiness (${manifest.readiness.kind}): ready in ${ms} ms; stopped cleanly`);
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT.compliant;
}

async function cmdFuzz(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      subject: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'time-limit': { type: 'string' },
      'max-commands': { type: 'string' },
      corpus: { type: 'string' },
      'timeout-scale': { type: 'string' },
    },
  });
  const manifestFile = path.resolve(values.subject ?? defaultManifest());
  loadManifest(manifestFile); // a bad manifest is a usage error before anything runs
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed must be an integer (got ${values.seed})`);
  const limit = values['time-limit'];
  const timeLimitMs = limit === undefined ? undefined : parseDuration(limit);
  const { runFuzz } = await import('./fuzz/index.js');
  const r = await runFuzz({
    manifestFile,
    runs: Math.max(1, positiveInt('runs', values.runs, 20)),
    ...(seed !== undefined ? { seed } : {}),
    ...(timeLimitMs !== undefined ? { timeLimitMs } : {}),
    ...(values['max-commands'] ? { maxCommands: positiveInt('max-commands', values['max-commands'], 8) } : {}),
    corpusDir: path.resolve(values.corpus ?? path.join(repoRoot(), 'test', 'property', 'corpus')),
    timeoutScale: values['timeout-scale'] === undefined ? 1 : Number(values['timeout-scale']),
    out: (line) => process.stdout.write(`${line}\n`),
  });
  if (r.error) {
    process.stderr.write(`sigcert: harness error: ${r.error}\n`);
    return EXIT.harness;
  }
  process.stdout.write(
    `${r.ok ? 'no violation' : 'VIOLATION'}: seed ${r.seed}, ${r.sequences} sequences in ${(r.elapsedMs / 1000).toFixed(1)} s (${r.sequencesPerMinute.toFixed(0)} per minute)${r.savedCase ? `; saved ${r.savedCase}` : ''}\n`,
  );
  return r.ok ? EXIT.compliant : EXIT.notCompliant;
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new UsageError(`--time-limit must look like 60s, 2m or 5000ms (got ${s})`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

async function cmdMatrix(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      out: { type: 'string' },
      grep: { type: 'string' },
      concurrency: { type: 'string' },
      'timeout-scale': { type: 'string' },
      html: { type: 'string' },
    },
  });
  const { runMatrix } = await import('./matrix.js');
  const outDir = path.resolve(values.out ?? path.join('reports', 'matrix'));
  const r = await runMatrix({
    subjectsDir: path.join(repoRoot(), 'subjects'),
    outDir,
    concurrency: Math.max(1, positiveInt('concurrency', values.concurrency, 3)),
    timeoutScale: values['timeout-scale'] === undefined ? 1 : Number(values['timeout-scale']),
    ...(values.only ? { only: values.only.split(',').map((x) => x.trim()) } : {}),
    ...(values.grep ? { grep: new RegExp(values.grep) } : {}),
    out: (line) => process.stdout.write(`${line}\n`),
  });
  if (values.html) {
    const { readJsonReport } = await import('./report/index.js');
    // one self-contained page per subject, next to the matrix
    for (const sub of r.subjects) {
      const file = sub.reportFile ? path.join(outDir, sub.reportFile) : undefined;
      if (file && existsSync(file)) {
        const rep = await readJsonReport(file);
        await writeHtmlReport(rep, values.html.replace(/\.html$/, '') + `.${sub.name}.html`);
      }
    }
  }
  process.stdout.write(`${readFileSync(r.files.markdown, 'utf8')}\nwritten: ${r.files.markdown}, ${r.files.json}\n`);
  return EXIT.compliant;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run':
        return await cmdRun(rest);
      case 'list':
        return await cmdList(rest);
      case 'analyze':
        return await cmdAnalyze(rest);
      case 'doctor':
        return await cmdDoctor(rest);
      case 'fuzz':
        return await cmdFuzz(rest);
      case 'matrix':
        return await cmdMatrix(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return cmd === undefined ? EXIT.usage : EXIT.compliant;
      default:
        throw new UsageError(`unknown command: ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sigcert: ${e.message}\n${USAGE.split('\n')[0]}\n`);
      return EXIT.usage;
    }
    if (e instanceof ManifestError) {
      process.stderr.write(`sigcert: bad manifest: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof LaunchError) {
      process.stderr.write(`sigcert: the subject could not be started: ${e.message}\n`);
      return EXIT.harness;
    }
    const code = (e as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sigcert: ${(e as Error).message}\n${USAGE.split('\n')[0]}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`sigcert: harness error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.harness;
  }
}
