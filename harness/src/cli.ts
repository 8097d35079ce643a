/**
 * sigcert — certify a server's signal handling against "Clean Signal Handling" v1.
 *
 * The commands' work. Parsing, --help, --version, did-you-mean and value checks are in cli-program.ts.
 *
 *   sigcert run | list | analyze | doctor | fuzz | matrix | merge      (sigcert <command> --help)
 *
 * Exit codes: 0 compliant, 1 not compliant, 2 usage or manifest error (one line), 3 harness error
 * (including a subject that cannot be started: the reports asked for are still written), 130 interrupted
 * (Ctrl-C, SIGTERM or SIGHUP: every subject is stopped and a partial report is written).
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RunDirError, reportOfRunDir } from './analyze.js';
import { whyNotApplicable } from './case.js';
import { loadCases } from './cases/index.js';
import {
  buildProgram,
  CommanderError,
  commanderMessage,
  type FuzzOptions,
  type MatrixOptions,
  type MergeOptions,
  type RunOptions,
  type SubjectOptions,
  UsageError,
} from './cli-program.js';
import {
  checkOutputDir,
  checkOutputFile,
  clearEarlierRun,
  colorWanted,
  lastFailedIds,
  notStartedOf,
  notStartedResults,
  ProgressBoard,
} from './cli-support.js';
import { casePlan, checkDeclarations, type DoctorCheck } from './doctor.js';
import { History } from './history.js';
import {
  availableTracking,
  canDeliver,
  killAllSync,
  LaunchError,
  launch,
  launchRetryingPortRace,
  loadManifest,
  ManifestError,
  teardownAll,
} from './launch/index.js';
import { closest } from './launch/manifest.js';
import { repoRoot } from './launch/paths.js';
import { makeReport } from './report/assemble.js';
import {
  progressLine,
  type Report,
  renderConsole,
  toJUnitXml,
  writeHtmlReport,
  writeJsonReport,
} from './report/index.js';
import { notStartedText } from './report/labels.js';
import { runCases, selectCases } from './runner.js';
import { loadRegistry } from './spec.js';
import type { Manifest, Platform } from './types.js';

export const EXIT = { compliant: 0, notCompliant: 1, usage: 2, harness: 3, notStarted: 4, interrupted: 130 } as const;

/**
 * A launch that failed: a manifest the launcher could not use is a usage error (2); a subject that could
 * not be spawned, exited or never became ready is not certified (4), its own or its manifest's fault.
 */
function exitForLaunch(e: LaunchError): number {
  return e.kind === 'bad-manifest' ? EXIT.usage : e.kind === 'harness' ? EXIT.harness : EXIT.notStarted;
}

function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function useColor(): boolean {
  return colorWanted(process.stdout);
}

function defaultManifest(): string {
  return path.join(repoRoot(), 'subjects', 'reference', 'manifest.json');
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
  if (report.verdict.notStarted) return EXIT.notStarted;
  if (report.verdict.harnessErrors > 0) return EXIT.harness;
  if (selection) {
    // --grep / --shard: a selection is not a certificate; it passes when no selected case failed
    const bad = report.cases.some((c) => ['fail', 'crash', 'timeout', 'flaky'].includes(c.outcome));
    return bad ? EXIT.notCompliant : EXIT.compliant;
  }
  return report.verdict.compliant ? EXIT.compliant : EXIT.notCompliant;
}

/**
 * Launch once and stop: proves the subject starts before any case runs. A launch that lost a race for
 * its port (EADDRINUSE: another process bound it after the harness allocated it) is the harness's luck,
 * not the subject's fault, and is tried again, twice at most.
 */
async function preflight(manifest: Manifest, dir: string, platform?: Platform): Promise<number> {
  const t0 = Date.now();
  const s = await launchRetryingPortRace(() =>
    launch({
      manifest,
      runDir: path.join(dir, 'preflight'),
      history: new History(),
      ...(platform ? { platform } : {}),
    }),
  );
  const ms = Date.now() - t0;
  await s.teardown();
  return ms;
}

/**
 * The platform a run grades: this machine's, or `--platform`. Windows can be emulated anywhere (no POSIX
 * signal, control channel only); another POSIX platform cannot. The subject must declare it.
 */
function gradedPlatform(o: RunOptions, manifest: Manifest): Platform {
  const host = process.platform as Platform;
  if (o.platform === undefined) return host;
  if (o.platform !== host && o.platform !== 'win32') {
    throw new UsageError(`--platform ${o.platform}: only win32 can be graded on another OS (this machine is ${host})`);
  }
  if (!manifest.platforms.includes(o.platform)) {
    throw new UsageError(
      `--platform ${o.platform}: the subject does not declare it (manifest "platforms": ${manifest.platforms.join(', ')})`,
    );
  }
  return o.platform;
}

