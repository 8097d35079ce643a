/**
 * The runner: a fresh subject per case, cases in a bounded pool (each launch gets its own ports),
 * retries graded honestly (a pass after a retry is `flaky`), repeats, shards, a timeout per case,
 * and teardown of every launched process whatever happens.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CaseContext, type CaseDef, whyNotApplicable } from './case.js';
import { gradeCase, unexpectedDeaths } from './grade.js';
import { History } from './history.js';
import { LaunchError, launch, SignalUnsupportedError, type Subject } from './launch/index.js';
import { type CaseResult, MAX_TIMELINE_EVENTS, MAX_TIMELINE_SAMPLES } from './report/index.js';
import { type HistoryEvent, type Manifest, type Outcome, type Platform, TIMEOUT_MS } from './types.js';

export interface RunnerOptions {
  manifest: Manifest;
  cases: CaseDef[];
  /** folder for per-case run directories */
  outDir: string;
  /** only cases whose id or requirement IDs match */
  grep?: RegExp;
  /** [index (1-based), total] */
  shard?: [number, number];
  repeat?: number;
  retries?: number;
  timeoutScale?: number;
  concurrency?: number;
  platform?: Platform;
  /** stop starting new cases once aborted (Ctrl-C) */
  abort?: AbortSignal;
  onCaseStart?: (c: CaseDef, index: number, total: number) => void;
  onCaseEnd?: (r: CaseResult, index: number, total: number) => void;
}

export interface RunResult {
  results: CaseResult[];
  partial: boolean;
}

/** Cases selected by --grep and --shard, in a stable order. */
export function selectCases(cases: CaseDef[], grep?: RegExp, shard?: [number, number]): CaseDef[] {
  let list = [...cases].sort((a, b) => a.id.localeCompare(b.id));
  if (grep)
    list = list.filter((c) => grep.test(c.id) || c.requirements.some((r) => grep.test(r)) || grep.test(c.title));
  if (shard) {
    const [i, n] = shard;
    list = list.filter((_, k) => k % n === i - 1);
  }
  return list;
}

const RETRYABLE: Outcome[] = ['fail', 'non-strict', 'timeout', 'crash', 'harness-error'];

