/**
 * The supervised mode (`--workers N`): the composition root of the supervising process, the
 * counterpart of `../server.ts`. This process owns everything that must have exactly one owner:
 *
 * - the signals and the bus (the same `signals.ts` and `bus.ts` as the single process);
 * - the listening sockets (bound here by cluster, served by the workers: `pool.ts` says why);
 * - the probe channel (workers report over IPC; only this process writes events);
 * - the durable store: the one writer of its log; workers forward `/kv` over IPC;
 * - the configuration: validated here, then handed to every worker; a reload is done (probe
 *   `reload-done`) when every worker applied it;
 * - the control channel, the pidfile (this pid, stable across restarts) and the log file.
 *
 * | channel     | order | step                                                                        |
 * |-------------|-------|-----------------------------------------------------------------------------|
 * | start       | 10-40 | as in `server.ts`: control channel, startup delay, store, configuration       |
 * | start       | 60    | the first generation of workers, until all listen (probe `listening`)       |
 * | start       | 70    | pidfile                                                                     |
 * | started     |       | probe `ready`                                                               |
 * | reload      |       | validate and swap here, then every worker applies it (new TLS handshakes)   |
 * | restart     |       | a new generation from the code on disk; the old one retires (`pool.ts`)     |
 * | reopen-logs |       | reopen `SIGCERT_LOG_FILE` (workers log through this process)                |
 * | (state)     |       | STOPPING: every worker fails `/ready` and sends `Connection: close`         |
 * | stop        | 10    | pre-drain delay (workers keep serving)                                      |
 * | stop        | 20    | every worker closes its listeners: the sockets close (probe `stop-accepting`) |
 * | stop        | 40    | every worker drained, then the store's writes (probe `drained`)             |
 * | stop        | 50    | every worker has exited                                                     |
 * | abort       |       | every worker destroys its connections and exits (probe `drained {forced}`)  |
 * | persist     |       | store index (probe `persisted`), close the store                            |
 * | exit        | 10    | SIGKILL a worker still alive (never expected), wait for it                  |
 * | exit        |       | remove the pidfile; close the log file                                      |
 *
 * No worker is ever left behind: the supervisor exits after its workers (PROC.NO_ORPHANS), and if
 * it is killed they exit on their own (PROC.PARENT_DEATH).
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Bus, isAction } from '../bus.js';
import { pause, realClock } from '../clock.js';
import { ConfigStore } from '../config.js';
import { createControlServer } from '../control.js';
import { DurableState } from '../durable.js';
import { injectFault, storeDelayMs } from '../faults.js';
import { Listeners } from '../http/listeners.js';
import { LineLogger } from '../log.js';
import { PIDFILE_NAME, removePidfile, writePidfile } from '../pidfile.js';
import { type Probe, traceTo } from '../probe.js';
import type { Settings } from '../settings.js';
import type { SignalPlugin } from '../signals.js';
import { KEY_PATTERN } from '../store/index.js';
import { readControlToken } from '../token.js';
import { toTlsMaterial } from '../worker-bus-bridge.js';
import { asBuffer, type KvAnswer, type KvOp, toWire } from './ipc.js';
import { WorkerPool } from './pool.js';

/** How long a generation may take until every worker listens. */
const READY_TIMEOUT_MS = 30_000;

export interface SupervisorDeps {
  probe: Probe;
  signals: SignalPlugin;
  settings: Settings & { workers: number };
}

