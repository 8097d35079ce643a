/**
 * The supervisor's worker processes, by generation. A generation is `size` workers forked together
 * from the code on disk; a restart forks the next one, waits until every one of its workers is
 * listening, then retires the previous one. At most two generations are alive at any moment: the
 * bus runs one restart at a time (`bus.ts`) and a restart returns only once the old generation has
 * exited (RESTART.BOUNDED_GENERATIONS, edge case E17).
 *
 * ## Why cluster, with `SCHED_NONE`
 *
 * The listening sockets must outlive every generation: a restart closes the old workers' listeners,
 * and if the socket closed with them, connections in its accept queue would be reset and new ones
 * refused. `cluster` gives exactly the ownership needed, with public APIs only: a worker's
 * `listen()` asks the primary, which binds the port once (a `SharedHandle`, never listening or
 * accepting in the primary) and sends the same socket to every worker that asks, in any generation.
 * The socket is closed only when the last worker holding it closes its copy, so while the new
 * generation holds it, the old one can close its copy at any time: the accept queue belongs to the
 * socket, not to a process, and nothing in it is lost (SO_REUSEPORT on Linux does lose it, and Node
 * 20 has no `reusePort`). With `SCHED_NONE` the workers accept directly; the supervisor is never on
 * a connection's path, so its event loop stays free for signals and the probe (the default
 * round-robin policy would make the supervisor accept every connection and pass it over IPC).
 *
 * Cluster also gives the rest: a worker exits as soon as its IPC channel closes (the supervisor
 * died: PROC.PARENT_DEATH, E27), `worker.process.kill()` only while the child is not reaped, and
 * a new process per fork, so a new generation runs the code and the `codeVersion` now on disk.
 * Cluster's `worker.disconnect()` is not used: it would close the IPC channel that an old worker
 * still needs during its drain (its `/kv` writes go to the supervisor's store).
 *
 * ## Probe events (written by the supervisor only; see subject-protocol section 8)
 *
 * `worker-started {workerPid, generation}`, `worker-exit {workerPid, generation, code, signal,
 * expected}`, `generation-ready {generation, version, workers}`, `restart-begin {generation}`,
 * `restart-done {generation, version, previous}` (the old generation stopped accepting: from now on
 * every new connection is served by the new code), `restart-failed {generation, error}`,
 * `generation-exit {generation}` (every worker of an old generation has exited).
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { siblingScript } from '../cpu/pool.js';
import type { Logger } from '../log.js';
import type { Probe, Trace } from '../probe.js';
import {
  type Command,
  type FromWorker,
  isMessage,
  type KvAnswer,
  type KvOp,
  type ToWorker,
  type WireConfig,
} from './ipc.js';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

type Phase = 'starting' | 'ready' | 'leaving';

interface WorkerRec {
  worker: ClusterWorker;
  pid: number;
  generation: Generation;
  phase: Phase;
  /** Said hello: it has a message listener and was sent `init`. */
  greeted: boolean;
  /** told to leave in its `init` (a stop came first): it exits having opened and served nothing */
  leftAtInit: boolean;
  ports: Record<string, number>;
  version: string | undefined;
  exitInfo: ExitInfo | undefined;
  exited: Promise<ExitInfo>;
  onReady: { resolve: () => void; reject: (err: Error) => void };
  readyP: Promise<void>;
  acks: Map<number, (data: Record<string, unknown> | undefined) => void>;
  /** The last `state` sent (`sendState` skips a repeat: each send costs the supervisor ~0.1-0.4 ms). */
  lastState: string | undefined;
  /** Told to stop on its own (`state {drain: true}`): its `stopped-accepting` and `retired`, or its exit. */
  selfStop:
    | { accepting: Settled<Record<string, unknown> | undefined>; drained: Settled<DrainOutcome | undefined> }
    | undefined;
}

/** How a worker's drain ended (`retired`, or the acknowledgement of `drain`). */
export interface DrainOutcome {
  forced: boolean;
  aborted: number;
}

/** A promise with its resolve function. */
interface Settled<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function settled<T>(): Settled<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface Generation {
  readonly number: number;
  readonly workers: Set<WorkerRec>;
  version: string | undefined;
}