export async function runCases(opts: RunnerOptions): Promise<RunResult> {
  const platform = opts.platform ?? (process.platform as Platform);
  const selected = selectCases(opts.cases, opts.grep, opts.shard);
  const repeat = Math.max(1, opts.repeat ?? 1);
  const jobs: { c: CaseDef; rep: number }[] = [];
  for (const c of selected) for (let rep = 1; rep <= repeat; rep++) jobs.push({ c, rep });
  const results: (CaseResult | undefined)[] = new Array(jobs.length);
  const total = jobs.length;
  let next = 0;
  let partial = false;

  const worker = async (limit: { value: number }) => {
    for (;;) {
      if (next >= limit.value) return;
      const k = next++;
      const { c, rep } = jobs[k]!;
      if (opts.abort?.aborted) {
        partial = true;
        results[k] = skipped(c, 'interrupted before it started', repeat > 1 ? rep : undefined);
        continue;
      }
      opts.onCaseStart?.(c, k, total);
      const na = whyNotApplicable(c, opts.manifest, platform);
      const r = na
        ? { ...skipped(c, na, repeat > 1 ? rep : undefined), outcome: 'not-applicable' as Outcome }
        : await runWithRetries(c, opts, repeat > 1 ? rep : undefined);
      results[k] = r;
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
  return { results: results.filter((r): r is CaseResult => r !== undefined), partial };
}

function skipped(c: CaseDef, reason: string, rep?: number): CaseResult {
  return {
    id: c.id,
    title: c.title,
    requirements: c.requirements,
    edgeCases: c.edgeCases ?? [],
    outcome: 'skipped',
    reason,
    verdicts: [],
    metrics: {},
    durationMs: 0,
    attempts: 0,
    timeline: [],
    ...(rep !== undefined ? { repeat: rep } : {}),
  };
}

async function runWithRetries(c: CaseDef, opts: RunnerOptions, rep?: number): Promise<CaseResult> {
  const retries = Math.max(0, opts.retries ?? 0);
  let first: CaseResult | undefined;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const r = await runOnce(c, opts, attempt, rep);
    r.attempts = attempt;
    if (!RETRYABLE.includes(r.outcome) || opts.abort?.aborted) {
      if (attempt > 1 && r.outcome === 'pass') {
        return {
          ...r,
          outcome: 'flaky',
          reason: `passed on attempt ${attempt}; first attempt: ${first?.outcome} (${first?.reason ?? ''})`,
        };
      }
      return r;
    }
    first ??= r;
    if (attempt === retries + 1) return r;
  }
  return first!;
}

/** Run one attempt of one case against fresh subjects; never throws. */
export async function runOnce(c: CaseDef, opts: RunnerOptions, attempt = 1, rep?: number): Promise<CaseResult> {
  const scale = opts.timeoutScale ?? 1;
  const dirName = `${c.id}${rep !== undefined ? `.r${rep}` : ''}${attempt > 1 ? `.a${attempt}` : ''}`;
  const runDir = path.join(opts.outDir, dirName);
  mkdirSync(runDir, { recursive: true });
  const history = new History();
  const subjects: Subject[] = [];
  let launches = 0;
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
        readyTimeoutMs: o.readyTimeoutMs ?? Math.round(opts.manifest.readiness.timeoutMs * scale),
      });
      subjects.push(s);
      return s;
    },
  };

  const started = Date.now();
  let error: unknown;
  let timedOut = false;
  const budget = Math.round(TIMEOUT_MS[c.timeout] * scale);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`case did not finish within ${budget} ms`));
        }, budget);
      }),
    ]);
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
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
  const durationMs = Date.now() - started;
  const events = history.sorted();
  writeFileSync(path.join(runDir, 'history.json'), JSON.stringify(history.toJSON(), null, 1));

  const base = {
    id: c.id,
    title: c.title,
    requirements: c.requirements,
    edgeCases: c.edgeCases ?? [],
    durationMs,
    attempts: attempt,
    timeline: trimTimeline(events),
    runDir,
    ...(rep !== undefined ? { repeat: rep } : {}),
  };

  if (timedOut) {
    return { ...base, outcome: 'timeout', reason: (error as Error).message, verdicts: [], metrics: {} };
  }
  if (error instanceof SignalUnsupportedError) {
    return { ...base, outcome: 'unsupported', reason: error.message, verdicts: [], metrics: {} };
  }
  if (error) {
    const msg = error instanceof Error ? error.message : String(error);
    const reason = error instanceof LaunchError ? `the subject could not be launched: ${msg}` : `harness error: ${msg}`;
    history.add('harness', 'case-error', { error: msg });
    // a death the case already observed stays a crash (PROC.NO_CRASH_SIGNAL), whatever the run did next
    const deaths = unexpectedDeaths({ events: history.sorted(), manifest: opts.manifest });
    if (deaths.length > 0) {
      return {
        ...base,
        outcome: 'crash',
        reason: `${deaths.map((d) => `died by ${d.signal}`).join('; ')} (then: ${reason})`,
        verdicts: deaths.map((d) => ({
          requirement: 'PROC.NO_CRASH_SIGNAL',
          status: 'fail' as const,
          expected: 'the subject never dies by a signal its map handles (or a crash signal)',
          actual: `launch ${d.launch} died by ${d.signal}`,
        })),
        metrics: {},
      };
    }
    return { ...base, outcome: 'harness-error', reason, verdicts: [], metrics: {} };
  }
  const graded = gradeCase(c, { events, manifest: opts.manifest });
  return { ...base, ...graded };
}

/** The excerpt kept in the report: the first and last events, plus every latency sample (histograms). */
function trimTimeline(events: HistoryEvent[]): HistoryEvent[] {
  if (events.length <= MAX_TIMELINE_EVENTS) return events;
  const half = MAX_TIMELINE_EVENTS / 2;
  const kept = new Set([...events.slice(0, half), ...events.slice(-half)]);
  let samples = 0;
  for (const e of events)
    if (e.source === 'case' && e.kind === 'sample' && samples++ < MAX_TIMELINE_SAMPLES) kept.add(e);
  return events.filter((e) => kept.has(e));
}
