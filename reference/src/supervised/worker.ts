/**
 * A worker process of the supervised mode: it serves HTTP (and HTTPS) with the same endpoints as the
 * single process, and decides nothing about its own life. Everything that is a decision belongs to
 * the supervisor (`supervisor.ts`), which tells it over IPC (`ipc.ts`):
 *
 * - its listeners are the supervisor's sockets: `listen()` in a cluster worker asks the supervisor,
 *   which binds the port once and hands the same socket to every worker of every generation
 *   (`cluster.SCHED_NONE`). Closing ours never closes the socket while another process holds it;
 * - readiness is the supervisor's bus state (`state`), and 503 from the moment this process leaves;
 * - `/kv` goes to the supervisor's store (`RemoteStore`): one writer on the log, ever;
 * - `POST /cert` runs a certificate thread here; its bus request travels to the supervisor;
 * - signals: `worker-main.ts` installed listeners that do nothing. A signal sent to the whole process
 *   group (a terminal's Ctrl-C, systemd's control-group kill) reaches us too; the supervisor got the
 *   same signal and decides. We must not die by it, and must not act on it twice;
 * - the stop: `stop-accepting` (close our copy of the listeners, FIN idle keep-alives), `drain`
 *   (answer when no request is in flight, then exit 0), `abort` (destroy, terminate, exit 0); with
 *   no pre-drain delay the `state` message of the stop already carries `drain`, and we do the
 *   first two at once, on our own (`ipc.ts`);
 * - a restart retires us: `retire` closes our listeners (the new generation is already accepting on
 *   the same sockets), gives idle keep-alive connections a short linger to carry one last request
 *   with `Connection: close` (`ConnectionTracker.closeIdleAfter`), drains within the grace period
 *   and exits 0;
 * - the supervisor's death: the IPC channel closes and cluster's worker code calls `process.exit`
 *   at once; a `process.ppid` check every 200 ms is the second line. Either way the listening
 *   sockets are released within a second (PROC.PARENT_DEATH).
 *
 * Its log lines go to the supervisor, which owns the log file (and its reopen).
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { dirname } from 'node:path';
import type { Action } from '../bus.js';
import type { Config, TlsMaterial } from '../config.js';
import { CpuPool } from '../cpu/pool.js';
import { FifoReader } from '../fifo.js';
import { ConnectionTracker } from '../http/connections.js';
import { type ConfigView, createRequestListener, type KvStore } from '../http/endpoints.js';
import { Listeners } from '../http/listeners.js';
import { LineLogger, type Logger } from '../log.js';
import { noProbe } from '../probe.js';
import { readSettings } from '../settings.js';
import { type CertOutcome, type CertRequest, installFromThread, resolveCertPaths } from '../tls/cert-thread.js';
import { codeFailsFromConfig, startingCodeVersion } from '../version.js';
import { bridgeWorkerToBus } from '../worker-bus-bridge.js';
import { asBuffer, type FromWorker, fromWire, isMessage, type KvAnswer, type KvOp, type ToWorker } from './ipc.js';

/** How long a worker waits for `init` after `hello` before it gives up (exit 1). */
const INIT_TIMEOUT_MS = 10_000;
/** How often the parent pid is checked (the IPC channel's close is the first line). */
const PARENT_CHECK_MS = 200;

/**
 * The IPC channel to the supervisor, with sends that never throw once it is gone. `state` and `cmd`
 * messages that arrive before `serve()` was called (between `init` and the end of our setup) are
 * kept and handed over then, in order: none may be lost (a reload's `config`, a `stopping`).
 */
class SupervisorLink {
  private readonly handlers: Array<(msg: ToWorker) => void> = [];
  private server: ((msg: Extract<ToWorker, { type: 'state' | 'cmd' }>) => void) | undefined;
  private readonly early: Array<Extract<ToWorker, { type: 'state' | 'cmd' }>> = [];

  constructor() {
    process.on('message', (msg: unknown) => {
      if (!isMessage<ToWorker>(msg)) return;
      for (const h of this.handlers) h(msg);
      if (msg.type !== 'state' && msg.type !== 'cmd') return;
      if (this.server === undefined) this.early.push(msg);
      else this.server(msg);
    });
  }

  get connected(): boolean {
    return process.connected === true;
  }

  on(handler: (msg: ToWorker) => void): void {
    this.handlers.push(handler);
  }

  /** Takes the `state` and `cmd` messages from now on (and the ones that came before). */
  serve(handler: (msg: Extract<ToWorker, { type: 'state' | 'cmd' }>) => void): void {
    this.server = handler;
    for (const msg of this.early.splice(0)) handler(msg);
  }

  /** Resolves once the message is handed to the channel (or at once when the channel is gone). */
  send(msg: FromWorker): Promise<void> {
    return new Promise((resolve) => {
      if (!this.connected || process.send === undefined) return resolve();
      try {
        process.send(msg, undefined, {}, () => resolve());
      } catch {
        resolve(); // ERR_IPC_CHANNEL_CLOSED: the supervisor is gone
      }
    });
  }
}