export interface PoolOptions {
  /** Workers per generation. */
  size: number;
  /** Threads of each worker's CPU pool. */
  cpuThreads: number;
  /** An old generation's drain deadline (the stop deadline). */
  graceMs: number;
  /**
   * A stop has no pre-drain delay: the `state` message that tells the workers of the stop also
   * tells them to drain and exit at once (`ipc.ts`).
   */
  drainAtStop: boolean;
  /** How long a new generation may take to be ready. */
  readyTimeoutMs: number;
  probe: Probe;
  log: Logger;
  /** The configuration in use, as sent with `init`. */
  config(): WireConfig;
  /** The bus's readiness, and whether a stop was requested. */
  ready(): boolean;
  stopping(): boolean;
  /** True once the process is EXITING: no more probe events (`exiting` must stay the last). */
  quiet(): boolean;
  /** A `/kv` request from a worker; resolves with the answer to send back. */
  kv(op: KvOp): Promise<KvAnswer>;
  /** A worker thread's bus request, and the certificate that comes before a reload. */
  busRequest(msg: Extract<FromWorker, { type: 'bus-request' }>): void;
  installCertificate(msg: Extract<FromWorker, { type: 'install-certificate' }>): void;
  /** Stop breakdown stamps (`SIGCERT_TRACE=1`): a worker's `retired` message and its exit. */
  trace?: Trace;
}

/** An old worker's idle keep-alive connections get this long to carry one more request. */
const RETIRE_LINGER_MS = 1000;
/** Time after the grace period before a retiring worker that did not exit is killed. */
const KILL_AFTER_GRACE_MS = 2000;
/** Unexpected exits of a current worker replaced within this window, at most. */
const RESPAWN_WINDOW_MS = 30_000;
const RESPAWN_MAX = 5;
const RESPAWN_DELAY_MS = 250;

export class WorkerPool {
  private readonly live = new Set<WorkerRec>();
  private generations = 0;
  private currentGen: Generation | undefined;
  private nextAck = 1;
  private readonly announced = new Map<string, number>();
  private acceptingClosed = false;
  private readonly respawns: number[] = [];

  constructor(private readonly opts: PoolOptions) {
    cluster.schedulingPolicy = cluster.SCHED_NONE; // before the first fork (see the docstring)
    cluster.setupPrimary({
      exec: fileURLToPath(siblingScript('worker-main', import.meta.url)),
      args: [],
      serialization: 'advanced',
    });
  }

  /** Ports announced by the workers (`listening`), by listener name. */
  ports(): Record<string, number> {
    return Object.fromEntries(this.announced);
  }

  /** A service listener is open (for the pre-drain delay). */
  get accepting(): boolean {
    return this.announced.size > 0 && !this.acceptingClosed;
  }

  /** The first generation (startup). Resolves when it serves; rejects when it cannot start. */
  async startFirst(signal: AbortSignal): Promise<Generation | undefined> {
    const gen = await this.startGeneration(signal);
    if (gen === undefined) return undefined;
    this.currentGen = gen;
    this.emit('generation-ready', { generation: gen.number, version: gen.version, workers: this.pidsOf(gen) });
    return gen;
  }

  /**
   * A restart: a new generation from the code on disk; once every one of its workers listens, the
   * old generation retires (stops accepting, drains within the grace period, exits). Resolves when
   * the old generation is gone. A stop (`signal`) ends the restart early: the stop handles every
   * worker of both generations.
   */
  async restart(signal: AbortSignal): Promise<void> {
    const old = this.currentGen;
    const number = this.generations + 1;
    this.emit('restart-begin', { generation: number });
    let next: Generation | undefined;
    try {
      next = await this.startGeneration(signal);
    } catch (err) {
      const error = (err as Error).message;
      this.opts.log.error(
        `restart: generation ${number} failed to start, generation ${old?.number} keeps serving: ${error}`,
      );
      this.emit('restart-failed', { generation: number, error });
      throw err;
    }
    if (next === undefined) return; // a stop came first
    this.currentGen = next;
    this.emit('generation-ready', { generation: next.number, version: next.version, workers: this.pidsOf(next) });
    if (old !== undefined) await this.retire(old);
    if (signal.aborted) return;
    this.emit('restart-done', { generation: next.number, version: next.version, previous: old?.number ?? null });
    this.opts.log.info(`restart: generation ${next.number} (${next.version}) serves every new connection`);
    if (old === undefined) return;
    await this.waitGone(old, this.opts.graceMs + KILL_AFTER_GRACE_MS);
    if (!signal.aborted) this.emit('generation-exit', { generation: old.number });
  }

