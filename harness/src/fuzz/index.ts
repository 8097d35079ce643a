/**
 * Property-based testing over random signal sequences (`sigcert fuzz`).
 *
 * fast-check generates command sequences (operations.ts, carried out by execute.ts) that interleave real signals with held
 * requests, durable writes, CPU work, blocked FIFO reads, reloads and waits; each runs against a
 * freshly launched subject and is checked against the model of its declared lifecycle (model.ts)
 * after every step and at the end (sequence.ts). A failure is shrunk, printed with its seed, and saved
 * to the regression corpus (corpus.ts), which `replayCase` replays without fast-check.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadManifest } from '../launch/index.js';
import { type CorpusEntry, saveEntry, subjectPath } from './corpus.js';
import { fuzzCommandArbitrary } from './execute.js';
import { minimize } from './minimize.js';
import type { FuzzModel } from './model.js';
import { modelSpec } from './model.js';
import { type CmdSpec, describeCmd } from './operations.js';
import type { RealRun } from './real.js';
import { DEFAULT_TIMINGS, type FuzzTimings, scaleTimings } from './real.js';
import { closeSequence, finishSequence, openSequence, runSpecs, sequenceDir, whyNotFuzzable } from './sequence.js';
import { isViolation, type ViolationJSON } from './violations.js';

export {
  type CorpusEntry,
  loadCorpus,
  parseEntry,
  type ReplayOptions,
  type ReplayResult,
  replayCase,
} from './corpus.js';
export {
  applySignal,
  checkTrace,
  expectedExit,
  type FuzzModel,
  initialModel,
  type ModelSpec,
  modelSpec,
  settleReloads,
  signalOutcome,
  writeConfigModel,
} from './model.js';
export { type CmdSpec, describeCmd, isCmdSpec } from './operations.js';
export { DEFAULT_TIMINGS, type FuzzTimings } from './real.js';
export { runSpecs, whyNotFuzzable } from './sequence.js';
export { REQUIREMENT_OF, Violation, type ViolationJSON, type ViolationKind } from './violations.js';

export interface FuzzOptions {
  manifestFile: string;
  /** sequences to generate (fast-check numRuns) */
  runs: number;
  /** fast-check seed; default random (always printed) */
  seed?: number;
  /** stop generating (or shrinking) after this long; default none */
  timeLimitMs?: number;
  /** where a failing case is saved */
  corpusDir: string;
  /** one line at a time (seed, progress, the shrunk sequence, the saved case) */
  out?: (line: string) => void;
  /** commands per sequence, at most; default 8 */
  maxCommands?: number;
  /** replay one counterexample: fast-check's path (with the same seed) */
  path?: string;
  /** replay: fast-check's commands replay path */
  replayPath?: string;
  /** multiply every deadline (slow machines); default 1 */
  timeoutScale?: number;
  timings?: FuzzTimings;
  /** where the sequences' run folders go (failing ones are kept); default a temp folder */
  workDir?: string;
  /** do not write the corpus file (tests that only measure) */
  noSave?: boolean;
  /** one line per sequence: its commands and outcome */
  verbose?: boolean;
}

export interface FuzzResult {
  ok: boolean;
  seed: number;
  /** sequences fast-check counted as runs (up to the first failure) */
  runs: number;
  /** every sequence executed (runs and shrinking), per minute of wall time */
  sequencesPerMinute: number;
  /** sequences executed, shrinking included */
  sequences: number;
  elapsedMs: number;
  /** the shrunk command list of a failure */
  shrunk?: object[];
  /** the corpus file written for a failure */
  savedCase?: string;
  violation?: ViolationJSON;
  /** fast-check's counterexample path and replay path */
  path?: string;
  replayPath?: string;
  /** shrinking steps taken by fast-check */
  numShrinks?: number;
  /** replays of the final minimization pass (minimize.ts) */
  minimizeTries?: number;
  /** the violation appeared again when the shrunk sequence was replayed (false: flaky) */
  reproduced?: boolean;
  /** ms from the start until the first failing sequence ended */
  firstFailureMs?: number;
  /** a harness-side problem (the subject could not be launched, ...), not a violation */
  error?: string;
}