async function cmdRun(o: RunOptions): Promise<number> {
  const manifest = loadManifest(path.resolve(o.subject ?? defaultManifest()));
  const platform = gradedPlatform(o, manifest);
  const emulated = platform !== process.platform;
  // everything the run will write at its end, checked before it starts
  checkOutputFile('--json', o.json);
  checkOutputFile('--junit', o.junit);
  checkOutputFile('--html', o.html);
  checkOutputDir('--out', o.out);
  const grep = o.grep ? new RegExp(o.grep) : undefined;
  let cases = await loadCases(manifest);
  let lastFailedFrom: string | undefined;
  if (o.lastFailed) {
    const last = lastFailedIds(path.resolve('.sigcert', 'runs'), manifest.name);
    cases = cases.filter((c) => last.ids.has(c.id));
    lastFailedFrom = last.from;
  }
  const selected = selectCases(cases, grep, o.shard);
  if (selected.length === 0) {
    const by = [o.grep ? `--grep ${JSON.stringify(o.grep)}` : '', o.shard ? `--shard ${o.shard.join('/')}` : '']
      .filter(Boolean)
      .join(' with ');
    throw new UsageError(`${by || 'the selection'} selects no case (sigcert list shows the case ids)`);
  }
  const opts = {
    grep: o.grep,
    shard: o.shard,
    repeat: o.repeat,
    retries: o.retries,
    timeoutScale: o.timeoutScale,
    concurrency: o.concurrency,
    ...(o.bail ? { bail: true } : {}),
    ...(o.first ? { first: o.first } : {}),
    // the platform graded (`emulated`: this machine is another one; `environment.platform` says which)
    platform,
    ...(emulated ? { emulated: true } : {}),
    ...(lastFailedFrom ? { lastFailed: lastFailedFrom } : {}),
  };
  const outDir = path.resolve(o.out ?? path.join('.sigcert', 'runs', new Date().toISOString().replace(/[:.]/g, '-')));
  clearEarlierRun(outDir);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));

  const abort = new AbortController();
  // the first interrupt stops every subject in order and writes the partial report; a second one (a
  // second Ctrl-C, or the terminal closing after the first) kills them all at once, and the report still
  // follows; a third exits at once
  let interrupts = 0;
  const onInt = (sig: NodeJS.Signals) => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(`\nsigcert: interrupted (${sig}); stopping every subject and writing a partial report\n`);
      abort.abort();
      void teardownAll();
    } else if (interrupts === 2) {
      process.stderr.write(`sigcert: interrupted again (${sig}); killing every subject now\n`);
      killAllSync();
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  const stopSignals: NodeJS.Signals[] = [
    'SIGINT',
    'SIGTERM',
    ...(process.platform === 'win32' ? [] : ['SIGHUP' as const]),
  ];
  for (const sig of stopSignals) process.on(sig, onInt);
  const startedAt = new Date();
  const selection = Boolean(grep || o.shard || o.lastFailed);
  try {
    let readyMs: number;
    try {
      readyMs = await preflight(manifest, outDir, platform);
    } catch (e) {
      if (!(e instanceof LaunchError)) throw e;
      if (e.kind === 'harness') throw e; // the harness's own fault: a harness error (exit 3), not the subject's
      // the subject did not start: not certified (no case ran); the reports still say why, for CI to show
      const notStarted = notStartedOf(e);
      const results = notStartedResults(selected, manifest, platform, e.message, o.repeat);
      const report = makeReport(manifest, results, { ...opts, outDir }, startedAt, false, notStarted);
      await writeJsonReport(report, path.join(outDir, 'report.json'));
      await writeOutputs(report, o.json, o.junit, o.html);
      process.stderr.write(`sigcert: not certified: ${notStartedText(notStarted)}\n`);
      return exitForLaunch(e);
    }
    const color = useColor();
    const live = Boolean(process.stdout.isTTY) && !process.env.CI;
    process.stdout.write(
      `sigcert ${toolVersion()}: certifying ${manifest.name}${emulated ? ` as ${platform} (emulated on ${process.platform}: no POSIX signal is sent, control channel only)` : ''} (ready in ${readyMs} ms)${lastFailedFrom ? `; the cases that failed in ${lastFailedFrom}` : ''}\n`,
    );
    // the status line never wraps: \r only returns to the start of the last row
    const board = new ProgressBoard(
      (s) => process.stdout.write(s),
      live,
      Math.max(20, (process.stdout.columns ?? 120) - 1),
    );
    const { results, partial, bailedAfter } = await runCases({
      manifest,
      cases,
      outDir,
      ...(grep ? { grep } : {}),
      ...(o.shard ? { shard: o.shard } : {}),
      ...(o.first ? { first: new RegExp(o.first) } : {}),
      repeat: o.repeat,
      retries: o.retries,
      timeoutScale: o.timeoutScale,
      concurrency: o.concurrency,
      platform,
      abort: abort.signal,
      ...(o.bail ? { bail: true } : {}),
      onCaseStart: (c, i, total) => board.start(`${c.id}#${i}`, total),
      onCaseEnd: (r, i, total) =>
        board.finish(`${r.id}#${i}`, total, progressLine(board.finished + 1, total, r, { color })),
    });
    board.clear();
    const ran = { ...opts, outDir, ...(bailedAfter ? { bailedAfter: bailedAfter.id } : {}) };
    const report = makeReport(manifest, results, ran, startedAt, partial);
    await writeJsonReport(report, path.join(outDir, 'report.json'));
    await writeOutputs(report, o.json, o.junit, o.html);
    process.stdout.write(`\n${renderConsole(report, { color })}\n`);
    if (bailedAfter) {
      const left = results.filter((r) => r.outcome === 'skipped').length;
      process.stdout.write(
        `note: --bail stopped the run after ${bailedAfter.id} (${bailedAfter.outcome}); ${left} cases did not run, so this is not a certificate\n`,
      );
    } else if (selection) {
      process.stdout.write(
        'note: a selection of cases (--grep/--shard/--last-failed) is not a certificate; the verdict above counts the unselected requirements as not tested, and the exit status says whether every selected case passed\n',
      );
    }
    process.stdout.write(`run directory: ${outDir}\n`);
    // a run stopped by --bail has a case that did not pass: not compliant, whatever the verdict of the cases run
    if (bailedAfter && !report.partial) return report.verdict.harnessErrors > 0 ? EXIT.harness : EXIT.notCompliant;
    return exitFor(report, selection);
  } finally {
    for (const sig of stopSignals) process.off(sig, onInt);
    await teardownAll();
  }
}