/** Log lines to the supervisor; to stderr when the channel is gone. */
class LinkLogger implements Logger {
  private readonly fallback = new LineLogger();
  constructor(private readonly link: SupervisorLink) {}
  info(msg: string): void {
    this.line('info', msg);
  }
  warn(msg: string): void {
    this.line('warn', msg);
  }
  error(msg: string): void {
    this.line('error', msg);
  }
  private line(level: 'info' | 'warn' | 'error', msg: string): void {
    if (this.link.connected) void this.link.send({ type: 'log', level, msg });
    else this.fallback[level](`worker: ${msg}`);
  }
}

/** `/kv` through the supervisor's store. */
class RemoteStore implements KvStore {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: KvResult) => void; reject: (e: Error) => void }>();

  constructor(private readonly link: SupervisorLink) {
    link.on((msg) => {
      if (msg.type !== 'kv-result') return;
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg);
      else p.reject(new Error(msg.error));
    });
    process.on('disconnect', () => {
      for (const p of this.pending.values()) p.reject(new Error('the supervisor is gone'));
      this.pending.clear();
    });
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.call({ op: 'put', key, value });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.call({ op: 'get', key });
    return r.value === undefined || r.value === null ? undefined : asBuffer(r.value);
  }

  async keys(): Promise<string[]> {
    return (await this.call({ op: 'keys' })).keys ?? [];
  }

  private call(op: KvOp): Promise<KvResult> {
    if (!this.link.connected) return Promise.reject(new Error('the supervisor is gone'));
    const id = this.nextId++;
    return new Promise<KvResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      void this.link.send({ type: 'kv', id, ...op });
    });
  }
}

type KvResult = Extract<KvAnswer, { ok: true }>;

/** The configuration in use in this worker: what the supervisor validated and sent. */
class AppliedConfig implements ConfigView {
  constructor(public current: Config) {}
  get loaded(): boolean {
    return true;
  }
}

