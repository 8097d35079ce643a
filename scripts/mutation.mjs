#!/usr/bin/env node
// `npm run mutation`: mutation testing of the reference, where each mutant is judged by a certification
// (stryker.config.mjs, scripts/mutation-test.mjs, docs/mutation.md).
//
//   npm run mutation -- [--mutate FILE]... [--part I/N] [--time-limit DURATION] [--grep RE] [--supervised]
//                       [--summary]
//
//   --mutate FILE          a file to mutate (repeatable, or comma-separated; FILE:FROM-TO for a range of
//                          lines, as CI splits the largest files); default: every file of
//                          stryker.config.mjs and stryker.supervised.config.mjs. reference/src/supervised/*
//                          is certified through the supervised manifest, anything else through the plain one.
//   --time-limit DURATION  stop certifying mutants after DURATION (90m, 2h, 3600s; a bare number is
//                          minutes): the ones left are reported as not run, never as survivors
//   --part I/N             only the I-th of N parts of each file (line ranges with about as many mutants
//                          each, together exactly the file's mutants): how CI splits the largest files
//   --grep RE              certify only the cases matching RE (faster, not a certification: documented
//                          as a selection in the summary)
//   --supervised           certify through the supervised manifest whatever the file (stryker.supervised.
//                          config.mjs): code both modes share that only the supervised mode reaches
//                          (durable.ts's in-flight count); reports get a `.supervised` suffix
//   --summary              run nothing: the figures again from the reports of the last run of each file
//                          (after editing the triage list)
//
// Stryker runs once per file (one sandbox, one build, one initial certification, then one per mutant).
// Reports: reports/mutation/<file>.html and .json (Stryker's), <file>.runs.jsonl (one line per
// certification), summary.md and summary.json (the figures per file). Every survivor must be triaged in
// docs/mutation-survivors.json (equivalent, out of scope, or a blind spot of the harness).
// Exit: 0 done, every survivor triaged; 1 untriaged survivors or a file Stryker could not run; 2 usage.
//
// SIGCERT_HEAVY_LOCK=FILE makes every certification hold `flock FILE` (a machine shared with other heavy
// runs; scripts/mutation-test.mjs). SIGCERT_MUTATION_TIMEOUT_MIN (default 15) is Stryker's own timeout
// on one certification, beyond its measured duration.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { REFERENCE_FILES } from '../stryker.config.mjs';
import { SUPERVISED_FILES } from '../stryker.supervised.config.mjs';

const root = resolve(import.meta.dirname, '..');
const outDir = join(root, 'reports', 'mutation');
const triageFile = join(root, 'docs', 'mutation-survivors.json');

function usage(message) {
  process.stderr.write(`mutation: ${message}\n`);
  process.stderr.write(
    'usage: npm run mutation -- [--mutate FILE]... [--part I/N] [--time-limit DURATION] [--grep RE] [--supervised] [--summary]\n',
  );
  process.exit(2);
}

function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(s ?? '');
  if (!m) usage(`--time-limit: not a duration: ${s} (e.g. 90m, 2h, 3600s)`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 'm'];
}