function cmdList(values: SubjectOptions): Promise<number> {
  return (async () => {
    // the catalog for a manifest: its fixed cases and what its declared map generates (default: the reference)
    const manifest = loadManifest(path.resolve(values.subject ?? defaultManifest()));
    const cases = await loadCases(manifest);
    const reg = loadRegistry();
    const lines: string[] = ['CASES', ''];
    for (const c of cases) {
      const na = whyNotApplicable(c, manifest, process.platform as Platform);
      lines.push(`${c.id.padEnd(38)} ${c.requirements.join(', ')}${na ? `   [not applicable: ${na}]` : ''}`);
    }
    const judges = (c: (typeof cases)[number]): readonly string[] => [...c.requirements, ...(c.alsoJudges ?? [])];
    const covered = new Set<string>(cases.flatMap(judges));
    lines.push('', 'REQUIREMENTS', '');
    for (const r of reg.requirements) {
      const by = cases.filter((c) => judges(c).includes(r.id)).map((c) => c.id);
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
    report = await reportOfRunDir(dir, loadCases);
  } catch (e) {
    if (e instanceof RunDirError) throw new UsageError(e.message);
    throw e;
  }
  await writeOutputs(report, values.json, values.junit, values.html);
  process.stdout.write(`${renderConsole(report, { color: useColor() })}\n`);
  return exitFor(report);
}

async function cmdDoctor(values: SubjectOptions): Promise<number> {
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
    `descendant tracking: ${(() => {
      const t = availableTracking();
      return t.escapesVisible
        ? `${t.mechanism} (a process cannot leave it)`
        : `${t.mechanism}: ${t.reason ?? ''}; escaped descendants are not tested`;
    })()}`,
  );
  for (const [sig, action] of Object.entries(manifest.signals)) out.push(`declared: ${sig} -> ${action}`);
  const dir = path.resolve('.sigcert', 'doctor');
  // start it once, check every declaration against the running server, stop it
  const t0 = Date.now();
  const s = await launchRetryingPortRace(() =>
    launch({ manifest, runDir: path.join(dir, 'preflight'), history: new History() }),
  );
  const ms = Date.now() - t0;
  let checks: DoctorCheck[];
  try {
    checks = await checkDeclarations(s, manifest);
  } finally {
    await s.teardown();
  }
  out.push(`readiness (${manifest.readiness.kind}): ready in ${ms} ms; stopped cleanly`);
  if (checks.length > 0) out.push('declared capabilities and endpoints, checked against the running server:');
  for (const c of checks)
    out.push(`  ${c.status === 'ok' ? 'ok  ' : c.status === 'fail' ? 'FAIL' : '--  '} ${c.what}: ${c.detail}`);
  out.push(...casePlan(await loadCases(manifest), manifest, process.platform as Platform));
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0)
    out.push(`${failed.length} declaration(s) the server does not live up to: ${failed.map((c) => c.what).join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return failed.length > 0 ? EXIT.notCompliant : EXIT.compliant;
}

/**
 * Where shrunk failing sequences go: the repository's regression corpus (replayed by `npm test`) in a
 * checkout; `.sigcert/corpus` in the working directory when sigcert is an installed package.
 */
function defaultCorpus(): string {
  const repo = path.join(repoRoot(), 'test', 'property');
  return existsSync(repo) ? path.join(repo, 'corpus') : path.resolve('.sigcert', 'corpus');
}

async function cmdFuzz(o: FuzzOptions): Promise<number> {
  const manifestFile = path.resolve(o.subject ?? defaultManifest());
  loadManifest(manifestFile); // a bad manifest is a usage error before anything runs
  if (o.corpus) checkOutputDir('--corpus', o.corpus);
  const { runFuzz } = await import('./fuzz/index.js');
  const r = await runFuzz({
    manifestFile,
    runs: o.runs,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.timeLimitMs !== undefined ? { timeLimitMs: o.timeLimitMs } : {}),
    ...(o.maxCommands !== undefined ? { maxCommands: o.maxCommands } : {}),
    corpusDir: path.resolve(o.corpus ?? defaultCorpus()),
    timeoutScale: o.timeoutScale,
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

async function cmdMatrix(values: MatrixOptions): Promise<number> {
  const subjectsDir = path.join(repoRoot(), 'subjects');
  if (values.only) {
    const known = readdirSync(subjectsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(subjectsDir, d.name, 'manifest.json')))
      .map((d) => d.name)
      .sort();
    for (const name of values.only) {
      if (known.includes(name)) continue;
      const near = closest(name, known);
      throw new UsageError(
        `--only: no subject named ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}; subjects: ${known.join(', ')}`,
      );
    }
  }
  checkOutputDir('--out', values.out);
  checkOutputFile('--html', values.html);
  const { runMatrix } = await import('./matrix.js');
  const outDir = path.resolve(values.out ?? path.join('reports', 'matrix'));
  const r = await runMatrix({
    subjectsDir,
    outDir,
    concurrency: values.concurrency,
    timeoutScale: values.timeoutScale,
    ...(values.only ? { only: values.only } : {}),
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

async function cmdMerge(files: string[], o: MergeOptions): Promise<number> {
  checkOutputFile('--json', o.json);
  checkOutputFile('--junit', o.junit);
  checkOutputFile('--html', o.html);
  const { mergeReportFiles, MergeError } = await import('./merge.js');
  let report: Report;
  try {
    report = mergeReportFiles(files);
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(e.message);
    throw e;
  }
  await writeOutputs(report, o.json, o.junit, o.html);
  process.stdout.write(`${renderConsole(report, { color: useColor() })}\n`);
  process.stdout.write(`merged ${files.length} report${files.length === 1 ? '' : 's'}: ${report.cases.length} cases\n`);
  return exitFor(report);
}

export async function main(argv: string[]): Promise<number> {
  const { program, result } = buildProgram(
    {
      run: cmdRun,
      list: cmdList,
      analyze: (argv, o) => {
        checkOutputFile('--json', o.json);
        checkOutputFile('--junit', o.junit);
        checkOutputFile('--html', o.html);
        return cmdAnalyze(argv);
      },
      doctor: cmdDoctor,
      fuzz: cmdFuzz,
      matrix: cmdMatrix,
      merge: cmdMerge,
    },
    toolVersion(),
  );
  try {
    if (argv.length === 0) {
      process.stdout.write(program.helpInformation());
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end parsing with exit code 0
      if (e.exitCode === 0) return EXIT.compliant;
      process.stderr.write(`sigcert: ${commanderMessage(e)}\n`);
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`sigcert: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof ManifestError) {
      process.stderr.write(`sigcert: bad manifest: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof LaunchError) {
      process.stderr.write(
        e.kind === 'harness'
          ? `sigcert: harness error: ${e.message}\n`
          : `sigcert: ${notStartedText(notStartedOf(e))}\n`,
      );
      return exitForLaunch(e);
    }
    const code = (e as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`sigcert: ${(e as Error).message.split('\n')[0]}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`sigcert: harness error: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.harness;
  }
}