/** Waits for `init` after saying `hello`. */
function greet(link: SupervisorLink): Promise<Extract<ToWorker, { type: 'init' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no init from the supervisor in ${INIT_TIMEOUT_MS} ms`)),
      INIT_TIMEOUT_MS,
    );
    link.on((msg) => {
      if (msg.type !== 'init') return;
      clearTimeout(timer);
      resolve(msg);
    });
    void link.send({ type: 'hello' });
  });
}

/** Exits soon after the supervisor dies, should the channel's close go unnoticed. */
function watchParent(log: Logger): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    log.error(`the supervisor (pid ${parent}) is gone: exiting`);
    process.exit(0);
  }, PARENT_CHECK_MS);
  timer.unref();
}

export async function runWorker(): Promise<void> {
  // The supervisor's `--workers N` is not ours: cluster.setupPrimary gives workers no arguments.
  const settings = readSettings(process.env, process.cwd(), []);
  const link = new SupervisorLink();
  const log = new LinkLogger(link);
  const fatal = (err: unknown) => {
    // straight to stderr (synchronous): the process ends on the next line
    new LineLogger().error(`worker: fatal: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1); // the supervisor sees an unexpected exit and replaces this worker
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  watchParent(log);

  const init = await greet(link);
  if (init.stopping) {
    // A stop came before we were told anything: open nothing, leave.
    process.exit(0);
  }
  if (codeFailsFromConfig(settings.configPath)) {
    // The harness's new code that cannot start (subject protocol section 6, `codeFails`): fail the way
    // a startup bug would, before opening anything. The supervisor keeps the old generation serving.
    new LineLogger().error('worker: fatal: the new code fails at startup (codeFails in the configuration file)');
    process.exit(1);
  }
  const config = new AppliedConfig(fromWire(init.config));
  const version = startingCodeVersion(settings);
  const store = new RemoteStore(link);

  const busRequest = {
    request(action: Action) {
      void link.send({ type: 'bus-request', action });
    },
  };
  const installCertificate = (material: TlsMaterial) => {
    const { certPath, keyPath, cert, key } = material;
    void link.send({ type: 'install-certificate', tls: { certPath, keyPath, cert, key } });
  };
  const cpu = new CpuPool({
    size: init.cpuThreads,
    onWorker: (worker) => bridgeWorkerToBus(worker, busRequest, { warn: (m) => log.warn(m), installCertificate }),
    onError: (err) => log.error(`CPU worker: ${err.message}`),
  });
  const fifo =
    settings.fifoPath === undefined || process.platform === 'win32' ? undefined : new FifoReader(settings.fifoPath);
  const tracker = new ConnectionTracker();
  const listeners = new Listeners(noProbe);
  const openAbort = new AbortController();
  let supervisorReady = init.ready;
  let leaving = false;
  let https: HttpsServer | undefined;

  const certificateFromThread = async (req: CertRequest): Promise<CertOutcome> => {
    if (https === undefined)
      return { ok: false, error: 'no TLS listener is open (the configuration names no certificate)' };
    const base = settings.configPath === undefined ? process.cwd() : dirname(settings.configPath);
    return installFromThread(resolveCertPaths(req, base), busRequest, {
      warn: (m) => log.warn(m),
      installCertificate,
    });
  };
  const onRequest = createRequestListener(
    {
      isReady: () => supervisorReady && !leaving,
      config,
      durable: store,
      cpu,
      fifo,
      version,
      conformance: settings.conformance,
      log,
      installCertificate: settings.tlsPort === undefined ? undefined : certificateFromThread,
    },
    tracker,
  );
  const http = createHttpServer(onRequest);
  tracker.track(http);

  const leave = () => {
    leaving = true;
    openAbort.abort();
    tracker.beginStop();
  };
  /** Listeners closed: the CPU threads end (idle ones at once), in parallel with the drain. */
  const stopAcceptingNow = () => {
    listeners.stopAccepting();
    cpu.retire();
  };
  const exitAfter = async (msg: FromWorker | undefined) => {
    if (msg !== undefined) await link.send(msg);
    process.exit(0);
  };
  /** What a fast stop or the deadline cut (`abort`), so that a drain it ended does not report itself complete. */
  let cut: { aborted: number } | undefined;
  /** How this worker's drain ended, for `retired` and the `drain` acknowledgement. */
  const drainOutcome = () => ({ forced: cut !== undefined, aborted: cut?.aborted ?? 0 });
  const abortAll = () => {
    listeners.stopAccepting();
    cut = { aborted: 0 };
    const aborted = tracker.destroyAll();
    cut.aborted = aborted;
    cpu.terminateAll();
    fifo?.cancelAll();
    return aborted;
  };

  /** The bounded drain of an old generation: requests and connections, or the grace period. */
  const retire = async (graceMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const drained = (async () => {
      await tracker.whenIdle();
      await tracker.whenNoConnections();
      return true;
    })();
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const clean = await Promise.race([drained, late]);
    clearTimeout(timer);
    const aborted = clean ? 0 : abortAll();
    if (!clean) log.warn(`retiring: the drain missed its ${graceMs} ms deadline; ${aborted} request(s) aborted`);
    await exitAfter({ type: 'retired', forced: !clean, aborted });
  };

  /** A stop with no pre-drain delay (`state {drain: true}`): close, end idle connections, exit when idle. */
  let drainStarted = false;
  const drainNow = () => {
    if (drainStarted) return;
    drainStarted = true;
    stopAcceptingNow();
    const idle = tracker.closeIdle();
    void link.send({ type: 'stopped-accepting', idle, inFlight: tracker.requestsInFlight });
    void tracker.whenIdle().then(() => exitAfter({ type: 'retired', ...drainOutcome() }));
  };

  link.serve((msg) => {
    if (msg.type === 'state') {
      supervisorReady = msg.ready;
      if (msg.stopping) leave();
      if (msg.drain) drainNow();
      return;
    }
    const ack = (data: Record<string, unknown> = {}) => link.send({ type: 'ack', id: msg.id, data });
    switch (msg.cmd) {
      case 'config': {
        const next = fromWire(msg.config);
        config.current = next;
        if (https !== undefined && next.tls !== undefined)
          https.setSecureContext({ cert: next.tls.cert, key: next.tls.key });
        void ack({ generation: next.generation });
        return;
      }
      case 'stop-accepting': {
        leave();
        stopAcceptingNow();
        const idle = tracker.closeIdle();
        void ack({ idle, inFlight: tracker.requestsInFlight });
        return;
      }
      case 'drain':
        void tracker.whenIdle().then(() => exitAfter({ type: 'ack', id: msg.id, data: drainOutcome() }));
        return;
      case 'abort': {
        const aborted = abortAll();
        void exitAfter({ type: 'ack', id: msg.id, data: { aborted } });
        return;
      }
      case 'retire': {
        leave();
        stopAcceptingNow();
        const idle = tracker.closeIdleAfter(msg.lingerMs);
        log.info(`retiring: listeners closed, ${idle} idle connection(s) may carry one more request`);
        void ack({ idle, inFlight: tracker.requestsInFlight });
        void retire(msg.graceMs);
        return;
      }
    }
  });

  // The CPU thread starts while the listeners open; we say ready only once it runs (a thread
  // still starting would hold new resources after readiness, which a leak check would count).
  const cpuOnline = cpu.warm();
  const ports: Record<string, number> = {};
  const open = async (name: string, server: typeof http | HttpsServer, port: number) => {
    const actual = await listeners.open(name, server, port, settings.host, openAbort.signal);
    if (actual === undefined) return;
    ports[name] = actual;
    await link.send({ type: 'listening', name, port: actual });
  };
  await open('http', http, settings.httpPort);
  const tls = config.current.tls;
  if (settings.tlsPort !== undefined && tls !== undefined) {
    https = createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
    tracker.track(https, 'secureConnection');
    await open('tls', https, settings.tlsPort);
  }
  await cpuOnline;
  if (!openAbort.signal.aborted) await link.send({ type: 'ready', ports, version });
}