  /** The bus state changed: readiness for `/ready`, and `Connection: close` from a stop on. */
  broadcastState(): void {
    const ready = this.opts.ready();
    const stopping = this.opts.stopping();
    const drain = stopping && this.opts.drainAtStop;
    for (const rec of this.live) {
      if (stopping) rec.phase = 'leaving';
      this.sendState(rec, ready, stopping, drain);
    }
  }

  /**
   * A stop signal just arrived (before the bus has even seen it, `signals.ts` `onEntry`): every worker
   * fails `/ready` and sends `Connection: close` from now on, and with no pre-drain delay starts its
   * drain (`drainAtStop`). The bus's own STOPPING broadcast follows.
   */
  notifyStopping(): void {
    for (const rec of this.live) {
      rec.phase = 'leaving';
      this.sendState(rec, false, true, this.opts.drainAtStop);
    }
  }

  /**
   * A `state` message, unless this worker was already told exactly that (the stop's notice from the
   * signal listener and the bus's STOPPING and EXITING broadcasts say the same thing).
   */
  private sendState(rec: WorkerRec, ready: boolean, stopping: boolean, drain: boolean): void {
    if (!rec.greeted) return;
    const key = `${ready} ${stopping} ${drain}`;
    if (rec.lastState === key) return;
    rec.lastState = key;
    if (drain && rec.selfStop === undefined) rec.selfStop = { accepting: settled(), drained: settled() };
    this.send(rec, { type: 'state', ready, stopping, drain });
  }

  /** A reload's swap: every worker that is not leaving applies the new configuration. */
  async applyConfig(config: WireConfig): Promise<void> {
    const targets = [...this.live].filter((r) => r.phase !== 'leaving');
    await Promise.all(targets.map((r) => this.ask(r, { cmd: 'config', config }, 5000)));
  }

  /** The stop: every worker closes its copy of the listeners (the socket closes with the last). */
  async stopAccepting(timeoutMs?: number): Promise<{ idle: number; inFlight: number }> {
    this.acceptingClosed = true;
    const acks = await Promise.all(
      [...this.live].map((r) =>
        r.selfStop === undefined
          ? this.ask(r, { cmd: 'stop-accepting' }, timeoutMs)
          : this.within(r.selfStop.accepting.promise, timeoutMs),
      ),
    );
    let idle = 0;
    let inFlight = 0;
    for (const a of acks) {
      idle += Number(a?.idle ?? 0);
      inFlight += Number(a?.inFlight ?? 0);
    }
    return { idle, inFlight };
  }

  /**
   * The stop: resolves once every worker has no request in flight (each exits right after), with how
   * their drains ended: `forced` when a worker's drain was cut (a fast stop or the deadline reached it
   * first) or it exited without saying, `aborted` the requests they closed unanswered.
   */
  async drain(): Promise<DrainOutcome> {
    const outcomes = await Promise.all(
      [...this.live].map((r) =>
        r.selfStop !== undefined
          ? r.selfStop.drained.promise
          : // a worker still starting, or told to leave at its init, has served nothing: nothing to drain
            !r.greeted || r.leftAtInit
            ? { forced: false, aborted: 0 }
            : this.ask(r, { cmd: 'drain' }),
      ),
    );
    let forced = false;
    let aborted = 0;
    for (const o of outcomes) {
      forced ||= o === undefined || o.forced === true;
      aborted += Number(o?.aborted ?? 0);
    }
    return { forced, aborted };
  }

