/**
 * The runner: a fresh subject per case, cases in a bounded pool (each launch gets its own ports),
 * retries graded honestly (a pass after a retry is `flaky`), repeats, shards, a timeout per case,
 * and teardown of every launched process whatever happens.
 *
 * Everything the runner decides is an event of the case's history before `history.json` is written
 * (the attempt, a timeout, an error, an interruption, not-applicable, skipped), and every result is
 * graded from that history by grade/result.ts: `sigcert analyze` of the run directory is the same
 * function over the same files.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CaseContext, type CaseDef, notApplicableTo, SubjectFaultError } from './case.js';
import { caseResult, combineAttempts, compareResults } from './grade/result.js';
import { History } from './history.js';
import {
  LaunchError,
  launch,
  SignalUnsupportedError,
  type Subject,
  SubjectExitedError,
  WaitTimeoutError,
} from './launch/index.js';
import type { CaseResult } from './report/model.js';
import { type Manifest, type Outcome, type Platform, TIMEOUT_MS } from './types.js';

export interface RunnerOptions {
  manifest: Manifest;
  cases: CaseDef[];
  /** folder for per-case run directories */
  outDir: string;
  /** only cases whose id or requirement IDs match */
  grep?: RegExp;
  /** [index (1-based), total] */
  shard?: [number, number];
  /** cases whose id matches start before the others (with `bail`: a quick red from the likely failures) */
  first?: RegExp;
  repeat?: number;
  retries?: number;
  timeoutScale?: number;
  concurrency?: number;
  /**
   * The platform the subject is graded as (default: this machine's). `win32` on Linux or macOS treats the
   * subject as if on Windows: the cases that need POSIX signals are not-applicable with the reason, and
   * every launch refuses to send a signal (a case that tries is a harness error).
   */
  platform?: Platform;
  /** stop starting new cases once aborted (Ctrl-C) */
  abort?: AbortSignal;
  /**
   * stop starting new cases once one did not pass (BAIL_ON): the cases running finish, the rest are
   * `skipped` with the reason; for a quick red, not a certificate
   */
  bail?: boolean;
  onCaseStart?: (c: CaseDef, index: number, total: number) => void;
  onCaseEnd?: (r: CaseResult, index: number, total: number) => void;
}

export interface RunResult {
  results: CaseResult[];
  partial: boolean;
  /** with `bail`: the first case that did not pass, after which no case started */
  bailedAfter?: { id: string; outcome: Outcome };
}

/** The outcomes that stop a `bail` run: every one that keeps a run from being fully compliant. */
export const BAIL_ON: readonly Outcome[] = ['fail', 'non-strict', 'timeout', 'crash', 'harness-error', 'flaky'];

/** Cases selected by --grep and --shard, in a stable order. */
export function selectCases(cases: CaseDef[], grep?: RegExp, shard?: [number, number], first?: RegExp): CaseDef[] {
  let list = [...cases].sort((a, b) => a.id.localeCompare(b.id));
  if (grep)
    list = list.filter((c) => grep.test(c.id) || c.requirements.some((r) => grep.test(r)) || grep.test(c.title));
  if (shard) {
    const [i, n] = shard;
    list = list.filter((_, k) => k % n === i - 1);
  }
  // --first: those cases start first (the order only, never the selection), the rest as before
  if (first) list = [...list.filter((c) => first.test(c.id)), ...list.filter((c) => !first.test(c.id))];
  return list;
}

const RETRYABLE: Outcome[] = ['fail', 'non-strict', 'timeout', 'crash', 'harness-error'];

