/**
 * A running subject and everything the harness does to its processes (launch.ts starts it: the hand-over
 * of subject-protocol.md section 2, setup, a direct child in its own process group and, where possible,
 * its own cgroup (tracking.ts), stdout/stderr read into bounded logs, the probe channel on fd 3).
 *
 * A `Subject` records into the case's History: `spawn` and `exit` (process), every probe event (probe, stamped
 * with the subject's own monotonic time), `signal-sent` (harness, stamped just before kill(2)).
 *
 * Safety rules kept throughout:
 * - the child's pid / group is signalled only while its exit has not been observed (a reaped pid may be
 *   reused by an unrelated process);
 * - after the exit, processes are only killed through the launch's tracking (its cgroup, or found by the run
 *   marker and re-checked just before the kill): `Tracker.killAll`, the one kill helper;
 * - stdout/stderr are read continuously into bounded logs (logs.ts: the first and the last 4 MiB of each);
 *   nothing waits for them to end (teardown gives them a short drain), so a flooding subject or a
 *   grandchild holding them open cannot block or hang the harness.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { type History, nowNs } from '../history.js';
import type { ExitInfo, Manifest, Platform } from '../types.js';
import {
  describeExit,
  LaunchError,
  oneLine,
  SignalRefusedError,
  SignalUnsupportedError,
  SubjectExitedError,
  WaitTimeoutError,
} from './errors.js';
import { type Prepared, writeAtomic } from './handover.js';
import type { BoundedLog } from './logs.js';
import { LOOPBACK } from './ports.js';
import { LineSplitter, type ProbeEvent, parseProbeLine } from './probe.js';
import { findZombieChildren, type ProcInfo } from './processes.js';
import { httpOk, pollReady, tcpConnects } from './readiness.js';
import { register, unregister } from './registry.js';
import { fdAndThreadCounts, type Settled, type SettleOptions, settle } from './settle.js';
import { undeliverableReason } from './signals.js';
import { KILL_WAIT_MS, type Tracker, type TrackingInfo } from './tracking.js';

export type { LaunchOptions } from './handover.js';
export type { ProbeEvent } from './probe.js';

export interface TeardownReport {
  /** marked processes alive after the child exited, before we killed them */
  orphans: ProcInfo[];
  /** we had to SIGKILL (the child's group, or any orphan) */
  killed: boolean;
  /** marked processes still alive when teardown gave up (should be empty; e.g. stuck in uninterruptible sleep) */
  leftover: ProcInfo[];
}

/** After the exit, how long a probe channel (or a log pipe) still held open by a grandchild is read before it is closed. */
const PROBE_DRAIN_MS = 500;

const isWindows = process.platform === 'win32';

interface Waiter {
  pred: (e: ProbeEvent) => boolean;
  what: string;
  resolve: (e: ProbeEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
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
  /** the platform the subject is graded as (LaunchOptions.platform): `win32` means no POSIX signal */
  readonly platform: Platform;
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
    this.platform = p.platform;
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
    this.deliverProbeEvent(event, parsed.stamp ?? recvNs);
  }

  /**
   * @internal A probe event from another channel than fd 3 (the notify socket, notify.ts): recorded and
   * offered to the waiters like a probe line.
   */
  deliverProbeEvent(event: ProbeEvent, ns: bigint): void {
    this.probeEvents.push(event);
    this.record('probe', 'probe', event, ns);
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
   * Throws SignalRefusedError when the subject is graded as win32 (every signal: Windows has none, the
   * control channel is the way in), SignalUnsupportedError when the platform cannot deliver it,
   * SubjectExitedError after the exit.
   */
  signal(sig: NodeJS.Signals, opts: { group?: boolean } = {}): bigint {
    if (this.platform === 'win32') {
      this.record('harness', 'signal-refused', { sig, platform: this.platform, pid: this.pid });
      throw new SignalRefusedError(sig, this.platform);
    }
    return this.send(sig, opts.group === true);
  }

  /**
   * End the subject at once, with no chance to run any handler (a crash, for the durability cases):
   * SIGKILL on POSIX, TerminateProcess on Windows (Node's kill there). Allowed on every platform, also when
   * the subject is graded as win32: it is what Windows has, and no handler can see it. Recorded as a
   * `signal-sent` of SIGKILL with `terminate: true`. Returns the stamp taken just before the kill.
   */
  terminate(): bigint {
    return this.send('SIGKILL', false, true);
  }

  private send(sig: NodeJS.Signals, group: boolean, terminate = false): bigint {
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
    this.record('harness', 'signal-sent', { sig, group, pid: this.pid, ...(terminate ? { terminate } : {}) }, ns);
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

  /**
   * Zombie children of the subject and of its live descendants (exited, not waited for). A child
   * caught between its exit and its parent's wait shows here too: callers look twice.
   */
  async zombies(): Promise<ProcInfo[]> {
    const parents = [this.pid, ...(await this.tracker.list()).map((p) => p.pid)];
    return findZombieChildren(parents);
  }

  /**
   * fds and threads of the subject's process (Linux /proc) and the number of its live processes, once
   * they have settled (settle.ts: the same in several consecutive samples). Null counts when it is gone.
   */
  async settledCounts(opts?: SettleOptions): Promise<Settled<{ fds: number; threads: number; procs: number } | null>> {
    return settle(async () => {
      const c = this.isGone() ? null : fdAndThreadCounts(this.pid); // a reaped pid may be someone else's
      return c === null ? null : { ...c, procs: (await this.tracker.list()).length };
    }, opts);
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
    if (r.kind === 'probe' || r.kind === 'notify') {
      try {
        await this.waitProbe((e) => e.ev === 'ready', timeoutMs, r.kind === 'notify' ? 'READY=1' : 'the ready event');
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
        { runId: this.runId, exit, stderrTail: tail, output: this.recentOutput() },
      );
    }
    if (outcome === 'timeout') {
      throw new LaunchError(
        'not-ready',
        `${this.manifest.name} not ready after ${timeoutMs} ms (readiness: ${r.kind})`,
        {
          runId: this.runId,
          stderrTail: this.logs.stderr.lastLine(),
          output: this.recentOutput(),
        },
      );
    }
    this.record('harness', 'ready', { kind: r.kind, ms: Number(nowNs() - started) / 1e6 });
  }

  /** The subject's last output, stderr then stdout (8 KiB each): what a failed launch is searched for. */
  private recentOutput(): string {
    return `${this.logs.stderr.recentText()}\n${this.logs.stdout.recentText()}`;
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
      if (isWindows || this.platform === 'win32') {
        // TerminateProcess: always a forced kill (graded as win32 elsewhere: the same, never a SIGTERM)
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