const files = [];
let limitMs = null;
let grep;
let part = null;
let summaryOnly = false;
let supervised = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
  const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
  if (flag === '--mutate')
    files.push(
      ...value()
        .split(',')
        .filter((f) => f !== ''),
    );
  else if (flag === '--time-limit') limitMs = parseDuration(value());
  else if (flag === '--grep') grep = value();
  else if (flag === '--summary') summaryOnly = true;
  else if (flag === '--supervised') supervised = true;
  else if (flag === '--part') {
    const m = /^(\d+)\/(\d+)$/.exec(value());
    if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) usage(`--part: expected I/N with 1 <= I <= N`);
    part = { i: Number(m[1]), n: Number(m[2]) };
  } else if (flag === '-h' || flag === '--help') {
    const head = readFileSync(import.meta.filename, 'utf8')
      .split('\n')
      .slice(1);
    process.stdout.write(
      head
        .slice(
          0,
          head.findIndex((l) => !l.startsWith('//')),
        )
        .join('\n'),
    );
    process.stdout.write('\n');
    process.exit(0);
  } else usage(`unknown option: ${a}`);
}
if (files.length === 0) files.push(...REFERENCE_FILES, ...SUPERVISED_FILES);
/** `reference/src/bus.ts:1-200` -> the file and its line range (Stryker's own syntax), or null. */
const RANGE = /^(reference\/src\/.+\.ts)(?::(\d+)-(\d+))?$/;
const pathOf = (f) => RANGE.exec(f)?.[1] ?? f;
for (const f of files) {
  if (!RANGE.test(f)) usage(`--mutate: not a reference source file (FILE or FILE:FROM-TO): ${f}`);
  if (!existsSync(join(root, pathOf(f)))) usage(`--mutate: file not found: ${pathOf(f)}`);
}

/**
 * `--part i/n`: the i-th of n line ranges of `file` holding about as many mutants each, cut only where no
 * mutant spans the cut (Stryker mutates a node only when its range holds all of it), so the n parts
 * together are exactly the file's mutants. Uses Stryker's own instrumenter to find them.
 */
async function partRange(file, { i, n }) {
  const { createInstrumenter } = await import('@stryker-mutator/instrumenter');
  const { createInjector } = await import('typed-inject');
  const quiet = new Proxy({}, { get: (_, k) => (String(k).startsWith('is') ? () => false : () => {}) });
  const injector = createInjector()
    .provideValue('logger', quiet)
    .provideValue('getLogger', () => quiet)
    .provideValue('options', {});
  const content = readFileSync(join(root, file), 'utf8');
  const { mutants } = await createInstrumenter(injector).instrument([{ name: file, content, mutate: true }], {
    plugins: null,
    excludedMutations: [],
    ignorers: [],
    noHeader: false,
  });
  const spans = mutants.map((m) => [m.location.start.line + 1, m.location.end.line + 1]);
  const lines = content.split('\n').length;
  const cut = (target) => {
    // the line nearest to the target that no mutant spans (a cut before line b)
    for (let d = 0; d < lines; d++) {
      for (const b of [target - d, target + d]) {
        if (b > 1 && b <= lines && spans.every(([from, to]) => !(from < b && to >= b))) return b;
      }
    }
    return lines + 1;
  };
  const starts = spans.map(([from]) => from).sort((a, b) => a - b);
  const at = (k) => (k === 0 ? 1 : k === n ? lines + 1 : cut(starts[Math.floor((k * starts.length) / n)] ?? lines + 1));
  return `${file}:${at(i - 1)}-${at(i) - 1}`;
}

const started = Date.now();
const deadline = limitMs === null ? null : started + limitMs;
const slug = (f) =>
  f
    .replace(/^reference\/src\//, '')
    .replace(/\.ts(?::(\d+)-(\d+))?$/, (_, from, to) => (from ? `.L${from}-${to}` : ''))
    .replaceAll('/', '-') +
  (supervised ? '.supervised' : '') +
  (grep ? '.selection' : '');
const configOf = (f) =>
  supervised || f.startsWith('reference/src/supervised/') ? 'stryker.supervised.config.mjs' : 'stryker.config.mjs';

function readTriage() {
  if (!existsSync(triageFile)) return [];
  return JSON.parse(readFileSync(triageFile, 'utf8')).survivors ?? [];
}

/** Runs Stryker on one file; resolves to its exit code. Ctrl-C is passed on to Stryker. */
function runStryker(file, s) {
  const bin = join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
  const env = {
    ...process.env,
    SIGCERT_MUTATION_REPORT: `reports/mutation/${s}`,
    SIGCERT_MUTATION_LOG: join(outDir, `${s}.runs.jsonl`),
    ...(deadline !== null ? { SIGCERT_MUTATION_DEADLINE: String(deadline) } : {}),
    ...(grep ? { SIGCERT_MUTATION_GREP: grep } : {}),
  };
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, 'run', configOf(file), '--mutate', file], {
      cwd: root,
      env,
      stdio: 'inherit',
    });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      res(code ?? (signal ? 128 : 1));
    });
  });
}

