/**
 * Launching a subject and everything the harness does to its processes.
 *
 * `launch()` prepares the hand-over of subject-protocol.md section 2 (ports, run and state directories,
 * configuration file, FIFO, token, environment with the run marker), runs the manifest's setup commands,
 * spawns the subject as a direct child in its own process group (and its own cgroup where possible, see
 * tracking.ts) with stdout/stderr read into bounded log files and the probe channel on fd 3, then waits for readiness (section 3).
 *
 * A `Subject` records into the case's History: `spawn` and `exit` (process), every probe event (probe, stamped
 * with the subject's own monotonic time), `signal-sent` (harness, stamped just before kill(2)).
 *
 * Safety rules kept throughout:
 * - the child's pid / group is signalled only while its exit has not been observed (a reaped pid may be
 *   reused by an unrelated process);
 * - after the exit, processes are only killed when found by the run marker, re-checked just before the kill;
 * - stdout/stderr are read continuously into bounded logs (logs.ts: the first and the last 4 MiB of each);
 *   nothing waits for them to end (teardown gives them a short drain), so a flooding subject or a
 *   grandchild holding them open cannot block or hang the harness.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  existsSync,
  constants as fsConstants,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { type History, nowNs } from '../history.js';
import type { ExitInfo, Manifest } from '../types.js';
import {
  describeExit,
  LaunchError,
  oneLine,
  SignalUnsupportedError,
  SubjectExitedError,
  WaitTimeoutError,
} from './errors.js';
import { BoundedLog } from './logs.js';
import { type PlaceholderValues, substitute } from './placeholders.js';
import { allocatePorts, LOOPBACK } from './ports.js';
import { LineSplitter, type ProbeEvent, parseProbeLine } from './probe.js';
import type { ProcInfo } from './processes.js';
import { httpOk, pollReady, tcpConnects } from './readiness.js';
import { register, unregister } from './registry.js';
import { undeliverableReason } from './signals.js';
import { Tracker, type TrackingInfo, type TrackingMode } from './tracking.js';
import { startUpstream } from './upstream.js';

export type { ProbeEvent } from './probe.js';

export interface LaunchOptions {
  manifest: Manifest;
  runDir: string;
  history: History;
  /** which launch of the case this is (history `launch` field); default 0 */
  launchIndex?: number;
  /** extra/override environment, e.g. SIGCERT_STARTUP_DELAY_MS, SIGCERT_PREDRAIN_MS (not substituted) */
  env?: Record<string, string>;
  /** initial configuration object, default `{ generation: 1 }` */
  config?: Record<string, unknown>;
  /** reuse ports (relaunch after a stop, durability cases) */
  ports?: Record<string, number>;
  /** reuse a state directory across launches; default `<runDir>/state` */
  stateDir?: string;
  /** default true */
  waitReady?: boolean;
  /** overrides `manifest.readiness.timeoutMs` */
  readyTimeoutMs?: number;
  /**
   * Run the subject under a wrapper command, e.g. `['unshare', '--pid', '--fork', '--kill-child']`:
   * the harness spawns `wrap[0]` with `[...wrap.slice(1), command, ...args]`, so the direct child (`pid`)
   * is the wrapper and the subject is its descendant (found by the marker, like any descendant).
   */
  wrap?: string[];
  /**
   * How the launch's processes are tracked: `auto` (default) picks its own cgroup v2 where the harness may
   * create one, else the run marker; `marker` forces the run marker. The choice is recorded as a
   * `tracking` history event.
   */
  tracking?: TrackingMode;
  /** the first and the last this many bytes of stdout and of stderr are kept; default LOG_KEEP_BYTES (4 MiB) */
  logKeepBytes?: number;
}

export interface TeardownReport {
  /** marked processes alive after the child exited, before we killed them */
  orphans: ProcInfo[];
  /** we had to SIGKILL (the child's group, or any orphan) */
  killed: boolean;
  /** marked processes still alive when teardown gave up (should be empty; e.g. stuck in uninterruptible sleep) */
  leftover: ProcInfo[];
}

