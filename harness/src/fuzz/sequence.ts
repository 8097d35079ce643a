/**
 * One fuzzed sequence from launch to verdict: launch the subject, run commands (fast-check's
 * `asyncModelRun`, or `runSpecs` for a saved list), then the end-of-sequence checks:
 *
 * 1. the FIFO line a blocked read still waits for is written;
 * 2. a subject still running settles (reloads, requests), serves every acknowledged write, and gets
 *    the declared graceful stop signal;
 * 3. it exits within the grace period plus slack, with the status the model expects, not by a signal;
 * 4. requests in flight at the stop completed, unless the model says the stop may abort them;
 * 5. no descendant outlives it;
 * 6. started again on the same state directory, it serves every acknowledged write.
 *
 * A subject declaring `capabilities.slowStore` is launched with `SIGCERT_FAULT=slow-store` (the store
 * acknowledges a write 10 ms after it reached the log): a `put` then stays in flight long enough for
 * the next command's signal to meet it, on a loaded machine as on an idle one, instead of the race a
 * sub-millisecond disk would leave. The restart that reads the writes back runs without the fault.
 *
 * The subject is always torn down in `closeSequence` (call it in `finally`).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { History } from '../history.js';
import { launch, launchRetryingPortRace, type ProcInfo, type Subject, WaitTimeoutError } from '../launch/index.js';
import type { Manifest } from '../types.js';
import { awaitReload, awaitRequests, execute, readBack, writeFifo } from './execute.js';
import {
  type ExitExpectation,
  exitMatches,
  expectedExit,
  type FuzzModel,
  initialModel,
  lastState,
  modelSpec,
  signalOf,
} from './model.js';
import { applicable, type CmdSpec } from './operations.js';
import { type FuzzTimings, RealRun, stampOf } from './real.js';
import { isViolation, Violation } from './violations.js';

export interface SequenceOptions {
  manifest: Manifest;
  /** this sequence's folder (created; removed by closeSequence when the sequence passed) */
  runDir: string;
  timings: FuzzTimings;
  /** keep the run folder even when the sequence passed */
  keep?: boolean;
}

export interface Sequence {
  model: FuzzModel;
  real: RealRun;
  options: SequenceOptions;
  /** later launches (the restart on the same state directory) */
  extra: Subject[];
  /** set by finishSequence: how the subject ended and what the model expected */
  ending?: Ending;
}

export interface Ending {
  exit: { code: number | null; signal: string | null };
  expected: ExitExpectation;
}

/** Why the harness cannot fuzz this subject, or null. */
export function whyNotFuzzable(m: Manifest): string | null {
  if (process.platform === 'win32') return 'the fuzzer sends POSIX signals; Windows cannot deliver them';
  if (!m.platforms.includes(process.platform as 'linux' | 'darwin')) {
    return `the subject does not declare platform ${process.platform}`;
  }
  if (m.capabilities.probe !== true) {
    return 'the fuzzer needs capabilities.probe: without acknowledgements, signals sent back to back may merge';
  }
  const spec = modelSpec(m);
  if (signalOf(spec, 'stop') === null) return 'the declared signal map has no signal for stop';
  return null;
}

export async function openSequence(o: SequenceOptions): Promise<Sequence> {
  mkdirSync(o.runDir, { recursive: true });
  const history = new History();
  const fault = o.manifest.capabilities.slowStore === true ? { env: { SIGCERT_FAULT: 'slow-store' } } : {};
  const subject = await launchRetryingPortRace(() =>
    launch({ manifest: o.manifest, runDir: o.runDir, history, ...fault }),
  );
  const tag = randomBytes(3).toString('hex');
  const real = new RealRun(o.manifest, subject, history, o.runDir, o.timings, tag);
  return { model: initialModel(modelSpec(o.manifest)), real, options: o, extra: [] };
}

/** Tear everything down; remove the run folder when the sequence passed (unless asked to keep it). */
export async function closeSequence(seq: Sequence, passed: boolean): Promise<void> {
  for (const q of seq.real.requests) {
    q.conn.close();
    await q.fifo?.fh?.close().catch(() => {});
  }
  await Promise.allSettled([seq.real.subject.teardown(), ...seq.extra.map((s) => s.teardown())]);
  if (passed && seq.options.keep !== true) rmSync(seq.options.runDir, { recursive: true, force: true });
}

/** Descendants still alive after the exit; re-scans briefly (bounded) so a dying one can finish. */
async function survivors(subject: Subject): Promise<ProcInfo[]> {
  let left = await subject.descendants();
  for (let i = 0; i < 25 && left.length > 0; i++) {
    await new Promise((ok) => setTimeout(ok, 20)); // bounded re-scan of the process table
    left = await subject.descendants();
  }
  return left;
}