/** The mutation-testing-elements page for a report (used when this script changed Stryker's JSON). */
function writeHtml(path, report) {
  const require = createRequire(join(root, 'node_modules', '@stryker-mutator', 'core', 'package.json'));
  const script = readFileSync(require.resolve('mutation-testing-elements/dist/mutation-test-elements.js'), 'utf8');
  const data = JSON.stringify(report).replaceAll('<', '\\u003c');
  writeFileSync(
    path,
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>sigcert mutation report</title><script>${script}</script></head>\n` +
      `<body><mutation-test-report-app></mutation-test-report-app>\n` +
      `<script>document.querySelector('mutation-test-report-app').report = ${data};</script></body></html>\n`,
  );
}

const readLines = (path) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l))
    : [];

/** Figures of one file from Stryker's JSON report, its certification log and the triage list. */
function summarize(file, s, wallMs, strykerCode) {
  const jsonPath = join(outDir, `${s}.json`);
  const runs = readLines(join(outDir, `${s}.runs.jsonl`));
  if (!existsSync(jsonPath)) return { file, error: `Stryker exited ${strykerCode} without a report`, wallMs };
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const mutants = Object.values(report.files).flatMap((f) => f.mutants);
  // mutants the time limit left untested: Stryker saw exit 0, they are not survivors
  const skipped = new Set(runs.filter((r) => r.result === 'skipped').map((r) => r.mutant));
  const unconfirmed = new Set(runs.filter((r) => r.result === 'survived' && r.unconfirmed).map((r) => r.mutant));
  let changed = false;
  for (const m of mutants) {
    if (skipped.has(m.id) && m.status === 'Survived') {
      m.status = 'Ignored';
      m.statusReason = 'not run: the time limit was reached';
      changed = true;
    }
  }
  if (changed) {
    writeFileSync(jsonPath, `${JSON.stringify(report)}\n`);
    writeHtml(join(outDir, `${s}.html`), report);
  }
  const triage = readTriage().filter((t) => t.file === pathOf(file));
  // the whole location tells apart two equal mutations starting at one place (`a <= 0 || b`: the
  // condition and its first operand, each -> `false`)
  const at = ({ start: a, end: b }) => `${a.line}:${a.column}-${b.line}:${b.column}`;
  const keyOf = (t) => `${t.location}|${t.mutator}|${t.replacement}`;
  const triaged = new Map(triage.map((t) => [keyOf(t), t]));
  const count = (st) => mutants.filter((m) => m.status === st).length;
  const survivors = mutants
    .filter((m) => m.status === 'Survived')
    .map((m) => {
      const key = keyOf({ location: at(m.location), mutator: m.mutatorName, replacement: m.replacement });
      return {
        id: m.id,
        line: m.location.start.line,
        location: at(m.location),
        mutator: m.mutatorName,
        replacement: m.replacement,
        unconfirmedKill: unconfirmed.has(m.id),
        triage: triaged.get(key)?.status ?? 'untriaged',
      };
    });
  const equivalent = survivors.filter((v) => v.triage === 'equivalent').length;
  const killed = count('Killed');
  const tested = killed + count('Survived') + count('Timeout');
  const nonEquivalent = tested - equivalent;
  return {
    file: supervised && !pathOf(file).startsWith('reference/src/supervised/') ? `${file} (supervised)` : file,
    selection: grep ?? null,
    mutants: mutants.length,
    tested,
    killed,
    survived: count('Survived'),
    equivalent,
    outOfScope: survivors.filter((v) => v.triage === 'out-of-scope').length,
    blindSpots: survivors.filter((v) => v.triage === 'blind-spot').length,
    untriaged: survivors.filter((v) => v.triage === 'untriaged'),
    timeouts: count('Timeout'),
    // time spent certifying (the harness's own durations, without queueing for the lock)
    certifyingMs: runs.reduce((sum, r) => sum + (r.certMs ?? 0), 0),
    notRun: mutants.length - tested,
    score: nonEquivalent > 0 ? killed / nonEquivalent : null,
    wallMs,
    survivors,
  };
}

const pct = (x) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const mins = (ms) => `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;

mkdirSync(outDir, { recursive: true });
const results = [];
for (const whole of files) {
  const file = part !== null && !/:\d+-\d+$/.test(whole) ? await partRange(whole, part) : whole;
  const s = part !== null ? `${slug(whole)}.part${part.i}of${part.n}` : slug(file);
  if (summaryOnly) {
    // figures again from the reports of an earlier run (after the triage list changed)
    const previous = join(outDir, `${s}.summary.json`);
    if (!existsSync(previous)) usage(`--summary: no earlier run of ${file} in reports/mutation/`);
    const r = summarize(file, s, JSON.parse(readFileSync(previous, 'utf8')).wallMs, 0);
    writeFileSync(previous, `${JSON.stringify(r, null, 2)}\n`);
    results.push(r);
    continue;
  }
  if (deadline !== null && Date.now() > deadline) {
    results.push({ file, error: 'not started: the time limit was reached', wallMs: 0 });
    continue;
  }
  rmSync(join(outDir, `${s}.runs.jsonl`), { force: true });
  rmSync(join(outDir, `${s}.json`), { force: true });
  process.stdout.write(`\n=== mutation: ${file} (${configOf(file)}${grep ? `, selection --grep ${grep}` : ''})\n`);
  const t0 = Date.now();
  const code = await runStryker(file, s);
  const r = summarize(file, s, Date.now() - t0, code);
  writeFileSync(join(outDir, `${s}.summary.json`), `${JSON.stringify(r, null, 2)}\n`);
  results.push(r);
  if (code === 130 || code === 128) break; // interrupted
}

const header =
  '| file | mutants | killed | survived | equivalent | out of scope | blind spots | untriaged | timeouts | not run | score | wall time | certifying |';
const rows = results.map((r) =>
  r.error
    ? `| ${r.file} | ${r.error} ||||||||||||`
    : `| ${r.file} | ${r.mutants} | ${r.killed} | ${r.survived} | ${r.equivalent} | ${r.outOfScope} | ${r.blindSpots} | ${r.untriaged.length} | ${r.timeouts} | ${r.notRun} | ${pct(r.score)} | ${mins(r.wallMs)} | ${mins(r.certifyingMs)} |`,
);
const table = [header, `|${'---|'.repeat(13)}`, ...rows].join('\n');
const note =
  'score = killed / (killed + survived + timeouts - equivalent); a mutant is killed when its certification is not fully compliant; ' +
  'wall time: Stryker on the file (build, initial run, mutants, queueing for the lock); certifying: the certifications alone' +
  (grep ? `\nselection: only the cases matching --grep ${grep} were run (not a certification)` : '');
writeFileSync(join(outDir, 'summary.md'), `${table}\n\n${note}\n`);
writeFileSync(
  join(outDir, 'summary.json'),
  `${JSON.stringify({ startedAt: new Date(started).toISOString(), results }, null, 2)}\n`,
);
process.stdout.write(`\n${table}\n\n${note}\n`);

const untriaged = results.flatMap((r) => (r.untriaged ?? []).map((u) => ({ file: r.file, ...u })));
for (const u of untriaged) {
  process.stdout.write(
    `untriaged survivor: ${u.file}:${u.location} ${u.mutator} -> ${JSON.stringify(u.replacement)}${u.unconfirmedKill ? ' (failed once, then passed)' : ''}\n`,
  );
}
if (untriaged.length > 0) process.stdout.write(`triage every survivor in ${triageFile.slice(root.length + 1)}\n`);
process.exit(untriaged.length > 0 || results.some((r) => r.error) ? 1 : 0);