/** Time the final minimization may take when no time limit was given. */
const MINIMIZE_BUDGET_MS = 60_000;

function randomSeed(): number {
  return randomBytes(4).readInt32LE(0);
}

/** Run the fuzzer against one subject. Never throws for a violation: it is in the result. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const out = opts.out ?? (() => {});
  const manifest = loadManifest(opts.manifestFile);
  const seed = opts.seed ?? randomSeed();
  const started = Date.now();
  const base = (): FuzzResult => {
    const elapsedMs = Date.now() - started;
    return { ok: true, seed, runs: 0, sequences, elapsedMs, sequencesPerMinute: 0 };
  };
  let sequences = 0;
  const why = whyNotFuzzable(manifest);
  if (why !== null) {
    out(`fuzz ${manifest.name}: not applicable: ${why}`);
    return { ...base(), ok: false, error: `not applicable: ${why}` };
  }

  const spec = modelSpec(manifest);
  const timings = scaleTimings(opts.timings ?? DEFAULT_TIMINGS, opts.timeoutScale ?? 1);
  const workDir = opts.workDir ?? join(tmpdir(), `sigcert-fuzz-${process.pid}-${randomBytes(3).toString('hex')}`);
  const maxCommands = opts.maxCommands ?? 8;
  out(
    `fuzz ${manifest.name}: seed ${seed}, ${opts.runs} runs, up to ${maxCommands} commands each` +
      (opts.timeLimitMs ? `, time limit ${opts.timeLimitMs} ms` : ''),
  );

  let lastFailure: { executed: CmdSpec[]; runDir: string; atMs: number } | null = null;
  let firstFailureMs: number | undefined;
  const arb = fc.commands([fuzzCommandArbitrary(spec)], {
    maxCommands,
    ...(opts.replayPath !== undefined ? { replayPath: opts.replayPath } : {}),
  });
  // fast-check's time limit abandons a running predicate without stopping it: remember it, to await it
  let running: Promise<void> = Promise.resolve();
  const property = fc.asyncProperty(arb, (cmds: Iterable<fc.AsyncCommand<FuzzModel, RealRun, boolean>>) => {
    running = runOne(cmds);
    return running;
  });
  const runOne = async (cmds: Iterable<fc.AsyncCommand<FuzzModel, RealRun, boolean>>): Promise<void> => {
    const n = ++sequences;
    const runDir = sequenceDir(workDir, n);
    const t0 = Date.now();
    const seq = await openSequence({ manifest, runDir, timings });
    let passed = false;
    let outcome = 'ok';
    try {
      await fc.asyncModelRun(() => ({ model: seq.model, real: seq.real }), cmds);
      await finishSequence(seq);
      passed = true;
    } catch (e) {
      const atMs = Date.now() - started;
      firstFailureMs ??= atMs;
      lastFailure = { executed: [...seq.real.executed] as CmdSpec[], runDir, atMs };
      outcome = isViolation(e) ? e.kind : `error: ${(e as Error).message}`;
      throw e;
    } finally {
      await closeSequence(seq, passed);
      if (opts.verbose) {
        const cmds = (seq.real.executed as CmdSpec[]).map(describeCmd).join(', ');
        out(`  #${n} [${cmds}] ${outcome} (${Date.now() - t0} ms)`);
      }
    }
  };

  const details = await fc.check(property, {
    numRuns: opts.runs,
    seed,
    ...(opts.path !== undefined ? { path: opts.path, endOnFailure: true } : {}),
    ...(opts.timeLimitMs !== undefined ? { plugins: [fc.interruptAfterTimeLimit(opts.timeLimitMs)] } : {}),
  });
  await running.catch(() => {}); // an interrupted sequence still tears its subject down
  const elapsedMs = Date.now() - started;
  const result: FuzzResult = {
    ok: !details.failed,
    seed,
    runs: details.numRuns,
    sequences,
    elapsedMs,
    sequencesPerMinute: elapsedMs > 0 ? Math.round((sequences / elapsedMs) * 60_000 * 10) / 10 : 0,
  };
  if (!details.failed) {
    rmSync(workDir, { recursive: true, force: true });
    out(
      `fuzz ${manifest.name}: ${details.numRuns} sequences passed${details.interrupted ? ' (interrupted by the time limit)' : ''}; ` +
        `${sequences} in ${(elapsedMs / 1000).toFixed(1)} s = ${result.sequencesPerMinute} sequences/min`,
    );
    return result;
  }

  const failure = lastFailure as { executed: CmdSpec[]; runDir: string; atMs: number } | null;
  const err = details.errorInstance;
  result.numShrinks = details.numShrinks;
  if (firstFailureMs !== undefined) result.firstFailureMs = firstFailureMs;
  if (details.counterexamplePath) result.path = details.counterexamplePath;
  const ce: unknown = (details.counterexample as unknown[] | null)?.[0];
  const rp = ce === undefined || ce === null ? null : /replayPath="([^"]*)"/.exec(String(ce));
  if (rp?.[1] !== undefined) result.replayPath = rp[1];
  if (!isViolation(err)) {
    result.error = err instanceof Error ? err.message : String(err ?? 'the run failed (interrupted?)');
    out(`fuzz ${manifest.name}: harness error (seed ${seed}): ${result.error}`);
    return result;
  }
  const fcShrunk = failure?.executed ?? [];
  result.violation = err.toJSON();
  out(`fuzz ${manifest.name}: VIOLATION after ${details.numRuns} run(s), ${details.numShrinks} shrink(s)`);
  out(`  ${err.message}`);
  out(`  seed ${seed}, path ${result.path ?? '-'}${result.replayPath ? `, replayPath ${result.replayPath}` : ''}`);
  out(`  fast-check's counterexample (${fcShrunk.length}): ${fcShrunk.map(describeCmd).join(', ') || '(empty)'}`);
  // fast-check never drops the last command that ran; finish by direct replay (minimize.ts)
  const deadline = started + (opts.timeLimitMs ?? MINIMIZE_BUDGET_MS + (Date.now() - started));
  const { commands: shrunk, tries } =
    fcShrunk.length > 1
      ? await minimize(fcShrunk, err.kind, {
          manifest,
          timings,
          workDir,
          deadline,
          onSequence: () => sequences++,
        })
      : { commands: fcShrunk, tries: 0 };
  result.shrunk = shrunk;
  result.minimizeTries = tries;
  if (shrunk.length === fcShrunk.length && Date.now() < deadline) {
    // nothing could be removed: does the sequence fail again at all?
    sequences++;
    const again = await runSpecs({ manifest, runDir: join(workDir, 'recheck'), timings }, fcShrunk);
    result.reproduced = again.violation?.kind === err.kind;
    if (!result.reproduced) {
      out(
        `  the counterexample did not fail again on replay (${again.violation ? again.violation.kind : 'no violation'}): timing-dependent or environmental; see the run folder`,
      );
    }
  } else if (shrunk.length < fcShrunk.length) {
    result.reproduced = true;
  }
  result.elapsedMs = Date.now() - started;
  result.sequences = sequences;
  result.sequencesPerMinute = Math.round((sequences / Math.max(1, result.elapsedMs)) * 60_000 * 10) / 10;
  out(
    `  shrunk sequence (${shrunk.length}): ${shrunk.map(describeCmd).join(', ') || '(empty: the end-of-sequence checks)'}` +
      (tries > 0 ? ` (${tries} replay(s) after fast-check)` : ''),
  );
  if (failure) out(`  run folder: ${failure.runDir}`);
  if (opts.noSave !== true) {
    const entry: CorpusEntry = {
      subject: subjectPath(manifest.file),
      seed,
      path: result.path ?? null,
      ...(result.replayPath !== undefined ? { replayPath: result.replayPath } : {}),
      commands: shrunk,
      ...(fcShrunk.length !== shrunk.length ? { fastCheckCommands: fcShrunk } : {}),
      violation: result.violation,
      ...(manifest.breaks !== undefined && manifest.breaks.length > 0 ? { expect: 'violation' as const } : {}),
      savedAt: new Date().toISOString(),
    };
    result.savedCase = saveEntry(opts.corpusDir, entry, manifest.name);
    out(`  saved: ${result.savedCase}`);
  }
  return result;
}