export async function runCases(opts: RunnerOptions): Promise<RunResult> {
  const platform = opts.platform ?? (process.platform as Platform);
  const selected = selectCases(opts.cases, opts.grep, opts.shard, opts.first);
  const repeat = Math.max(1, opts.repeat ?? 1);
  const jobs: { c: CaseDef; rep: number }[] = [];
  for (const c of selected) for (let rep = 1; rep <= repeat; rep++) jobs.push({ c, rep });
  const results: (CaseResult | undefined)[] = new Array(jobs.length);
  const total = jobs.length;
  let next = 0;
  let partial = false;
  let bailedAfter: RunResult['bailedAfter'];

  const worker = async (limit: { value: number }) => {
    for (;;) {
      if (next >= limit.value) return;
      const k = next++;
      const { c, rep } = jobs[k]!;
      const r0 = repeat > 1 ? rep : undefined;
      if (opts.abort?.aborted) {
        partial = true;
        results[k] = notRun(c, opts, 'skipped', 'interrupted before it started', r0);
        continue;
      }
      if (bailedAfter) {
        const why = `not run: --bail stopped the run after ${bailedAfter.id} (${bailedAfter.outcome})`;
        results[k] = notRun(c, opts, 'skipped', why, r0);
        continue;
      }
      opts.onCaseStart?.(c, k, total);
      const na = notApplicableTo(c, opts.manifest, platform);
      const r = na ? notRun(c, opts, 'not-applicable', na.reason, r0, na.needs) : await runWithRetries(c, opts, r0);
      results[k] = r;
      if (opts.bail && !bailedAfter && BAIL_ON.includes(r.outcome)) bailedAfter = { id: r.id, outcome: r.outcome };
      opts.onCaseEnd?.(r, k, total);
    }
  };
  // shared cases run in the pool; exclusive (measurement) cases run one at a time afterwards
  jobs.sort((a, b) => Number(a.c.exclusive === true) - Number(b.c.exclusive === true));
  const shared = jobs.filter((j) => !j.c.exclusive).length;
  const n = Math.max(1, Math.min(opts.concurrency ?? 1, shared));
  const limit = { value: shared };
  await Promise.all(Array.from({ length: n }, () => worker(limit)));
  limit.value = jobs.length;
  await worker(limit);
  if (opts.abort?.aborted) partial = true;
  const exclusive = new Set(selected.filter((c) => c.exclusive).map((c) => c.id));
  const done = results.filter((r): r is CaseResult => r !== undefined);
  return {
    results: done.sort(compareResults((id) => exclusive.has(id))),
    partial,
    ...(bailedAfter ? { bailedAfter } : {}),
  };
}

/** The folder of one attempt of one case: `<id>[.r<repeat>][.a<attempt>]`. */
/**
 * The folder of one attempt of one case, created empty: an earlier run into the same `--out` leaves
 * its histories, logs and launch folders there, which must not pass for this run's evidence.
 */