/** Time teardown waits for the child after SIGKILL, and for marked processes to disappear. */
const KILL_WAIT_MS = 3_000;
/** After the exit, how long a probe channel still held open (by a grandchild) is read before the exit settles. */
const PROBE_DRAIN_MS = 500;
/** Setup commands must finish within this. */
const SETUP_TIMEOUT_MS = 60_000;

const isWindows = process.platform === 'win32';

interface Waiter {
  pred: (e: ProbeEvent) => boolean;
  what: string;
  resolve: (e: ProbeEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Everything prepared before the spawn, handed to the Subject. */
interface Prepared {
  manifest: Manifest;
  history: History;
  launchIndex: number;
  runId: string;
  runDir: string;
  stateDir: string;
  configPath: string;
  fifoPath: string | null;
  token: string;
  ports: Record<string, number>;
  stdoutPath: string;
  stderrPath: string;
  tracker: Tracker;
  /** bounded stdout/stderr logs (files opened before the spawn, fed from the pipes after it) */
  logs: { stdout: BoundedLog; stderr: BoundedLog };
}

/** Last non-empty line of a text file (reads at most the final 64 KiB), without ANSI colours. */
export function lastLine(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf
      .toString('utf8')
      .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    const last = lines[lines.length - 1];
    return last === undefined ? null : oneLine(last, 200);
  } finally {
    closeSync(fd);
  }
}

function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export class Subject {
  readonly manifest: Manifest;
  readonly pid: number;
  readonly runId: string;
  readonly ports: Record<string, number>;
  readonly runDir: string;
  readonly stateDir: string;
  readonly configPath: string;
  readonly fifoPath: string | null;
  readonly token: string;
  readonly launchIndex: number;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  readonly probeEvents: ProbeEvent[] = [];

  private readonly history: History;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | null = null;
  private readonly waiters = new Set<Waiter>();
  private readonly exitObserved: Promise<ExitInfo>;
  /** resolves after the exit, once the probe channel is drained (EOF, or PROBE_DRAIN_MS) */
  private readonly exitSettledP: Promise<ExitInfo>;
  private settled = false;
  private probeStream: Readable | null = null;
  private teardownP: Promise<TeardownReport> | null = null;
  private readonly tracker: Tracker;
  private readonly logs: { stdout: BoundedLog; stderr: BoundedLog };

  /** @internal use launch() */
  constructor(p: Prepared, child: ChildProcess) {
    if (child.pid === undefined) throw new Error('Subject needs a spawned child');
    this.manifest = p.manifest;
    this.history = p.history;
    this.launchIndex = p.launchIndex;
    this.runId = p.runId;
    this.runDir = p.runDir;
    this.stateDir = p.stateDir;
    this.configPath = p.configPath;
    this.fifoPath = p.fifoPath;
    this.token = p.token;
    this.ports = p.ports;
    this.stdoutPath = p.stdoutPath;
    this.stderrPath = p.stderrPath;
    this.child = child;
    this.pid = child.pid;
    this.tracker = p.tracker;
    this.logs = p.logs;
    this.logs.stdout.attach(child.stdout);
    this.logs.stderr.attach(child.stderr);
    this.tracker.setLeader(this.pid, () => this.isGone());

    let probeClosed: () => void = () => {};
    const probeClosedP = new Promise<void>((r) => {
      probeClosed = r;
    });
    const stream = (child.stdio[3] ?? null) as Readable | null;
    if (stream !== null) {
      this.probeStream = stream;
      const splitter = new LineSplitter();
      stream.on('data', (chunk: Buffer) => {
        for (const line of splitter.push(chunk)) this.onProbeLine(line);
      });
      const finish = () => {
        for (const line of splitter.end()) this.onProbeLine(line);
        probeClosed();
      };
      stream.once('end', finish);
      stream.once('close', finish);
      stream.on('error', () => {
        // EPIPE/ECONNRESET on the channel: the subject is gone; 'close' follows
      });
    } else {
      probeClosed();
    }

    this.exitObserved = new Promise<ExitInfo>((resolveExit) => {
      child.once('exit', (code, signal) => {
        const ns = nowNs();
        this.exitInfo = { code, signal, ns: ns.toString() };
        this.record('process', 'exit', { pid: this.pid, code, signal }, ns);
        resolveExit(this.exitInfo);
      });
    });
    child.on('error', (err) => {
      // after a successful spawn, 'error' only reports a failed kill(); keep it as evidence
      this.record('process', 'process-error', { pid: this.pid, error: oneLine(err.message) });
    });
    this.exitSettledP = this.exitObserved.then(async (info) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        probeClosedP,
        new Promise<void>((r) => {
          timer = setTimeout(r, PROBE_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
      this.settled = true;
      this.rejectWaiters(`${this.manifest.name} exited (${describeExit(info)})`);
      return info;
    });
    register(this);
  }

  /** How the direct child ended, or null while it runs (set the moment its exit is observed). */
  get exited(): ExitInfo | null {
    return this.exitInfo;
  }

  private record(
    source: 'harness' | 'probe' | 'process',
    kind: string,
    data: Record<string, unknown>,
    ns?: bigint,
  ): void {
    this.history.add(source, kind, data, ns, this.launchIndex);
  }

  private onProbeLine(line: string): void {
    if (line.trim().length === 0) return;
    const recvNs = nowNs();
    const parsed = parseProbeLine(line);
    if (!parsed.ok) {
      this.record('probe', 'probe-garbage', { line: parsed.line, reason: parsed.reason }, recvNs);
      return;
    }
    const event = parsed.event;
    if (parsed.stamp === null) {
      // no usable stamp: use the receive time and say so
      event.t = recvNs.toString();
      event.tFromHarness = true;
    }
    this.probeEvents.push(event);
    this.record('probe', 'probe', event, parsed.stamp ?? recvNs);
    for (const w of [...this.waiters]) {
      let hit = false;
      try {
        hit = w.pred(event);
      } catch (err) {
        this.dropWaiter(w);
        w.reject(err as Error);
        continue;
      }
      if (hit) {
        this.dropWaiter(w);
        w.resolve(event);
      }
    }
  }

  private dropWaiter(w: Waiter): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
  }

  private rejectWaiters(why: string): void {
    for (const w of [...this.waiters]) {
      this.dropWaiter(w);
      w.reject(new WaitTimeoutError(w.what, `${w.what}: ${why} before it happened`));
    }
  }

  /**
   * The first probe event (past or future) matching `pred`. Rejects with WaitTimeoutError after
   * `timeoutMs`, or once the subject has exited (and its probe channel was drained) without one.
   */
  waitProbe(pred: (e: ProbeEvent) => boolean, timeoutMs: number, what: string): Promise<ProbeEvent> {
    const past = this.probeEvents.find(pred);
    if (past) return Promise.resolve(past);
    if (this.settled && this.exitInfo !== null) {
      return Promise.reject(
        new WaitTimeoutError(
          what,
          `${what}: ${this.manifest.name} exited (${describeExit(this.exitInfo)}) before it happened`,
        ),
      );
    }
    if (this.teardownP !== null && this.settled) {
      return Promise.reject(
        new WaitTimeoutError(what, `${what}: ${this.manifest.name} was torn down before it happened`),
      );
    }
    return new Promise<ProbeEvent>((resolveWait, rejectWait) => {
      const w: Waiter = {
        pred,
        what,
        resolve: resolveWait,
        reject: rejectWait,
        timer: setTimeout(() => {
          this.dropWaiter(w);
          rejectWait(
            new WaitTimeoutError(what, `${this.manifest.name}: timed out after ${timeoutMs} ms waiting for ${what}`),
          );
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /**
   * The exit of the direct child. Resolves once the exit was observed and the probe channel drained
   * (so events written just before exiting are in `probeEvents`); rejects with WaitTimeoutError after `timeoutMs`.
   */
  async waitExit(timeoutMs: number): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), timeoutMs);
    });
    try {
      const info = await Promise.race([this.exitSettledP, timeout]);
      if (info === null) {
        throw new WaitTimeoutError(
          'exit',
          `${this.manifest.name}: still running after ${timeoutMs} ms (waiting for exit)`,
        );
      }
      return info;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Send `sig` to the subject (or its whole process group). Returns the monotonic stamp taken immediately
   * before kill(2), which is also the `signal-sent` history event's stamp.
   * Throws SignalUnsupportedError when the platform cannot deliver it, SubjectExitedError after the exit.
   */
  signal(sig: NodeJS.Signals, opts: { group?: boolean } = {}): bigint {
    const group = opts.group === true;
    const reason = undeliverableReason(sig, { group });
    if (reason !== null) throw new SignalUnsupportedError(sig, process.platform, reason);
    if (this.isGone()) {
      throw new SubjectExitedError(
        `${this.manifest.name}: cannot send ${sig}: the subject already exited (${describeExit(this.exitInfo ?? { code: this.child.exitCode, signal: this.child.signalCode })})`,
      );
    }
    const target = group ? -this.pid : this.pid;
    const ns = process.hrtime.bigint();
    process.kill(target, sig);
    this.record('harness', 'signal-sent', { sig, group, pid: this.pid }, ns);
    return ns;
  }

  /** Has the direct child's exit been observed (it is reaped: its pid must not be signalled)? */
  private isGone(): boolean {
    return this.exitInfo !== null || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Replace the configuration file atomically (temp file + rename). A string is written as is (invalid configs). */
  writeConfig(cfg: Record<string, unknown> | string): void {
    writeAtomic(this.configPath, typeof cfg === 'string' ? cfg : `${JSON.stringify(cfg, null, 2)}\n`);
  }

  /**
   * Live processes of this launch (the child included while it runs; zombies excluded): the members of its
   * cgroup, or the processes carrying its run marker (see `tracking`).
   */
  descendants(): Promise<ProcInfo[]> {
    return this.tracker.list();
  }

  /** How this launch's processes are tracked (also in the history as the `tracking` event). */
  get tracking(): TrackingInfo {
    return this.tracker.info;
  }

  /** `http://127.0.0.1:<port><path>` for a port name (default `http`). */
  url(path: string, port = 'http'): string {
    const n = this.ports[port];
    if (n === undefined)
      throw new Error(`${this.manifest.name}: no port named "${port}" (ports: ${Object.keys(this.ports).join(', ')})`);
    return `http://${LOOPBACK}:${n}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /**
   * Wait until the subject is ready per its manifest. Throws LaunchError 'exited' or 'not-ready'
   * (it does not tear down; launch() does).
   */
  async waitReady(timeoutMs: number = this.manifest.readiness.timeoutMs): Promise<void> {
    const r = this.manifest.readiness;
    const started = nowNs();
    let outcome: 'ready' | 'timeout' | 'stopped';
    if (r.kind === 'probe') {
      try {
        await this.waitProbe((e) => e.ev === 'ready', timeoutMs, 'the ready event');
        outcome = 'ready';
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        outcome = this.exitInfo !== null ? 'stopped' : 'timeout';
      }
    } else {
      const port = this.ports[r.port];
      if (port === undefined) {
        throw new LaunchError('bad-manifest', `${this.manifest.name}: readiness port "${r.port}" was not allocated`, {
          runId: this.runId,
        });
      }
      const attempt =
        r.kind === 'http' ? (ms: number) => httpOk(port, r.path, ms) : (ms: number) => tcpConnects(port, ms);
      outcome = await pollReady(attempt, Date.now() + timeoutMs, () => this.exitInfo !== null, this.exitObserved);
    }
    if (outcome === 'stopped') {
      const exit = await this.exitSettledP;
      const tail = this.logs.stderr.lastLine();
      throw new LaunchError(
        'exited',
        `${this.manifest.name} exited before it was ready (${describeExit(exit)}); ${tail === null ? 'stderr empty' : `last stderr line: ${tail}`}`,
        { runId: this.runId, exit, stderrTail: tail },
      );
    }
    if (outcome === 'timeout') {
      throw new LaunchError(
        'not-ready',
        `${this.manifest.name} not ready after ${timeoutMs} ms (readiness: ${r.kind})`,
        {
          runId: this.runId,
          stderrTail: this.logs.stderr.lastLine(),
        },
      );
    }
    this.record('harness', 'ready', { kind: r.kind, ms: Number(nowNs() - started) / 1e6 });
  }

  /** Signal the group for teardown, only while the child is not reaped. */
  private teardownSignal(sig: 'SIGTERM' | 'SIGKILL'): void {
    if (this.isGone()) return;
    const ns = nowNs();
    try {
      if (isWindows) this.child.kill(sig);
      else process.kill(-this.pid, sig);
    } catch {
      return; // ESRCH: nothing left in the group
    }
    this.record('harness', 'teardown-signal', { sig, group: !isWindows, pid: this.pid }, ns);
  }

  private async exitWithin(ms: number): Promise<void> {
    if (this.exitInfo !== null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exitObserved,
      new Promise<void>((r) => {
        timer = setTimeout(r, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Stop everything this launch started. Idempotent (later calls return the same report).
   * Child running: SIGTERM to its group, wait gracePeriodMs + 1 s, then SIGKILL the group.
   * Then every process still tracked (e.g. one that called setsid) is an orphan: SIGKILLed, until none is
   * left (bounded). Finally the launch's cgroup and the FIFO are removed.
   */
  teardown(): Promise<TeardownReport> {
    this.teardownP ??= this.doTeardown();
    return this.teardownP;
  }

  private cleanups: (() => Promise<void>)[] = [];

  /** @internal run after the subject's processes are gone (e.g. stop the harness's slow upstream) */
  addCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  private async doTeardown(): Promise<TeardownReport> {
    let killed = false;
    if (!this.isGone()) {
      if (isWindows) {
        // TerminateProcess: always a forced kill
        this.teardownSignal('SIGKILL');
        killed = true;
        await this.exitWithin(KILL_WAIT_MS);
      } else {
        this.teardownSignal('SIGTERM');
        await this.exitWithin(this.manifest.gracePeriodMs + 1_000);
        if (!this.isGone()) {
          this.teardownSignal('SIGKILL');
          killed = true;
          await this.exitWithin(KILL_WAIT_MS);
        }
      }
    }

    const tracked = await this.tracker.list();
    const orphans = tracked.filter((p) => p.pid !== this.pid || this.isGone());
    const swept = await this.tracker.sweep(KILL_WAIT_MS, tracked);
    if (swept.signalled > 0) killed = true;
    const leftover = swept.leftover;
    await this.tracker.dispose(KILL_WAIT_MS);
    await Promise.all([this.logs.stdout.drained(PROBE_DRAIN_MS), this.logs.stderr.drained(PROBE_DRAIN_MS)]);
    for (const log of [this.logs.stdout, this.logs.stderr]) {
      const cut = log.finish();
      if (cut !== null) this.record('harness', 'log-truncated', { ...cut });
    }

    if (this.exitInfo !== null) await this.exitSettledP;
    this.probeStream?.destroy();
    this.rejectWaiters(`${this.manifest.name} was torn down`);
    this.settled = true;
    if (this.fifoPath !== null) rmSync(this.fifoPath, { force: true });
    for (const fn of this.cleanups.splice(0)) await fn().catch(() => undefined);
    unregister(this);
    const report: TeardownReport = { orphans, killed, leftover };
    this.record('harness', 'teardown', {
      orphans: orphans.map((p) => ({ pid: p.pid, cmdline: p.cmdline })),
      killed,
      leftover: leftover.map((p) => p.pid),
    });
    return report;
  }

  /** @internal last resort at harness exit: synchronous SIGKILL of the group and every tracked process. */
  killNowSync(): void {
    if (!this.isGone()) {
      try {
        if (isWindows) this.child.kill('SIGKILL');
        else process.kill(-this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.tracker.killAll();
    this.tracker.disposeSync();
    this.logs.stdout.finish();
    this.logs.stderr.finish();
    if (this.fifoPath !== null) rmSync(this.fifoPath, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// launch

function newRunId(): string {
  return `sc-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function buildEnv(
  p: Prepared,
  values: PlaceholderValues,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const m = p.manifest;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // a harness that itself runs under sigcert must not leak its own marker or hand-over
    if (v !== undefined && !k.startsWith('SIGCERT_')) env[k] = v;
  }
  env.SIGCERT_RUN_ID = p.runId;
  for (const [name, port] of Object.entries(p.ports)) env[`SIGCERT_PORT_${name.toUpperCase()}`] = String(port);
  env.SIGCERT_HOST = LOOPBACK;
  env.SIGCERT_STATE_DIR = p.stateDir;
  env.SIGCERT_CONFIG = p.configPath;
  if (m.capabilities.probe === true) env.SIGCERT_PROBE_FD = '3';
  env.SIGCERT_CONFORMANCE = '1';
  env.SIGCERT_GRACE_MS = String(m.gracePeriodMs);
  env.SIGCERT_PREDRAIN_MS = '0';
  if (p.fifoPath !== null) env.SIGCERT_FIFO = p.fifoPath;
  env.SIGCERT_CONTROL_TOKEN = p.token;
  env.SIGCERT_STARTUP_DELAY_MS = '0';
  for (const [k, v] of Object.entries(m.env)) env[k] = substituteOrThrow(v, values, m.name, `env.${k}`, p.runId);
  Object.assign(env, extra ?? {});
  env.SIGCERT_RUN_ID = p.runId; // the marker is not negotiable: teardown depends on it
  return env;
}

function substituteOrThrow(s: string, values: PlaceholderValues, name: string, where: string, runId: string): string {
  try {
    return substitute(s, values);
  } catch (err) {
    throw new LaunchError('bad-manifest', `${name}: ${where}: ${(err as Error).message}`, { runId });
  }
}

/** Run the manifest's setup commands (shell, same env and cwd, output to setup.log); each must exit 0. */
async function runSetup(
  p: Prepared,
  commands: readonly string[],
  env: Record<string, string>,
  values: PlaceholderValues,
): Promise<void> {
  const m = p.manifest;
  const logPath = join(p.runDir, p.launchIndex > 0 ? `setup.${p.launchIndex}.log` : 'setup.log');
  for (const [i, raw] of commands.entries()) {
    const cmd = substituteOrThrow(raw, values, m.name, `setup[${i}]`, p.runId);
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      const opts: SpawnOptions = {
        cwd: m.cwd,
        env,
        detached: !isWindows,
        stdio: ['ignore', fd, fd],
        windowsHide: true,
      };
      if (isWindows) {
        child = spawn(cmd, { ...opts, shell: true });
      } else {
        // inside the launch's tracking (its cgroup, when there is one), like the subject
        const w = p.tracker.wrap('/bin/sh', ['-c', cmd]);
        child = spawn(w.file, w.args, opts);
      }
    } finally {
      closeSync(fd);
    }
    const result = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      error?: Error;
      timedOut: boolean;
    }>((done) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (isWindows) child.kill('SIGKILL');
          else if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }, SETUP_TIMEOUT_MS);
      child.once('error', (error) => {
        clearTimeout(timer);
        done({ code: null, signal: null, error, timedOut });
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal, timedOut });
      });
    });
    // a setup command must not leave processes behind (nor hand them to the subject's cgroup)
    await p.tracker.sweep(KILL_WAIT_MS);
    if (result.error !== undefined || result.timedOut || result.code !== 0) {
      const how = result.error
        ? `could not start (${oneLine(result.error.message)})`
        : result.timedOut
          ? `timed out after ${SETUP_TIMEOUT_MS} ms`
          : `exited with ${describeExit({ code: result.code, signal: result.signal })}`;
      const tail = lastLine(logPath);
      throw new LaunchError(
        'setup-failed',
        `${m.name}: setup command ${JSON.stringify(raw)} ${how}${tail === null ? '' : `; last output line: ${tail}`}`,
        {
          runId: p.runId,
          exit: { code: result.code, signal: result.signal, ns: nowNs().toString() },
          stderrTail: tail,
        },
      );
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Why `execvp(file)` would fail (`ENOENT`, `EACCES`), or null when it would find an executable: the
 * PATH search of execvp(3) (relative entries against `cwd`), or `file` itself when it has a slash.
 */
function executableProblem(file: string, cwd: string, pathVar: string | undefined): 'ENOENT' | 'EACCES' | null {
  const candidates = file.includes('/')
    ? [resolve(cwd, file)]
    : (pathVar ?? '/bin:/usr/bin').split(delimiter).map((dir) => resolve(cwd, dir === '' ? '.' : dir, file));
  let denied = false;
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(c, fsConstants.X_OK);
      return null;
    } catch {
      denied = true;
    }
  }
  return denied ? 'EACCES' : 'ENOENT';
}

function spawnErrorMessage(err: NodeJS.ErrnoException, command: string): string {
  if (err.code === 'ENOENT') return `command not found: ${command}`;
  if (err.code === 'EACCES') return `command not executable (permission denied): ${command}`;
  return `cannot start ${command}: ${err.code ?? oneLine(err.message)}`;
}

/**
 * Prepare the hand-over, spawn the subject, and (unless `waitReady: false`) wait until it is ready.
 * On any failure after the spawn, the subject is torn down before the LaunchError is thrown.
 */
export async function launch(opts: LaunchOptions): Promise<Subject> {
  const m = opts.manifest;
  const launchIndex = opts.launchIndex ?? 0;
  const runId = newRunId();
  const runDir = resolve(opts.runDir);
  const stateDir = resolve(opts.stateDir ?? join(runDir, 'state'));
  mkdirSync(runDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  if (!isDirectory(m.cwd)) throw new LaunchError('bad-manifest', `${m.name}: cwd not found: ${m.cwd}`, { runId });

  const ports = opts.ports !== undefined ? { ...opts.ports } : await allocatePorts(m.ports);
  const missing = m.ports.filter((name) => ports[name] === undefined);
  if (missing.length > 0) {
    throw new LaunchError('bad-manifest', `${m.name}: no port given for ${missing.join(', ')}`, { runId });
  }

  const suffix = launchIndex > 0 ? `.${launchIndex}` : '';
  const p: Prepared = {
    manifest: m,
    history: opts.history,
    launchIndex,
    runId,
    runDir,
    stateDir,
    configPath: join(runDir, 'config.json'),
    fifoPath: isWindows ? null : join(runDir, 'control.fifo'),
    token: randomBytes(16).toString('hex'),
    ports,
    stdoutPath: join(runDir, `stdout${suffix}.log`),
    stderrPath: join(runDir, `stderr${suffix}.log`),
    tracker: Tracker.create(runId, opts.tracking),
    logs: {
      stdout: new BoundedLog(join(runDir, `stdout${suffix}.log`), 'stdout', opts.logKeepBytes),
      stderr: new BoundedLog(join(runDir, `stderr${suffix}.log`), 'stderr', opts.logKeepBytes),
    },
  };

  writeAtomic(p.configPath, `${JSON.stringify(opts.config ?? { generation: 1 }, null, 2)}\n`);
  if (p.fifoPath !== null) {
    rmSync(p.fifoPath, { force: true });
    execFileSync('mkfifo', ['-m', '600', p.fifoPath]);
  }

  const values: PlaceholderValues = {
    ports,
    values: {
      runDir,
      stateDir,
      config: p.configPath,
      manifestDir: m.dir,
      fifo: p.fifoPath,
      token: p.token,
    },
  };
  const cleanupFifo = async () => {
    if (p.fifoPath !== null) rmSync(p.fifoPath, { force: true });
    p.logs.stdout.finish();
    p.logs.stderr.finish();
    await p.tracker.dispose(KILL_WAIT_MS);
  };

  // black-box proxies: the harness's own slow upstream on the manifest's upstream port
  const upstream = m.upstream
    ? await startUpstream(ports[m.upstream.port]!).catch(async (e: Error) => {
        await cleanupFifo();
        throw new LaunchError('setup-failed', `${m.name}: cannot start the slow upstream: ${e.message}`, { runId });
      })
    : null;

  let child: ChildProcess;
  let args: string[] = [];
  const wrap = opts.wrap ?? [];
  try {
    args = m.args.map((a, i) => substituteOrThrow(a, values, m.name, `args[${i}]`, runId));
    const env = buildEnv(p, values, opts.env);
    if (m.setup !== undefined && m.setup.length > 0) await runSetup(p, m.setup, env, values);

    const hasSlash = m.command.includes('/') || (isWindows && m.command.includes('\\'));
    if (hasSlash && !existsSync(m.command))
      throw new LaunchError('not-found', `command not found: ${m.command}`, { runId });
    const file = wrap[0] ?? m.command;
    const argv = wrap.length > 0 ? [...wrap.slice(1), m.command, ...args] : args;
    // the tracking wrapper (sh, exec) would turn a missing command into exit 127: check it here instead
    const tracked = p.tracker.wrap(file, argv);
    if (tracked.file !== file) {
      const code = executableProblem(file, m.cwd, env.PATH);
      if (code !== null) {
        const what =
          spawnErrorMessage({ code } as NodeJS.ErrnoException, file) + (wrap.length > 0 ? ' (the wrapper)' : '');
        throw new LaunchError('not-found', what, { runId });
      }
    }

    child = spawn(tracked.file, tracked.args, {
      cwd: m.cwd,
      env,
      detached: !isWindows, // POSIX: setsid(), so the subject leads its own process group
      stdio: m.capabilities.probe === true ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });

    if (child.pid === undefined) {
      const err = await new Promise<NodeJS.ErrnoException>((r) => child.once('error', r));
      const what = spawnErrorMessage(err, file) + (wrap.length > 0 ? ' (the wrapper)' : '');
      throw new LaunchError('not-found', what, { runId });
    }
  } catch (err) {
    await cleanupFifo();
    await upstream?.close();
    throw err;
  }

  const subject = new Subject(p, child);
  if (upstream) subject.addCleanup(() => upstream.close());
  p.history.add('harness', 'tracking', { ...p.tracker.info }, undefined, launchIndex);
  p.history.add(
    'process',
    'spawn',
    {
      pid: subject.pid,
      command: m.command,
      args,
      ...(wrap.length > 0 ? { wrap } : {}),
      cwd: m.cwd,
      runId,
      ports,
      name: m.name,
    },
    undefined,
    launchIndex,
  );

  if (opts.waitReady === false) return subject;
  try {
    await subject.waitReady(opts.readyTimeoutMs ?? m.readiness.timeoutMs);
  } catch (err) {
    await subject.teardown();
    throw err;
  }
  return subject;
}
