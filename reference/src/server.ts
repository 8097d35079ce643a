/**
 * The composition root: builds every part of the reference server and hangs its steps on the
 * process bus. Read it top to bottom to see the whole life of the process:
 *
 * | channel       | order | step                                                                 |
 * |---------------|-------|----------------------------------------------------------------------|
 * | start         | 10    | state dir; control channel listener (port `admin`)                   |
 * | start         | 20    | `SIGCERT_STARTUP_DELAY_MS` (cut short by a stop request)             |
 * | start         | 30    | open the store (probe `recovery`)                                    |
 * | start         | 40    | read the configuration                                               |
 * | start         | 50    | start a CPU worker thread                                            |
 * | start         | 60    | HTTP listener, HTTPS listener when configured (probe `listening`)    |
 * | start         | 70    | pidfile                                                              |
 * | started       |       | probe `ready`                                                        |
 * | reload        |       | configuration: validate, swap; new certificate for new handshakes   |
 * | (thread)      |       | `POST /cert`: a certificate thread installs a pair, asks for a reload |
 * | reopen-logs   |       | reopen `SIGCERT_LOG_FILE` (probe `reopen-logs`)                      |
 * | stop          | 10-40 | pre-drain delay, stop accepting, drain (`http/drain.ts`)             |
 * | abort         |       | destroy connections, terminate CPU jobs, cancel FIFO reads           |
 * | persist       |       | store index (probe `persisted`), close the store                    |
 * | exit          |       | remove the pidfile; close the log file                               |
 *
 * Only the bus calls `process.exit` (through the `exit` function given here).
 */
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Bus } from './bus.js';
import { pause, realClock } from './clock.js';
import { ConfigStore } from './config.js';
import { createControlServer } from './control.js';
import { CpuPool } from './cpu/pool.js';
import { DurableState } from './durable.js';
import { injectFault, storeDelayMs } from './faults.js';
import { FifoReader } from './fifo.js';
import { ConnectionTracker } from './http/connections.js';
import { Drain } from './http/drain.js';
import { createRequestListener } from './http/endpoints.js';
import { Listeners } from './http/listeners.js';
import { LineLogger } from './log.js';
import { PIDFILE_NAME, removePidfile, writePidfile } from './pidfile.js';
import { type Probe, traceTo } from './probe.js';
import { readSettings, type Settings } from './settings.js';
import type { SignalPlugin } from './signals.js';
import { type CertOutcome, type CertRequest, installFromThread, resolveCertPaths } from './tls/cert-thread.js';
import { readControlToken } from './token.js';
import { startingCodeVersion } from './version.js';
import { bridgeWorkerToBus } from './worker-bus-bridge.js';

export interface ServerDeps {
  probe: Probe;
  signals: SignalPlugin;
  /** Default: read from the environment. */
  settings?: Settings;
}

