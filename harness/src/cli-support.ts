/**
 * What `sigcert run` needs besides running cases: output paths checked before anything starts, the
 * cases that failed in the last run (`--last-failed`), the report of a subject that never started, and
 * the live progress line.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { type CaseDef, whyNotApplicable } from './case.js';
import { UsageError } from './cli-program.js';
import type { LaunchError } from './launch/index.js';
import type { CaseResult, NotStarted, Report } from './report/index.js';
import type { Manifest, Outcome, Platform } from './types.js';

/** Outcomes `--last-failed` runs again. */
export const FAILED_OUTCOMES: readonly Outcome[] = ['fail', 'non-strict', 'flaky', 'timeout', 'crash', 'harness-error'];

/**
 * Throw a UsageError when a file we will write at the end of a run cannot be written: it is a folder,
 * a parent is a file, or the nearest existing folder (or the file itself) is not writable. Checked before
 * the run starts, so a long run is not lost to a typo. Creates nothing.
 */
export function checkOutputFile(flag: string, file: string | undefined): void {
  if (file === undefined) return;
  if (file.trim() === '') throw new UsageError(`${flag}: empty path`);
  const abs = path.resolve(file);
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new UsageError(`${flag} ${file}: is a directory`);
    writable(flag, file, abs);
    return;
  }
  checkFolder(flag, file, path.dirname(abs));
}

/** Like checkOutputFile for a folder we will create or fill. */
/**
 * Before a run into an `--out` that holds an earlier one: remove the earlier run's case folders (each
 * holds a `history.json`: every attempt, repeat and case the new selection may not run) and its
 * `preflight` folder, so that the report, `sigcert analyze` and the evidence are this run's only.
 * Nothing else in the folder is touched. Returns how many folders went.
 */
export function clearEarlierRun(outDir: string): number {
  if (!existsSync(outDir)) return 0;
  let removed = 0;
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(outDir, entry.name);
    if (entry.name === 'preflight' || existsSync(path.join(dir, 'history.json'))) {
      rmSync(dir, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

export function checkOutputDir(flag: string, dir: string | undefined): void {
  if (dir === undefined) return;
  const abs = path.resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UsageError(`${flag} ${dir}: is a file, not a folder`);
  checkFolder(flag, dir, abs);
}

function checkFolder(flag: string, given: string, folder: string): void {
  let dir = folder;
  while (!existsSync(dir)) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (!statSync(dir).isDirectory()) {
    throw new UsageError(`${flag} ${given}: ${dir} is a file, not a folder`);
  }
  writable(flag, given, dir);
}

function writable(flag: string, given: string, target: string): void {
  try {
    accessSync(target, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`${flag} ${given}: not writable (${code} on ${target})`);
  }
}

/** Every run directory under `runsDir` holding a report.json, newest first (names are ISO times). */
function runReports(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(runsDir, d.name, 'report.json')))
    .map((d) => path.join(runsDir, d.name, 'report.json'))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs || b.localeCompare(a));
}

/**
 * The ids of the cases that did not pass in the newest run of this subject under `runsDir`
 * (`.sigcert/runs`). A UsageError when there is no such run or nothing in it failed.
 */
export function lastFailedIds(runsDir: string, subject: string): { ids: Set<string>; from: string } {
  for (const file of runReports(runsDir)) {
    let report: Report;
    try {
      report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    } catch {
      continue; // a run that was cut short while writing: look further back
    }
    if (report.subject?.name !== subject) continue;
    const ids = new Set(report.cases.filter((c) => FAILED_OUTCOMES.includes(c.outcome)).map((c) => c.id));
    const from = path.dirname(file);
    if (ids.size === 0) throw new UsageError(`--last-failed: nothing failed in the last run of ${subject} (${from})`);
    return { ids, from };
  }
  throw new UsageError(`--last-failed: no earlier run of ${subject} in ${runsDir}`);
}

/** What a launch error says about a subject that did not start, for the report's `not certified` verdict. */
export function notStartedOf(e: LaunchError): NotStarted {
  return {
    kind: e.kind,
    reason: e.message,
    ...(e.exit ? { exit: { code: e.exit.code, signal: e.exit.signal } } : {}),
    ...(e.stderrTail ? { stderrTail: e.stderrTail } : {}),
  };
}

/**
 * The results of a run whose subject did not start: each selected case is skipped, not run, with that
 * reason (or not applicable, with its own reason), so every report still says what happened; the
 * verdict is `not certified` (notStartedOf), not a harness error and not a requirement failure.
 */
export function notStartedResults(
  selected: readonly CaseDef[],
  manifest: Manifest,
  platform: Platform,
  reason: string,
  repeat: number,
): CaseResult[] {
  const out: CaseResult[] = [];
  for (const c of selected) {
    const na = whyNotApplicable(c, manifest, platform);
    for (let rep = 1; rep <= repeat; rep++) {
      out.push({
        id: c.id,
        title: c.title,
        requirements: [...c.requirements],
        edgeCases: [...(c.edgeCases ?? [])],
        outcome: na ? 'not-applicable' : 'skipped',
        reason: na ?? `not run: the subject did not start: ${reason}`,
        verdicts: [],
        metrics: {},
        durationMs: 0,
        attempts: 0,
        timeline: [],
        ...(repeat > 1 ? { repeat: rep } : {}),
      });
    }
  }
  return out;
}

/** Colours: FORCE_COLOR (not "0") forces them, NO_COLOR turns them off, else a terminal outside CI. */
export function colorWanted(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY) && !env.CI;
}

/**
 * The live status line on a terminal: every case running at the moment (with --concurrency there
 * are several), redrawn in place; finished cases are printed above it as plain lines.
 */
export class ProgressBoard {
  private readonly running = new Map<string, number>();
  private done = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly live: boolean,
    private readonly width = 120,
  ) {}

  start(id: string, total: number): void {
    this.running.set(id, Date.now());
    this.draw(total);
  }

  /** A case finished: its line goes above the status line. */
  finish(id: string, total: number, line: string): void {
    this.running.delete(id);
    this.done++;
    if (this.live) this.write('\r\x1b[2K');
    this.write(`${line}\n`);
    this.draw(total);
  }

  get finished(): number {
    return this.done;
  }

  /** The status line's text (without escape codes). */
  status(total: number, now = Date.now()): string {
    // keys are `<case id>#<job index>` (a case can run more than once with --repeat); show the id
    const parts = [...this.running].map(([key, t]) => `${key.replace(/#\d+$/, '')} ${Math.round((now - t) / 1000)}s`);
    const s = `[${this.done}/${total}] running ${parts.length}: ${parts.join(', ')}`;
    return s.length > this.width ? `${s.slice(0, this.width - 1)}…` : s;
  }

  private draw(total: number): void {
    if (!this.live) return;
    this.write(`\r\x1b[2K${this.running.size > 0 ? this.status(total) : ''}`);
  }

  /** Remove the status line (before the summary). */
  clear(): void {
    if (this.live) this.write('\r\x1b[2K');
  }
}