  /** `p`, or undefined once `timeoutMs` passed (no deadline: `p`). */
  private async within<T>(p: Promise<T>, timeoutMs: number | undefined): Promise<T | undefined> {
    if (timeoutMs === undefined) return p;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The deadline or a fast stop: every worker destroys its connections and exits. */
  async abort(): Promise<number> {
    this.acceptingClosed = true;
    const acks = await Promise.all([...this.live].map((r) => this.ask(r, { cmd: 'abort' }, 1000)));
    return acks.reduce((n, a) => n + Number(a?.aborted ?? 0), 0);
  }

  /** Resolves when every worker has exited. */
  async allExited(): Promise<void> {
    await Promise.all([...this.live].map((r) => r.exited));
  }

  /** Like `allExited`, but gives up after `ms`; resolves whether they all exited. */
  allExitedWithin(ms: number): Promise<boolean> {
    return withTimeout(this.allExited(), ms);
  }

  /** Last resort at exit: SIGKILL every worker still alive (not reaped yet, so its pid is ours). */
  async killRemaining(waitMs: number): Promise<number> {
    const left = [...this.live].filter((r) => r.exitInfo === undefined);
    for (const rec of left) {
      this.opts.log.warn(`worker ${rec.pid} (generation ${rec.generation.number}) did not exit: SIGKILL`);
      rec.worker.process.kill('SIGKILL');
    }
    await withTimeout(Promise.all(left.map((r) => r.exited)), waitMs);
    return left.length;
  }

  // -------------------------------------------------------------------------------------------

  /** Forks a generation and waits until all its workers listen. Undefined when a stop came first. */
  private async startGeneration(signal: AbortSignal): Promise<Generation | undefined> {
    const gen: Generation = { number: ++this.generations, workers: new Set(), version: undefined };
    for (let i = 0; i < this.opts.size; i++) this.fork(gen);
    const ready = Promise.all([...gen.workers].map((r) => r.readyP));
    const stopped = new Promise<'stopped'>((resolve) => {
      if (signal.aborted) resolve('stopped');
      else signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.opts.readyTimeoutMs);
    });
    let outcome: 'ready' | 'stopped' | 'late';
    try {
      outcome = await Promise.race([ready.then(() => 'ready' as const), stopped, late]);
    } catch (err) {
      clearTimeout(timer);
      await this.abandon(gen);
      throw err;
    }
    clearTimeout(timer);
    if (outcome === 'stopped') return undefined;
    if (outcome === 'late') {
      await this.abandon(gen);
      throw new Error(`generation ${gen.number} was not ready within ${this.opts.readyTimeoutMs} ms`);
    }
    gen.version = [...gen.workers][0]?.version;
    return gen;
  }

  /** A generation that failed to start: retire what is left of it (gracefully: it may be listening). */
  private async abandon(gen: Generation): Promise<void> {
    await this.retire(gen);
    await this.waitGone(gen, this.opts.graceMs + KILL_AFTER_GRACE_MS);
  }

  private fork(gen: Generation): WorkerRec {
    // The probe fd is the supervisor's (a worker's fd 3 is its IPC channel): no probe in workers.
    const worker = cluster.fork({ SIGCERT_PROBE_FD: '' });
    let onReady!: WorkerRec['onReady'];
    const readyP = new Promise<void>((resolve, reject) => {
      onReady = { resolve, reject };
    });
    readyP.catch(() => {}); // observed by startGeneration; a later worker crash must not be unhandled
    let exitedResolve!: (info: ExitInfo) => void;
    const rec: WorkerRec = {
      worker,
      pid: worker.process.pid ?? -1,
      generation: gen,
      phase: 'starting',
      greeted: false,
      leftAtInit: false,
      ports: {},
      version: undefined,
      exitInfo: undefined,
      exited: new Promise<ExitInfo>((resolve) => {
        exitedResolve = resolve;
      }),
      onReady,
      readyP,
      acks: new Map(),
      lastState: undefined,
      selfStop: undefined,
    };
    gen.workers.add(rec);
    this.live.add(rec);
    worker.on('message', (msg: unknown) => {
      if (isMessage<FromWorker>(msg)) this.onMessage(rec, msg);
    });
    worker.on('error', (err) => this.opts.log.warn(`worker ${rec.pid}: ${err.message}`));
    worker.on('exit', (code, signal) => {
      this.opts.trace?.(`worker ${rec.pid} exit seen`);
      // The exit can be seen before the IPC channel's last messages are read (an acknowledgement the
      // worker sent just before it exited, e.g. an abort's count): they are all read before the channel
      // closes, so the exit is settled once it has (bounded, should the close never be reported).
      if (!worker.isConnected()) return this.onWorkerGone(rec, gen, { code, signal }, exitedResolve);
      let done = false;
      const settle = () => {
        if (done) return;
        done = true;
        clearTimeout(fallback);
        this.onWorkerGone(rec, gen, { code, signal }, exitedResolve);
      };
      const fallback = setTimeout(settle, 1000);
      worker.process.once('disconnect', settle);
    });
    this.emit('worker-started', { workerPid: rec.pid, generation: gen.number });
    return rec;
  }