/** The end-of-sequence checks (see the module comment). Throws a Violation. */
export async function finishSequence(seq: Sequence): Promise<void> {
  const { model: m, real: r } = seq;
  const s = r.subject;
  const t = r.timings;

  if (m.inFlight.fifoUnwritten) await writeFifo(m, r);
  r.checkStep(m);

  if (m.stop === null && !s.exited) {
    if (m.lifecycle === 'RELOADING') await awaitReload(m, r);
    await awaitRequests(m, r);
    const stopSig = signalOf(m.spec, 'stop');
    if (stopSig === null) throw new Error(`${m.spec.name}: no stop signal declared`);
    await r.deliver(m, stopSig);
  }

  const exitBudget = m.spec.gracePeriodMs + t.marginMs + t.exitSlackMs;
  let exit: { code: number | null; signal: string | null };
  try {
    exit = await s.waitExit(exitBudget);
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
    throw new Violation(
      'no-exit',
      `exit within ${exitBudget} ms of the end of the sequence (grace period ${m.spec.gracePeriodMs} ms)`,
      `still running; last state ${lastState(s.probeEvents)}`,
    );
  }
  m.lifecycle = 'EXITED';
  await Promise.all(r.requests.map((q) => q.done));
  await Promise.resolve();
  r.checkStep(m);

  if (m.stop === null) throw r.unexpectedExit();
  const stopNs = r.stopNs ?? 0n;
  const after = s.probeEvents.filter((e) => stampOf(e) >= stopNs);
  const drained = after.find((e) => e.ev === 'drained' && e.forced !== true);
  const frozen = after.find((e) => e.ev === 'exiting' || (e.ev === 'state' && e.state === 'EXITING'));
  const exp = expectedExit(m.spec, {
    kind: m.stop.kind,
    stopNs,
    escalationNs: r.escalationNs,
    escalationUncertain: r.escalationUncertain,
    drainedNs: drained === undefined ? undefined : stampOf(drained),
    frozenNs: frozen === undefined ? undefined : stampOf(frozen),
    needNs: r.needAtStop(),
    gracePeriodMs: m.spec.gracePeriodMs,
    marginMs: t.marginMs,
  });
  seq.ending = { exit: { code: exit.code, signal: exit.signal }, expected: exp };
  const actual = exit.signal !== null ? `death by ${exit.signal}` : `exit code ${exit.code}`;
  const wanted = exp.codes.map((c) => (c === 'signal' ? 'death by the re-raised signal' : `code ${c}`)).join(' or ');
  if (exit.signal !== null && !exp.codes.includes('signal')) {
    throw new Violation('killed-by-signal', `${wanted} (${exp.why})`, actual);
  }
  if (!exitMatches(exp.codes, exit)) {
    const requirement =
      r.escalationNs !== undefined && exp.codes.includes(m.spec.exitCodes.fastStop)
        ? 'REPEAT.ESCALATION'
        : exp.codes.includes(m.spec.exitCodes.graceful) && exp.codes.length === 1
          ? 'STOP.EXIT_ZERO'
          : exp.codes.includes(m.spec.exitCodes.deadline)
            ? 'STOP.DEADLINE_EXIT_CODE'
            : 'SIG.MAP.DECLARED';
    throw new Violation('exit-code', `${wanted} (${exp.why})`, actual, requirement);
  }

  if (!exp.mayAbort) {
    for (const q of r.requests) {
      if (q.verdict !== 'failed-after-stop') continue;
      const res = q.result;
      throw new Violation(
        'in-flight-failed',
        `${q.label}, in flight when the graceful stop began, completes (${exp.why})`,
        res === undefined ? 'no result' : res.ok ? `status ${res.status}` : `${res.error}`,
      );
    }
  }

  const left = await survivors(s);
  if (left.length > 0) {
    throw new Violation(
      'orphans',
      'no descendant outlives the subject',
      left.map((p) => `${p.pid} ${p.cmdline.slice(0, 60)}`).join('; '),
    );
  }

  if (r.acked.size > 0) await verifyAfterRestart(seq);
}

/** Start the subject again on the same state directory: every acknowledged write is there. */
async function verifyAfterRestart(seq: Sequence): Promise<void> {
  const { real: r } = seq;
  let again: Subject;
  try {
    again = await launchRetryingPortRace(() =>
      launch({
        manifest: r.manifest,
        runDir: join(r.runDir, 'restart'),
        history: r.history,
        stateDir: r.subject.stateDir,
        launchIndex: 1,
      }),
    );
  } catch (e) {
    throw new Violation(
      'write-lost',
      `the subject starts again on its state directory and serves the ${r.acked.size} acknowledged write(s)`,
      `it did not start: ${(e as Error).message}`,
    );
  }
  seq.extra.push(again);
  const port = again.ports.http;
  if (port === undefined) return;
  await readBack(r, port, 'after a restart on the same state directory');
  const stopSig = signalOf(seq.model.spec, 'stop');
  if (stopSig !== null && !again.exited) {
    again.signal(stopSig as NodeJS.Signals);
    await again.waitExit(r.manifest.gracePeriodMs + r.timings.exitSlackMs).catch(() => {});
  }
}

export interface SpecsOutcome {
  violation: Violation | null;
  /** the commands whose precondition held, in order */
  executed: CmdSpec[];
  runDir: string;
  /** how the subject ended and what the model expected (when the sequence got that far) */
  ending?: Ending;
}

/** Run a saved command list directly (no fast-check): the replay of a corpus case. */
export async function runSpecs(o: SequenceOptions, specs: readonly CmdSpec[]): Promise<SpecsOutcome> {
  const seq = await openSequence(o);
  let passed = false;
  try {
    for (const c of specs) {
      if (!applicable(seq.model, c)) continue;
      seq.real.executed.push(c);
      await execute(seq.model, seq.real, c);
    }
    await finishSequence(seq);
    passed = true;
    return { violation: null, executed: seq.real.executed as CmdSpec[], runDir: o.runDir, ending: seq.ending };
  } catch (e) {
    if (isViolation(e)) {
      return { violation: e, executed: seq.real.executed as CmdSpec[], runDir: o.runDir, ending: seq.ending };
    }
    throw e;
  } finally {
    await closeSequence(seq, passed);
  }
}

/** A fresh folder for sequence runs. */
export function sequenceDir(base: string, n: number): string {
  return join(base, `seq-${String(n).padStart(4, '0')}`);
}