export async function runSupervisor({ probe, signals, settings }: SupervisorDeps): Promise<void> {
  if (process.platform === 'win32') throw new Error('--workers needs POSIX signals and process groups (not Windows)');
  const log = new LineLogger(settings.logFile);
  const clock = realClock;
  const trace = traceTo(probe, settings.trace);

  const bus = new Bus({
    graceMs: settings.graceMs,
    clock,
    log,
    emit: (ev, fields) => probe.emit(ev, fields),
    trace,
    exit: (code) => {
      trace?.('process.exit');
      probe.flushSync();
      process.exit(code);
    },
  });
  process.on('uncaughtException', (err) => bus.fail(err));
  process.on('unhandledRejection', (reason) => bus.fail(reason));

  // --- the parts ---------------------------------------------------------------------------
  const durable = new DurableState(settings.stateDir, probe, log, storeDelayMs(settings.fault));
  const config = new ConfigStore({ path: settings.configPath, loadTls: settings.tlsPort !== undefined, probe, log });
  const listeners = new Listeners(probe); // the control channel only: the workers serve the rest
  const pool = new WorkerPool({
    size: settings.workers,
    cpuThreads: Math.max(1, Math.min(4, Math.floor(availableParallelism() / settings.workers))),
    graceMs: settings.graceMs,
    drainAtStop: settings.predrainMs <= 0,
    readyTimeoutMs: READY_TIMEOUT_MS,
    probe,
    log,
    config: () => toWire(config.current),
    ready: () => bus.ready,
    stopping: () => bus.stopRequested,
    quiet: () => bus.state === 'EXITING',
    kv: (op) => storeRequest(durable, op, log),
    busRequest: (msg) => {
      if (isAction(msg.action)) void bus.request(msg.action, 'thread');
    },
    installCertificate: (msg) => config.installCertificate(toTlsMaterial(msg.tls)),
    trace,
  });
  const pidfile = join(settings.stateDir, PIDFILE_NAME);
  let pidfileWritten = false;
  let drainedAnnounced = false;
  const announceDrained = (forced: boolean, aborted: number) => {
    if (drainedAnnounced) return;
    drainedAnnounced = true;
    probe.emit('drained', { forced, aborted });
  };
  /** Every worker closed its listeners, so the sockets are closed: probe `stop-accepting`, once. */
  let acceptingStopped = false;
  const stopAccepting = async (timeoutMs?: number) => {
    const { idle, inFlight } = await pool.stopAccepting(timeoutMs);
    if (acceptingStopped) return;
    acceptingStopped = true;
    probe.emit('stop-accepting', {});
    log.info(`listeners closed; ${idle} idle connection(s) ended, ${inFlight} request(s) in flight`);
  };

  // Readiness and `Connection: close` follow the bus state: the workers hear of it before the probe does.
  bus.onState(() => pool.broadcastState());

  // --- start ---------------------------------------------------------------------------------
  bus.subscribe(
    'start',
    'control-channel',
    async (ctx) => {
      await mkdir(settings.stateDir, { recursive: true });
      if (settings.adminPort === undefined) return;
      const token = await readControlToken(settings);
      if (token === undefined) {
        log.warn('SIGCERT_PORT_ADMIN is set but no control token is: the control channel stays closed');
        return;
      }
      const admin = createControlServer({ bus, config, token, log });
      await listeners.open('admin', admin, settings.adminPort, settings.host, ctx.signal, false);
    },
    { order: 10 },
  );
  bus.subscribe('start', 'startup-delay', (ctx) => pause(clock, settings.startupDelayMs, ctx.signal), {
    order: 20,
    deadlineMs: settings.startupDelayMs + 30_000,
  });
  bus.subscribe('start', 'store', () => durable.open(), { order: 30 });
  bus.subscribe('start', 'config', () => config.loadInitial(), { order: 40 });
  bus.subscribe(
    'start',
    'workers',
    async (ctx) => {
      const gen = await pool.startFirst(ctx.signal);
      if (gen !== undefined)
        log.info(`generation ${gen.number} (${gen.version}): ${settings.workers} worker(s) serving`);
    },
    { order: 60, deadlineMs: READY_TIMEOUT_MS + 5000 },
  );
  bus.subscribe(
    'start',
    'pidfile',
    async () => {
      await writePidfile(settings.stateDir);
      pidfileWritten = true;
    },
    { order: 70 },
  );
  bus.subscribe('started', 'ready', () => {
    const ports = { ...listeners.ports(), ...pool.ports() };
    probe.emit('ready', { ports });
    log.info(`ready: ${JSON.stringify(ports)} (supervisor pid ${process.pid})`);
  });

  // --- reload, restart, reopen-logs ----------------------------------------------------------
  bus.subscribe('reload', 'config', () => config.reload());
  config.onSwap(async (next) => {
    await pool.applyConfig(toWire(next));
    if (next.tls !== undefined) log.info(`TLS certificate ${next.tls.certPath} in use for new connections`);
  });
  bus.subscribe('restart', 'generation', (ctx) => pool.restart(ctx.signal), {
    deadlineMs: READY_TIMEOUT_MS + settings.graceMs + 10_000,
  });
  bus.subscribe('reopen-logs', 'log-file', () => {
    log.reopen();
    probe.emit('reopen-logs', { file: settings.logFile ?? null });
    log.info(
      settings.logFile === undefined ? 'reopen-logs: logging to stderr, nothing to reopen' : 'log file reopened',
    );
  });

  // --- stop ----------------------------------------------------------------------------------
  bus.subscribe(
    'stop',
    'pre-drain-delay',
    (ctx) => {
      if (settings.predrainMs <= 0 || !pool.accepting) return undefined;
      log.info(`pre-drain delay: the workers accept and serve for ${settings.predrainMs} ms more`);
      return pause(clock, settings.predrainMs, ctx.signal);
    },
    { order: 10 },
  );
  bus.subscribe('stop', 'stop-accepting', () => stopAccepting(), { order: 20 });
  bus.subscribe(
    'stop',
    'drain',
    async (ctx) => {
      const { forced, aborted } = await pool.drain();
      await durable.whenIdle();
      // a fast stop or the deadline cut the drain: the workers ended theirs because the abort step
      // destroyed what they held, and that step reports it with their counts (probe `drained`,
      // STOP.OBSERVABLE); said here, the drain would pass for complete
      if (ctx.signal.aborted) return;
      announceDrained(forced, aborted);
    },
    { order: 40 },
  );
  bus.subscribe('stop', 'workers-exit', () => pool.allExited(), { order: 50 });
  injectFault(bus, settings.fault);
  bus.subscribe('abort', 'workers', async () => {
    await stopAccepting(500); // a fast stop skipped the stop channel: close the listeners first
    const aborted = await pool.abort();
    log.warn(`aborted ${aborted} request(s) in flight`);
    announceDrained(true, aborted);
  });
  bus.subscribe('persist', 'store-index', () => durable.persist());
  bus.subscribe(
    'exit',
    'workers',
    async () => {
      await pool.allExitedWithin(1000);
      await pool.killRemaining(1000);
    },
    { order: 10, deadlineMs: 2500 },
  );
  bus.subscribe('exit', 'pidfile', () => {
    if (pidfileWritten) removePidfile(pidfile);
  });
  bus.subscribe('exit', 'log-file', () => log.close(), { order: 90 });

  // --- go --------------------------------------------------------------------------------------
  log.info(`supervisor starting (pid ${process.pid}, node ${process.version}, ${settings.workers} worker(s))`);
  // A stop or fast stop reaches the workers before the probe `signal` event is written (signals.ts).
  signals.attach(
    bus,
    (msg) => log.info(msg),
    (_sig, action) => {
      if (action === 'stop' || action === 'fast-stop') pool.notifyStopping();
    },
  );
  await bus.start();
}

/** A worker's `/kv` request against the store (the one writer). A put answers after fsync. */
async function storeRequest(durable: DurableState, op: KvOp, log: { warn(msg: string): void }): Promise<KvAnswer> {
  try {
    if (op.op === 'keys') return { ok: true, keys: await durable.keys() };
    if (!KEY_PATTERN.test(op.key)) return { ok: false, error: `keys match ${KEY_PATTERN}` };
    if (op.op === 'get') return { ok: true, value: (await durable.get(op.key)) ?? null };
    await durable.put(op.key, asBuffer(op.value));
    return { ok: true };
  } catch (err) {
    log.warn(`store: ${op.op} failed: ${(err as Error).message}`);
    return { ok: false, error: (err as Error).message };
  }
}