  /** A worker exited and its IPC channel is drained: nothing more will come from it. */
  private onWorkerGone(rec: WorkerRec, gen: Generation, info: ExitInfo, exitedResolve: (info: ExitInfo) => void): void {
    rec.exitInfo = info;
    this.live.delete(rec);
    gen.workers.delete(rec);
    rec.onReady.reject(
      new Error(`worker ${rec.pid} exited (${info.signal ?? `code ${info.code}`}) before it was ready`),
    );
    for (const ack of rec.acks.values()) ack(undefined);
    rec.acks.clear();
    rec.selfStop?.accepting.resolve(undefined);
    rec.selfStop?.drained.resolve(undefined);
    exitedResolve(info);
    this.onExit(rec, info);
  }

  private onMessage(rec: WorkerRec, msg: FromWorker): void {
    switch (msg.type) {
      case 'hello': {
        rec.greeted = true;
        // Told to leave before it could hear anything (a stop, or its generation was abandoned or
        // retired): `stopping` in its init makes it exit at once, having opened nothing.
        const stopping = this.opts.stopping() || rec.phase === 'leaving';
        if (stopping) {
          rec.phase = 'leaving';
          rec.leftAtInit = true;
        }
        const ready = this.opts.ready();
        rec.lastState = `${ready} ${stopping} false`;
        this.send(rec, {
          type: 'init',
          generation: rec.generation.number,
          config: this.opts.config(),
          ready,
          stopping,
          cpuThreads: this.opts.cpuThreads,
        });
        return;
      }
      case 'listening':
        rec.ports[msg.name] = msg.port;
        if (!this.announced.has(msg.name) && !this.opts.stopping()) {
          this.announced.set(msg.name, msg.port);
          this.opts.probe.emit('listening', { name: msg.name, port: msg.port });
        }
        return;
      case 'ready':
        rec.version = msg.version;
        if (rec.phase === 'starting') rec.phase = 'ready';
        rec.onReady.resolve();
        return;
      case 'ack': {
        const ack = rec.acks.get(msg.id);
        rec.acks.delete(msg.id);
        ack?.(msg.data);
        return;
      }
      case 'kv': {
        const { id, type: _type, ...op } = msg;
        void this.opts.kv(op).then((answer) => this.send(rec, { type: 'kv-result', id, ...answer }));
        return;
      }
      case 'install-certificate':
        this.opts.installCertificate(msg);
        return;
      case 'bus-request':
        this.opts.busRequest(msg);
        return;
      case 'log':
        this.opts.log[msg.level](`worker ${rec.pid} (generation ${rec.generation.number}): ${msg.msg}`);
        return;
      case 'stopped-accepting':
        this.opts.trace?.(`worker ${rec.pid} stopped accepting`);
        this.opts.log.info(
          `worker ${rec.pid} (generation ${rec.generation.number}): stop: listeners closed, ${msg.idle} idle connection(s) ended, ${msg.inFlight} request(s) in flight`,
        );
        rec.selfStop?.accepting.resolve({ idle: msg.idle, inFlight: msg.inFlight });
        return;
      case 'retired':
        rec.selfStop?.drained.resolve({ forced: msg.forced, aborted: msg.aborted });
        this.opts.trace?.(`worker ${rec.pid} retired`);
        this.opts.log.info(
          `worker ${rec.pid} (generation ${rec.generation.number}) drained${msg.forced ? ` at the deadline, ${msg.aborted} aborted` : ''}`,
        );
        return;
    }
  }