/** Builds the server and runs its startup. Resolves once STARTED (or once a stop aborted startup). */
export async function runServer({ probe, signals, settings = readSettings() }: ServerDeps): Promise<void> {
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
  const config = new ConfigStore({
    path: settings.configPath,
    loadTls: settings.tlsPort !== undefined,
    probe,
    log,
  });
  const cpu = new CpuPool({
    size: Math.max(1, Math.min(4, availableParallelism())),
    onWorker: (worker) => bridgeWorkerToBus(worker, bus, { warn: (msg) => log.warn(msg) }),
    onError: (err) => log.error(`CPU worker: ${err.message}`),
  });
  // FIFOs are POSIX only; on Windows /fifo answers 501.
  const fifo =
    settings.fifoPath === undefined || process.platform === 'win32' ? undefined : new FifoReader(settings.fifoPath);
  const tracker = new ConnectionTracker();
  const listeners = new Listeners(probe, settings.bindHoldMs);
  const drain = new Drain({
    listeners,
    tracker,
    cpu,
    fifo,
    durable,
    probe,
    log,
    clock,
    predrainMs: settings.predrainMs,
    trace,
  });
  const onRequest = createRequestListener(
    {
      isReady: () => bus.ready,
      config,
      durable,
      cpu,
      fifo,
      version: startingCodeVersion(settings),
      conformance: settings.conformance,
      log,
      installCertificate: settings.tlsPort === undefined ? undefined : (req) => certificateFromThread(req),
    },
    tracker,
  );
  /** `POST /cert`: a certificate thread checks the pair and asks the bus for a reload that installs it. */
  const certificateFromThread = async (req: CertRequest): Promise<CertOutcome> => {
    if (https === undefined)
      return { ok: false, error: 'no TLS listener is open (the configuration names no certificate)' };
    const base = settings.configPath === undefined ? process.cwd() : dirname(settings.configPath);
    return installFromThread(resolveCertPaths(req, base), bus, {
      warn: (msg) => log.warn(msg),
      installCertificate: (material) => config.installCertificate(material),
    });
  };
  const http = createHttpServer(onRequest);
  tracker.track(http);
  let https: HttpsServer | undefined;
  const pidfile = join(settings.stateDir, PIDFILE_NAME);
  let pidfileWritten = false;

  // Readiness and `Connection: close` follow the bus state, from the instant of the stop request.
  bus.onState((to) => {
    if (to === 'STOPPING') tracker.beginStop();
  });

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
      // The control channel binds loopback only, whatever else is configured.
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
  // Ready only once the CPU thread runs: a thread still starting would hold resources later.
  bus.subscribe('start', 'cpu-pool', () => cpu.warm(), { order: 50 });
  bus.subscribe(
    'start',
    'listeners',
    async (ctx) => {
      await listeners.open('http', http, settings.httpPort, settings.host, ctx.signal);
      const tls = config.current.tls;
      if (settings.tlsPort === undefined || tls === undefined) return;
      https = createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
      tracker.track(https, 'secureConnection');
      await listeners.open('tls', https, settings.tlsPort, settings.host, ctx.signal);
    },
    { order: 60 },
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
    probe.emit('ready', { ports: listeners.ports() });
    log.info(`ready: ${JSON.stringify(listeners.ports())} (pid ${process.pid})`);
  });

  // --- reload, reopen-logs ------------------------------------------------------------------
  bus.subscribe('reload', 'config', () => config.reload());
  config.onSwap((next) => {
    if (https === undefined) return;
    if (next.tls === undefined) {
      log.warn('the new configuration names no certificate: the HTTPS listener keeps its current one');
      return;
    }
    https.setSecureContext({ cert: next.tls.cert, key: next.tls.key }); // new handshakes only
    log.info(`TLS certificate ${next.tls.certPath} installed for new connections`);
  });
  bus.subscribe('reopen-logs', 'log-file', () => {
    log.reopen();
    probe.emit('reopen-logs', { file: settings.logFile ?? null });
    log.info(
      settings.logFile === undefined ? 'reopen-logs: logging to stderr, nothing to reopen' : 'log file reopened',
    );
  });

  // --- stop ----------------------------------------------------------------------------------
  bus.subscribe('stop', 'pre-drain-delay', (ctx) => drain.preDrainDelay(ctx.signal), { order: 10 });
  bus.subscribe('stop', 'stop-accepting', () => drain.stopAccepting(), { order: 20 });
  bus.subscribe('stop', 'drain', () => drain.drain(), { order: 40 });
  injectFault(bus, settings.fault);
  bus.subscribe('abort', 'connections', () => drain.abort());
  bus.subscribe('persist', 'store-index', () => durable.persist());
  bus.subscribe('exit', 'pidfile', () => {
    if (pidfileWritten) removePidfile(pidfile);
  });
  bus.subscribe('exit', 'log-file', () => log.close(), { order: 90 });

  // --- go --------------------------------------------------------------------------------------
  log.info(`starting (pid ${process.pid}, node ${process.version}, state ${settings.stateDir})`);
  signals.attach(bus, (msg) => log.info(msg)); // replays the signals that came during module loading
  await bus.start();
}