function attemptDir(outDir: string, id: string, attempt: number, rep?: number): string {
  const dir = path.join(outDir, `${id}${rep !== undefined ? `.r${rep}` : ''}${attempt > 1 ? `.a${attempt}` : ''}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A case that does not run still leaves a history: why it did not run. */
function notRun(
  c: CaseDef,
  opts: RunnerOptions,
  outcome: 'not-applicable' | 'skipped',
  reason: string,
  rep?: number,
  needs?: string[],
): CaseResult {
  const history = new History();
  history.add('harness', 'attempt', { case: c.id, attempt: 1, ...(rep !== undefined ? { repeat: rep } : {}) });
  history.add('harness', outcome, { reason, ...(needs ? { needs } : {}) });
  const runDir = attemptDir(opts.outDir, c.id, 1, rep);
  writeFileSync(path.join(runDir, 'history.json'), JSON.stringify(history.toJSON(), null, 1));
  return caseResult(c, history.sorted(), opts.manifest);
}

async function runWithRetries(c: CaseDef, opts: RunnerOptions, rep?: number): Promise<CaseResult> {
  const retries = Math.max(0, opts.retries ?? 0);
  const attempts: CaseResult[] = [];
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const r = await runOnce(c, opts, attempt, rep);
    attempts.push(r);
    if (!RETRYABLE.includes(r.outcome) || opts.abort?.aborted) break;
  }
  return combineAttempts(attempts);
}

/** Run one attempt of one case against fresh subjects; never throws. */
export async function runOnce(c: CaseDef, opts: RunnerOptions, attempt = 1, rep?: number): Promise<CaseResult> {
  const scale = opts.timeoutScale ?? 1;
  const runDir = attemptDir(opts.outDir, c.id, attempt, rep);
  const history = new History();
  history.add('harness', 'attempt', { case: c.id, attempt, ...(rep !== undefined ? { repeat: rep } : {}) });
  const subjects: Subject[] = [];
  let launches = 0;
  /** launch errors of launches run under a wrapper (`wrap`): the wrapper is the harness's, not the subject's */
  const wrappedFailures = new WeakSet<LaunchError>();
  const ctx: CaseContext = {
    manifest: opts.manifest,
    history,
    runDir,
    timeoutScale: scale,
    ms: (ms) => Math.round(ms * scale),
    note: (kind, data = {}) => {
      history.add('case', kind, data);
    },
    launch: async (o = {}) => {
      const index = launches++;
      const s = await launch({
        ...o,
        manifest: opts.manifest,
        history,
        runDir: path.join(runDir, `launch-${index}`),
        launchIndex: index,
        platform: opts.platform ?? (process.platform as Platform),
        readyTimeoutMs: o.readyTimeoutMs ?? Math.round(opts.manifest.readiness.timeoutMs * scale),
      }).catch((e: unknown) => {
        if (e instanceof LaunchError && o.wrap !== undefined) wrappedFailures.add(e);
        throw e;
      });
      subjects.push(s);
      return s;
    },
  };

  const started = Date.now();
  const budget = Math.round(TIMEOUT_MS[c.timeout] * scale);
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => history.add('harness', 'interrupted', {});
  if (opts.abort?.aborted) onAbort();
  else opts.abort?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([
      c.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          history.add('harness', 'case-timeout', { budgetMs: budget });
          reject(new CaseTimeout());
        }, budget);
      }),
    ]);
  } catch (e) {
    if (!(e instanceof CaseTimeout)) {
      // the subject not doing what the case waited for is the subject's failure, not the harness's
      const subject =
        e instanceof WaitTimeoutError || e instanceof SubjectExitedError || e instanceof SubjectFaultError;
      const kind =
        e instanceof SignalUnsupportedError
          ? 'unsupported'
          : e instanceof LaunchError
            ? 'launch'
            : subject
              ? 'subject'
              : 'harness';
      history.add('harness', 'case-error', {
        kind,
        error: e instanceof Error ? e.message : String(e),
        ...(e instanceof SubjectFaultError && e.requirement ? { requirement: e.requirement } : {}),
        // whose fault a launch inside the case was: the grader blames the subject for one that exited or
        // never became ready, unless it lost a race for a port (grade/case.ts)
        ...(e instanceof LaunchError
          ? {
              launchKind: e.kind,
              stderrTail: e.stderrTail,
              addressInUse: e.addressInUse,
              ...(wrappedFailures.has(e) ? { wrapped: true } : {}),
            }
          : {}),
      });
      // A refused connection often means the subject is on its way out, unasked: let an exit already
      // under way be recorded before teardown signals anything, so the grade can blame it (grade/case.ts).
      if (kind === 'harness') await settleExits(subjects, Math.round(EXIT_SETTLE_MS * scale));
    }
  } finally {
    clearTimeout(timer);
    opts.abort?.removeEventListener('abort', onAbort);
    history.add('harness', 'teardown-begin', {});
    for (const s of subjects) {
      try {
        const rep = await s.teardown();
        if (rep.orphans.length) history.add('harness', 'orphans', { launch: s.launchIndex, orphans: rep.orphans });
      } catch (e) {
        history.add('harness', 'teardown-error', { launch: s.launchIndex, error: String(e) });
      }
    }
  }
  history.add('harness', 'case-end', { durationMs: Date.now() - started });
  const events = history.sorted();
  writeFileSync(path.join(runDir, 'history.json'), JSON.stringify(history.toJSON(), null, 1));
  return caseResult(c, events, opts.manifest, runDir);
}

class CaseTimeout extends Error {}

/** How long a harness error waits for a subject that is already exiting (scaled by the timeout scale). */
const EXIT_SETTLE_MS = 500;

/** Waits, up to `ms`, for every launch still running to exit on its own; one that does not is left to teardown. */
async function settleExits(subjects: readonly Subject[], ms: number): Promise<void> {
  await Promise.all(subjects.filter((s) => s.exited === null).map((s) => s.waitExit(ms).catch(() => undefined)));
}