  private onExit(rec: WorkerRec, info: ExitInfo): void {
    const expected = rec.phase === 'leaving' || this.opts.stopping();
    if (!this.opts.quiet()) {
      this.emit('worker-exit', {
        workerPid: rec.pid,
        generation: rec.generation.number,
        code: info.code,
        signal: info.signal,
        expected,
      });
    }
    if (expected) return;
    const how = info.signal ?? `status ${info.code}`;
    this.opts.log.error(`worker ${rec.pid} (generation ${rec.generation.number}) exited unexpectedly (${how})`);
    if (rec.generation !== this.currentGen || rec.phase !== 'ready') return; // a starting generation fails instead
    const now = Date.now();
    while (this.respawns.length > 0 && now - this.respawns[0]! > RESPAWN_WINDOW_MS) this.respawns.shift();
    if (this.respawns.length >= RESPAWN_MAX) {
      this.opts.log.error(`not replacing it: ${RESPAWN_MAX} workers already replaced in ${RESPAWN_WINDOW_MS} ms`);
      return;
    }
    this.respawns.push(now);
    const gen = rec.generation;
    setTimeout(() => {
      if (this.opts.stopping() || this.currentGen !== gen) return;
      this.opts.log.info(`replacing worker ${rec.pid} in generation ${gen.number}`);
      this.fork(gen);
    }, RESPAWN_DELAY_MS).unref();
  }

  /** Tells every worker of `gen` to retire; resolves once each has closed its listeners. */
  private async retire(gen: Generation): Promise<void> {
    const recs = [...gen.workers];
    for (const rec of recs) rec.phase = 'leaving';
    const graceMs = this.opts.graceMs;
    const lingerMs = Math.min(RETIRE_LINGER_MS, Math.floor(graceMs / 2));
    await Promise.all(recs.map((r) => this.ask(r, { cmd: 'retire', graceMs, lingerMs }, 5000)));
  }

  /** Waits for every worker of `gen` to exit; SIGKILLs the ones still there after `ms`. */
  private async waitGone(gen: Generation, ms: number): Promise<void> {
    const recs = [...gen.workers];
    const gone = await withTimeout(Promise.all(recs.map((r) => r.exited)), ms);
    if (gone) return;
    for (const rec of recs) {
      if (rec.exitInfo !== undefined) continue;
      this.opts.log.warn(`worker ${rec.pid} of generation ${gen.number} outlived its drain: SIGKILL`);
      rec.worker.process.kill('SIGKILL');
    }
    await withTimeout(Promise.all(recs.map((r) => r.exited)), 1000);
  }

  /** Sends a command and resolves with the worker's answer, or undefined (it exited, or too late). */
  private ask(rec: WorkerRec, cmd: Command, timeoutMs?: number): Promise<Record<string, unknown> | undefined> {
    if (!rec.greeted || rec.exitInfo !== undefined) return Promise.resolve(undefined);
    const id = this.nextAck++;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      rec.acks.set(id, (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          rec.acks.delete(id);
          this.opts.log.warn(`worker ${rec.pid}: no answer to ${cmd.cmd} within ${timeoutMs} ms`);
          resolve(undefined);
        }, timeoutMs);
      }
      this.send(rec, { type: 'cmd', id, ...cmd });
    });
  }

  private send(rec: WorkerRec, msg: ToWorker): void {
    if (rec.exitInfo !== undefined || !rec.worker.isConnected()) return;
    try {
      rec.worker.send(msg, undefined, (err: Error | null) => {
        if (err) this.opts.log.warn(`worker ${rec.pid}: ${err.message}`);
      });
    } catch (err) {
      this.opts.log.warn(`worker ${rec.pid}: ${(err as Error).message}`);
    }
  }

  private pidsOf(gen: Generation): number[] {
    return [...gen.workers].map((r) => r.pid);
  }

  private emit(ev: string, fields: Record<string, unknown>): void {
    if (!this.opts.quiet()) this.opts.probe.emit(ev, fields);
  }
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
