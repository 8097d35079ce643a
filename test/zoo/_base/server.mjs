// The zoo base: a small, correct subject (spec/subject-protocol.md) with one switch, ZOO_BUG, that
// injects exactly one bug. Each zoo manifest sets ZOO_BUG to one name below; with ZOO_BUG unset (or
// "none") the server is meant to pass every case it applies to. It is a test fixture, written to be read:
// it shares no code with reference/ and treats the harness as a black box.
//
// What it does (protocol sections in brackets):
//  - start: probe `hello`, handlers for every mapped signal [4], state STARTING, open the store,
//    the optional slow initialisation [2], read the configuration, bind, pidfile, STARTED, `ready` [3];
//  - HTTP conformance endpoints [9] and the authenticated control channel on port `admin` [10];
//  - stop: readiness fails, optional pre-drain delay, listeners closed, idle keep-alives ended with
//    FIN, `Connection: close` from the stop on, drain bounded by the deadline, workers stopped, persist,
//    pidfile removed, exit 0 / 3 (deadline) / 4 (fast stop) / 5 (persist failed) [11];
//  - HTTPS on port `tls` when the configuration names a certificate [6]: the same endpoints; a reload
//    loads and checks the pair it names before the swap, new handshakes get it, open connections keep
//    theirs;
//  - reload: serialised, coalescing, validate then swap [6];
//  - log lines (one per request served, one per action) in SIGCERT_LOG_FILE when handed over [2], else
//    on stderr; reopen-logs closes the file and opens it again by path;
//  - a durable key-value store: an append-only log, fsync before the 201, an index written at stop;
//  - CPU work on a worker thread, FIFO reads on the libuv thread pool: the main thread never blocks.
import { spawn } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';

// ---------------------------------------------------------------------------------------------
// The bug switch

const BUGS = {
  none: 'no bug: the correct base',
  'exit-on-term': 'a stop by SIGTERM exits at once after closing the listeners: in-flight requests are dropped',
  'late-listener-close':
    'the listeners are never closed (the exit closes them): new connections during the drain are accepted, then reset',
  'keepalive-reuse': 'no Connection: close after the stop; a busy keep-alive connection is kept and reused',
  'idle-keepalive-hang': 'idle keep-alive connections are never closed: the drain waits for its deadline',
  'control-reload-exits':
    'a reload asked for on the control channel ends the process (exit 1, after its 200) instead of reloading; SIGHUP still reloads',
  'index-before-pending':
    'the persist step takes the index before the writes in flight reach the disk, and writes it after them: a stop during writes leaves a stale index (the next start scans)',
  'close-header-missing':
    'responses written after the stop do not say Connection: close (their connections are still ended after them, and idle ones at the drain start)',
  'busy-conn-kept-open':
    'a keep-alive response whose headers left before the stop does not end its connection, and the drain does not wait for it: it stays open for another request until the exit',
  'cpu-main-thread': 'GET /cpu burns the CPU on the main thread, so signal handlers wait for it',
  'fifo-sync-read': 'GET /fifo reads the FIFO synchronously on the main thread',
  'reload-drops-in-flight': 'a reload destroys the API connections that have a request in flight',
  'reload-invalid-crash': 'an invalid configuration on reload throws out of the reload: the process dies',
  'reload-tls-unchecked':
    'a reload swaps in a configuration without loading the certificate and key it names first: they are installed after the swap, and a pair that does not load is only logged, so the new generation is served over the old certificate',
  'reload-weak-validation':
    'a reload checks only that the file is JSON: a file whose generation is missing, not an integer or not positive is swapped in (and served)',
  'second-stop-restarts': 'a second graceful stop request starts the stop sequence again (second persist)',
  'no-index-persist': 'the stop never writes the store index (no persist step)',
  'stale-store-lock':
    'the store takes a lock file when it opens and never releases it, not even at a clean stop; a start that finds the lock refuses the store and exits 1: no start after the first on the same state directory',
  'index-reload-forgets':
    'a start that loaded the store index keeps the loaded keys apart, and the next persist step writes an index of the keys written since that start only: after a second clean stop the keys of the first run are gone, and the next start trusts that index',
  'index-hash-only':
    'after a start that loaded the store index, a GET of a key not written since looks it up by a 17-bit hash of the key alone, with no key comparison: two loaded keys with the same hash read the same value',
  'ack-before-fsync': 'PUT /kv answers 201 before the write is on disk (flushed every 10 s and at the stop)',
  'orphan-worker': 'the worker process is never stopped and ignores the death of its supervisor',
  'fd-leak-per-reload': 'every reload opens the configuration file and never closes it',
  'control-no-auth': 'the control channel does not check the bearer token',
  'control-state-initial':
    'GET /control/state answers the state the process started in (a copy taken when the channel was set up), not the current one: STARTING for ever',
  'reload-during-reload-dropped':
    'a reload requested while a reload runs is dropped (no follow-up reload): the newest configuration is never loaded',
  'stop-misannounced':
    'the probe announces a stop request as the other kind (a graceful stop as fast-stop, a fast stop as stop); the stop carried out is the one asked for',
  'handlers-event-partial':
    "the probe's handlers event names only the stop signals (SIGTERM, SIGINT), though every mapped signal has its handler before ready",
  'stop-unnamed':
    "the probe announces a stop request with an empty action name (request {action: ''}); the stop carried out is the one asked for",
  'request-source-wrong':
    "the probe announces every request a signal asked for as the application's (source app, where the protocol says signal); what is carried out is the declared action",
  'stop-ignored-while-reloading': 'a stop requested while a reload runs is ignored: the subject keeps serving',
  'handlers-after-bind':
    'the signal handlers are installed after the listeners are bound, at the end of a post-bind initialisation (ZOO_POSTBIND_MS), before readiness',
  'listener-open-in-drain':
    'the stop closes the wrong listener objects: the bound sockets keep accepting and serving new connections throughout the drain (the probe still says stop-accepting)',
  'listener-open-unannounced':
    'the stop never closes the listeners and never says stop-accepting: new connections are served throughout the drain, until the exit (the manifest declares a pre-drain delay of 1 s, which the harness hands over as 0)',
  'bind-after-startup-stop':
    'a stop during the startup delay does not abandon the start: the service listener is still bound, then closed by the check after the bind (with SIGCERT_BIND_HOLD_MS, open through the hold after the stop)',
  'announce-after-stop':
    'no stop check after the bind: a stop that arrives while the service listener binds (its SIGCERT_BIND_HOLD_MS hold) does not keep it from being announced and served',
  'put-count-leak':
    'the count of writes in flight is raised twice per PUT /kv and lowered once, and the drain waits for it to reach 0: a graceful stop after any write runs to the deadline and exits with the deadline status',
  'persist-one-path':
    'the store index is persisted only when the stop was started by SIGTERM (not SIGINT, fast stop, control)',
  'pidfile-one-path':
    'the pidfile is removed only when the stop was started by SIGTERM (not SIGINT, fast stop, control)',
  'reopen-logs-noop':
    'reopen-logs does not reopen the log file: lines keep going to the renamed file (the probe still says reopen-logs)',
  'deadline-count-unlogged':
    'at the drain deadline the requests still in flight are closed, but the log line does not say how many',
  'drained-unforced':
    'the probe reports every drain as completed (drained {forced: false, aborted: 0}), also when the deadline or a fast stop cut requests; the stop itself is right',
  'drained-early':
    'the probe reports the drain complete (drained {forced: false, aborted: 0}) as soon as it starts, while the requests in flight are still being answered; the drain itself and its end are right',
  'pidfile-not-checked':
    'the pidfile is removed at the end of the stop without checking that it still names this process',
  'log-closed-at-stop':
    'the stop closes the log file first (as a stop subscriber that releases files too early would): every line of the stop, the deadline count among them, goes to stderr',
  'pidfile-after-ready':
    'as Caddy 2.6 does: readiness is announced first and the pidfile written ZOO_PIDFILE_LATE_MS (200) later, unless a stop came first; the stop removes a pidfile it wrote by name, without checking that it still names this process',
  'sigwinch-reloads': 'SIGWINCH (a terminal resize, which no map gives an action) starts a reload',
  'second-int-ignored': 'a SIGINT during a graceful stop is ignored: the repeat map (SIGINT: fast-stop) is never read',
  'term-escalates': 'a repeated SIGTERM during a graceful stop turns it into a fast stop',
  'quit-graceful': 'SIGQUIT starts a graceful stop (exit 0, the drain waits) although the map says fast-stop',
  'ready-during-stop': 'GET /ready keeps answering 200 until the listeners close (it fails only from the drain on)',
  'predrain-skipped': 'the pre-drain delay is never taken: the listeners close as soon as the stop is requested',
  'predrain-drain-stuck':
    'after a pre-drain delay the drain waits for a signal from the request handling that never comes: with nothing in flight it runs to the deadline and exits 3 (without a delay the stop is right)',
  'no-drain-deadline': 'the drain has no deadline: a stop waits for every request in flight, however long it takes',
  'idle-rst': 'the drain resets idle keep-alive connections (RST) instead of ending them with FIN',
  'reload-rebinds':
    'a reload closes the service listener and binds it again ZOO_REBIND_MS (300) later: connection attempts in between are refused',
  'reload-tls-kept':
    'a reload checks the certificate and key the configuration names but never installs them: new handshakes keep the old pair',
  'epipe-crash': 'a connection error (a client that reset its connection mid-response) ends the whole process (exit 1)',
  'worker-group-crash':
    'the worker does not ignore the signals a process-group delivery brings, and the supervisor treats a worker killed by a signal as a crash: it turns the stop into a fast stop',
  'starting-reload-dropped':
    'a reload requested during STARTING after the configuration was read is dropped (never carried out after STARTED)',
  'slow-ack': 'every signal handler waits ZOO_ACK_DELAY_MS (150) before it acknowledges and acts',
  'reload-debounced':
    'a reload signal within ZOO_DEBOUNCE_MS (1000) of the previous reload is dropped without acknowledgement ("signal storm" protection)',
  'exit-by-library':
    "the log library's flush hook ends the process itself (process.exit with the bus's status) once it has flushed, before the bus announces its exit",
  'control-reload-noop':
    'POST /control/reload answers 200 with the current generation without asking the bus: an application-level reload does nothing',
  'control-fast-stop-refused':
    'POST /control/fast-stop answers 409 (refused) and then carries out the fast stop: the caller is told the opposite of what happens',
  'control-reload-failure-ok':
    'POST /control/reload answers 200 with the generation still in use when the reload failed (the error is only logged): the caller cannot tell a failed reload from a done one',
  'zombie-helper':
    'a helper process started at startup forks a child that exits at once and never waits for it: a zombie for as long as the server runs (Linux)',
  // restart bugs (ZOO_RESTART=1)
  'restart-keepalive-no-close':
    "after a restart the old generation's keep-alive connections are left alone: its responses do not say Connection: close and its idle connections are not ended (its deadline closes them)",
  'restart-linger-cuts':
    "the old generation's linger ends each connection that was idle at the restart when its timer fires, even with a request in flight on it",
  'restart-generations-kept':
    "an old generation's worker process is never stopped after its drain (the exit stops them all)",
  'restart-drops-in-flight': "a restart destroys the old generation's connections that have a request in flight",
  'restart-done-early':
    'restart-done is reported before the new generation takes the listeners: new connections are served by the old code for ZOO_RESTART_LAG_MS (500) more',
  'control-restart-stopping-accepted':
    'POST /control/restart during a stop answers 202 (accepted) although the stop dominates and the restart is ignored (the protocol answers 409)',
  'control-restart-refused':
    'POST /control/restart answers 501 (not supported) although the subject restarts on its restart signal (SIGUSR2)',
  'restart-overlap':
    "a restart is over for the base as soon as its new generation serves: it does not wait for the old generation's drain, so the next restart starts while that generation still drains (three generations)",
  'restart-retires-early':
    "an old generation's drain deadline is half the grace period: a request still in flight on it then is cut",
  'restart-pidfile-rewritten':
    "a restart writes the new generation's worker pid into the pidfile, as if it were the server",
  'restart-failure-exits':
    'a restart whose new code cannot start (codeFails) takes the server down: the failure is logged, the worker stopped, and the server exits 1',
  'restart-failure-resets':
    'a restart whose new code cannot start (codeFails) restarts the old generation instead: every connection it holds is reset, the request in flight on it included',
  'restart-failure-wedged':
    'a restart whose new code cannot start (codeFails) never ends: it reports restart-failed but stays "under way", so every later restart merges into it and never runs',
};
const BUG = process.env.ZOO_BUG || 'none';
if (!Object.hasOwn(BUGS, BUG)) {
  process.stderr.write(`zoo base: unknown ZOO_BUG "${BUG}" (known: ${Object.keys(BUGS).join(', ')})\n`);
  process.exit(1);
}
const bug = (name) => BUG === name;

// ---------------------------------------------------------------------------------------------
// Hand-over (protocol section 2)

const env = process.env;
const HOST = env.SIGCERT_HOST || '127.0.0.1';
const STATE_DIR = env.SIGCERT_STATE_DIR || '.';
const CONFIG = env.SIGCERT_CONFIG || 'config.json';
const GRACE_MS = intEnv('SIGCERT_GRACE_MS', 5000);
const PREDRAIN_MS = intEnv('SIGCERT_PREDRAIN_MS', 0);
const STARTUP_DELAY_MS = intEnv('SIGCERT_STARTUP_DELAY_MS', 0);
const BIND_HOLD_MS = intEnv('SIGCERT_BIND_HOLD_MS', 0);
const FAULT = env.SIGCERT_FAULT || '';
const TOKEN = env.SIGCERT_CONTROL_TOKEN || '';
const WITH_WORKER = env.ZOO_WORKER === '1';
const WITH_PIDFILE = env.ZOO_PIDFILE !== '0';
/** Time kept after the drain deadline for the exit sequence (workers, persist, pidfile). */
const EXIT_RESERVE_MS = Math.min(300, Math.floor(GRACE_MS / 4));

function intEnv(name, dflt) {
  const n = Number(env[name]);
  return Number.isInteger(n) && n >= 0 ? n : dflt;
}

// ---------------------------------------------------------------------------------------------
// Probe channel (protocol section 8): NDJSON on fd 3, stamped with the monotonic clock

const probeFd = env.SIGCERT_PROBE_FD ? Number(env.SIGCERT_PROBE_FD) : null;

function probe(ev, extra = {}) {
  if (probeFd === null) return;
  const line = Buffer.from(
    `${JSON.stringify({ ev, t: String(process.hrtime.bigint()), pid: process.pid, ...extra })}\n`,
  );
  let off = 0;
  while (off < line.length) {
    try {
      off += fs.writeSync(probeFd, line, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') return; // the harness went away: the probe is best effort
    }
  }
}

// Log lines: to SIGCERT_LOG_FILE when the harness hands one over (protocol section 2), else stderr.
// Synchronous, so the last lines before process.exit are out; a failed write drops the line.
const TEXT_LOG = env.SIGCERT_LOG_FILE || null;
let textLogFd = TEXT_LOG === null ? 2 : fs.openSync(TEXT_LOG, 'a');

function log(msg) {
  const line = Buffer.from(`${new Date().toISOString()} [zoo ${BUG} ${process.pid}] ${msg}\n`);
  try {
    fs.writeSync(textLogFd, line);
  } catch {
    // EPIPE, EBADF: the line is lost, the server is not
  }
}

/** reopen-logs: open the file again by its path (a new one after a rename), then close the old descriptor. */
function reopenLog() {
  if (TEXT_LOG === null || bug('reopen-logs-noop')) return;
  let next;
  try {
    next = fs.openSync(TEXT_LOG, 'a');
  } catch (e) {
    log(`reopen-logs: cannot open ${TEXT_LOG}, keeping the old file: ${e.message}`);
    return;
  }
  const old = textLogFd;
  textLogFd = next;
  fs.closeSync(old);
}

// ---------------------------------------------------------------------------------------------
// Signals and the bus (protocol section 4). Handlers first: nothing above this line can block.

const SIGNALS = {
  SIGTERM: 'stop',
  SIGINT: 'stop',
  SIGQUIT: 'fast-stop',
  SIGHUP: 'reload',
  SIGUSR1: 'reopen-logs',
  SIGPIPE: 'ignore', // Node ignores SIGPIPE from the start; no listener, so it has no effect at all
};
const SIGNALS_REPEAT = { SIGINT: 'fast-stop' };
/** Restart with new code (protocol section 12), with ZOO_RESTART=1 and SIGUSR2 in the manifest's map. */
const WITH_RESTART = env.ZOO_RESTART === '1';
/**
 * ZOO_RESTART_REFUSE=1 (not a bug: the spec's other choice): a restart asked for while one runs, its old
 * generation's drain included, is refused and logged (probe `restart-failed`) instead of merged into one
 * follow-up.
 */
const REFUSE_OVERLAPPING_RESTART = env.ZOO_RESTART_REFUSE === '1';
if (WITH_RESTART) SIGNALS.SIGUSR2 = 'restart';

probe('hello', { protocol: '1', bug: BUG });
function installHandlers() {
  const ackDelay = intEnv('ZOO_ACK_DELAY_MS', 150);
  for (const [sig, action] of Object.entries(SIGNALS)) {
    if (action === 'ignore') continue;
    if (bug('slow-ack')) process.on(sig, (s) => setTimeout(() => onSignal(s), ackDelay));
    else process.on(sig, onSignal);
  }
  if (bug('sigwinch-reloads')) process.on('SIGWINCH', () => request('reload', 'signal'));
  // handlers-event-partial: the event names only the stop signals, though every mapped one has a handler
  const named = Object.keys(SIGNALS).filter((sig) => !bug('handlers-event-partial') || SIGNALS[sig] === 'stop');
  probe('handlers', { signals: named });
}
if (!bug('handlers-after-bind')) installHandlers();

let state = 'STARTING';
probe('state', { state, from: null });

function setState(next) {
  const from = state;
  state = next;
  probe('state', { state: next, from });
}

const stopping = () => state === 'STOPPING' || state === 'EXITING';
let dropInFlight = false; // bug exit-on-term: the stop SIGTERM requested skips the drain

let signalInHand = null; // the signal whose handler is running (for stopVia)

let lastReloadEnd = 0; // reload-debounced: when the last reload ended (Date.now())

function onSignal(sig) {
  if (
    bug('reload-debounced') &&
    SIGNALS[sig] === 'reload' &&
    Date.now() - lastReloadEnd < intEnv('ZOO_DEBOUNCE_MS', 1000)
  )
    return; // dropped before it is even acknowledged
  probe('signal', { sig }); // stamped at handler entry
  const repeatMap = bug('second-int-ignored') ? {} : SIGNALS_REPEAT;
  let action = stopping() && repeatMap[sig] ? repeatMap[sig] : SIGNALS[sig];
  if (bug('term-escalates') && stopping() && sig === 'SIGTERM') action = 'fast-stop';
  if (bug('quit-graceful') && action === 'fast-stop' && sig === 'SIGQUIT') action = 'stop';
  if (bug('exit-on-term') && sig === 'SIGTERM' && action === 'stop') dropInFlight = true;
  signalInHand = sig;
  try {
    request(action, bug('request-source-wrong') ? 'app' : 'signal');
  } finally {
    signalInHand = null;
  }
}

/** The bus: one entry for signals, the control channel and the application. */
function request(action, source) {
  switch (action) {
    case 'stop':
      return requestStop(false, source);
    case 'fast-stop':
      return requestStop(true, source);
    case 'reload':
      return requestReload(source);
    case 'restart':
      return requestRestart(source);
    case 'reopen-logs':
      if (state === 'EXITING') return Promise.resolve(); // too late: ignored (spec 3.3)
      probe('request', { action, source });
      reopenLog();
      probe('reopen-logs');
      log(TEXT_LOG === null ? 'reopen-logs: logging to stderr, nothing to reopen' : 'log file reopened');
      return Promise.resolve();
    default:
      return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration (protocol section 6)

let config = null;

function parseConfig(text) {
  const c = JSON.parse(text);
  if (bug('reload-weak-validation') && config !== null) return c; // THE BUG: only the JSON syntax is checked
  if (c === null || typeof c !== 'object' || !Number.isInteger(c.generation) || c.generation < 1) {
    throw new Error('generation must be a positive integer');
  }
  return c;
}

/** The certificate and key a configuration names (relative paths from its folder), or null (protocol section 6). */
function readTls(c) {
  if (c.tls === undefined) return null;
  const at = (p) => path.resolve(path.dirname(CONFIG), String(p));
  return { cert: fs.readFileSync(at(c.tls.cert)), key: fs.readFileSync(at(c.tls.key)) };
}

/** Reads the pair `c` names and checks that it loads together; throws a one-line error otherwise. */
function loadTls(c) {
  try {
    const material = readTls(c);
    if (material !== null) tls.createSecureContext(material);
    return material;
  } catch (e) {
    throw new Error(`the TLS certificate and key cannot be served: ${e.message}`);
  }
}

let reloading = null; // the running reload (a promise), or null
let reloadAgain = false; // a request arrived during the running reload: merge them into one follow-up
let reloadResult = null;

let reloadAfterStart = null; // a reload requested during STARTING once the configuration was read

function requestReload(source) {
  if (state === 'STARTING') {
    probe('request', { action: 'reload', source });
    // before the configuration is read (end of the slow initialisation) that read covers the request;
    // after it, the reload is recorded and carried out once STARTED (spec 3.3)
    if (config === null) return Promise.resolve({ ok: true, generation: null });
    if (bug('starting-reload-dropped')) return Promise.resolve({ ok: true, generation: null }); // THE BUG
    reloadAfterStart ??= deferred();
    return reloadAfterStart.promise;
  }
  if (stopping()) return Promise.resolve({ ok: false, error: 'stopping' }); // a stop dominates
  probe('request', { action: 'reload', source });
  return runReload();
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function runReload() {
  if (reloading) {
    if (!bug('reload-during-reload-dropped')) reloadAgain = true; // merged into one follow-up reload, which reads the file after this request
    return reloading.then(() => reloadResult);
  }
  reloading = runReloads();
  return reloading.then(() => reloadResult);
}

async function runReloads() {
  do {
    reloadAgain = false;
    reloadResult = await reloadOnce();
  } while (reloadAgain && !stopping());
  reloading = null;
  lastReloadEnd = Date.now();
}

async function reloadOnce() {
  setState('RELOADING');
  probe('reload-begin', { generation: config.generation });
  if (bug('reload-drops-in-flight')) {
    // the "apply": tear down every API connection that is serving a request
    for (const [socket, c] of conns) if (c.active > 0 && c.api) socket.destroy();
  }
  let result;
  try {
    let text;
    if (bug('fd-leak-per-reload')) {
      const fd = fs.openSync(CONFIG, 'r'); // never closed
      text = fs.readFileSync(fd, 'utf8');
    } else {
      text = await fsp.readFile(CONFIG, 'utf8');
    }
    let next;
    if (bug('reload-invalid-crash')) {
      next = parseConfig(text); // not caught: falls out of the signal handler
    } else {
      try {
        next = parseConfig(text);
      } catch (e) {
        throw new Error(`invalid configuration: ${e.message}`);
      }
    }
    // the certificate is part of the configuration: loaded and checked before the swap
    const material = tlsServer !== null && !bug('reload-tls-unchecked') ? loadTls(next) : null;
    config = next;
    if (tlsServer !== null && !bug('reload-tls-kept')) installTls(next, material);
    if (bug('reload-rebinds')) rebindApi();
    probe('reload-done', { generation: config.generation });
    result = { ok: true, generation: config.generation };
  } catch (e) {
    if (bug('reload-invalid-crash')) throw e; // an unhandled rejection: Node ends the process (exit 1)
    log(`reload failed, keeping generation ${config.generation}: ${e.message}`);
    probe('reload-failed', { error: e.message });
    result = { ok: false, error: e.message };
  }
  if (state === 'RELOADING') setState('STARTED');
  return result;
}

// ---------------------------------------------------------------------------------------------
// The durable store: an append-only log (one checksummed JSON line per write) and an index written at stop

const LOG_FILE = path.join(STATE_DIR, 'kv.log');
const INDEX_FILE = path.join(STATE_DIR, 'kv.index');
const kv = new Map();
const writtenSinceStart = new Set(); // keys written by this process (the index bugs tell them apart)
let loadedClean = false; // this start trusted the index file
let loadedByHash = null; // index-hash-only: the loaded keys' values by a 17-bit hash of the key
let logFd = -1;
let logSize = 0;
const pending = []; // writes waiting for the next group commit
let flushing = null;

function recordLine(key, value) {
  const json = JSON.stringify({ k: key, v: value.toString('base64') });
  return `${json}\t${createHash('sha256').update(json).digest('hex').slice(0, 16)}\n`;
}

function openStore() {
  if (bug('stale-store-lock')) {
    const lock = path.join(STATE_DIR, 'kv.lock');
    if (fs.existsSync(lock)) throw new Error(`the store is locked (${lock} exists)`);
    fs.writeFileSync(lock, String(process.pid)); // never removed: THE BUG
  }
  let log = Buffer.alloc(0);
  try {
    log = fs.readFileSync(LOG_FILE);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  let mode = 'scan';
  let truncatedBytes = 0;
  try {
    const index = JSON.parse(fs.readFileSync(INDEX_FILE, 'utf8'));
    if (index.logSize === log.length) {
      for (const [k, v] of Object.entries(index.entries)) kv.set(k, Buffer.from(v, 'base64'));
      if (bug('index-hash-only')) {
        loadedByHash = new Map();
        for (const [k, v] of kv) loadedByHash.set(hash17(k), v);
      }
      mode = 'clean';
      loadedClean = true;
    }
  } catch {
    // no index, or a torn one: scan the log
  }
  if (mode === 'clean' || log.length === 0) {
    mode = 'clean';
  } else {
    let good = 0;
    while (good < log.length) {
      const nl = log.indexOf(10, good);
      if (nl < 0) break;
      const line = log.subarray(good, nl).toString('utf8');
      const tab = line.lastIndexOf('\t');
      const json = line.slice(0, tab);
      if (tab < 0 || createHash('sha256').update(json).digest('hex').slice(0, 16) !== line.slice(tab + 1)) break;
      const r = JSON.parse(json);
      kv.set(r.k, Buffer.from(r.v, 'base64'));
      good = nl + 1;
    }
    truncatedBytes = log.length - good;
    if (truncatedBytes > 0) {
      fs.truncateSync(LOG_FILE, good);
      log = log.subarray(0, good);
    }
  }
  logFd = fs.openSync(LOG_FILE, 'a');
  fs.fsyncSync(logFd);
  logSize = log.length;
  probe('recovery', { mode, records: kv.size, truncatedBytes });
}

/** FNV-1a (32-bit) of the key, folded to 17 bits: the index-hash-only bug's table. */
function hash17(key) {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) & 0x1ffff;
}

/** The value a GET serves. */
function kvGet(key) {
  if (loadedByHash !== null && !writtenSinceStart.has(key)) return loadedByHash.get(hash17(key)); // THE BUG
  return kv.get(key);
}

/** Append one write; resolves once it is on disk (group commit: one fsync per batch). */
function appendDurable(key, value) {
  return new Promise((resolve, reject) => {
    pending.push({ line: recordLine(key, value), key, value, resolve, reject });
    if (!bug('ack-before-fsync')) flushSoon();
  });
}

function flushSoon() {
  flushing ??= (async () => {
    while (pending.length > 0) {
      // SIGCERT_FAULT=slow-store: a slow disk that syncs one write at a time, the others queue behind it
      const batch = FAULT === 'slow-store' ? pending.splice(0, 1) : pending.splice(0);
      const buf = Buffer.from(batch.map((w) => w.line).join(''));
      try {
        await new Promise((res, rej) => fs.write(logFd, buf, 0, buf.length, null, (e) => (e ? rej(e) : res())));
        if (FAULT === 'slow-store') await new Promise((res) => setTimeout(res, 10)); // the slow sync
        await new Promise((res, rej) => fs.fdatasync(logFd, (e) => (e ? rej(e) : res())));
        logSize += buf.length;
        for (const w of batch) {
          kv.set(w.key, w.value);
          writtenSinceStart.add(w.key);
          w.resolve();
        }
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    flushing = null;
  })();
  return flushing;
}

if (bug('ack-before-fsync')) setInterval(flushSoon, 10_000).unref(); // lazy: a SIGKILL loses what was acknowledged since

/** What the index file holds: the log size it covers and every key's value. */
function indexImage() {
  // index-reload-forgets: after a start that loaded an index, only the keys written since are kept
  const keep = bug('index-reload-forgets') && loadedClean ? writtenSinceStart : null;
  const index = { logSize, records: keep?.size ?? kv.size, entries: {} };
  for (const [k, v] of kv) if (keep === null || keep.has(k)) index.entries[k] = v.toString('base64');
  return index;
}

/** The persist step: everything on disk, then the index, atomically (temp file, fsync, rename, fsync dir). */
async function persist() {
  // the bug: the index is taken before the writes in flight are on disk, then written after them
  const early = bug('index-before-pending') ? indexImage() : null;
  await flushSoon();
  const index = early ?? indexImage();
  const tmp = `${INDEX_FILE}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeFileSync(fd, JSON.stringify(index));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, INDEX_FILE);
  const dir = fs.openSync(STATE_DIR, 'r');
  fs.fsyncSync(dir);
  fs.closeSync(dir);
  probe('persisted', { records: kv.size });
}

// ---------------------------------------------------------------------------------------------
// Connections: every connection and every response is tracked, for the drain

/** socket -> { active: requests whose response is not finished } */
const conns = new Map();
/** responses not finished yet */
const responses = new Set();
let inFlight = 0;
let stopHeaders = false; // from the stop request on: Connection: close
let draining = false; // from the drain start on: end connections as soon as they are idle
let drainWaiter = null;

function trackConnection(socket, api) {
  const c = { active: 0, api, gen: api ? generation : null }; // served by the code generation that accepted it
  conns.set(socket, c);
  socket.on('error', (e) => {
    // a client that resets costs only its connection (IO.EPIPE)
    if (bug('epipe-crash')) {
      log(`connection error, giving up: ${e.code ?? e.message}`);
      process.exit(1);
    }
  });
  socket.once('close', () => {
    conns.delete(socket);
    checkDrained();
    c.gen?.checkRetired?.();
  });
}

function trackRequest(req, res) {
  const socket = req.socket;
  const c = conns.get(socket) ?? { active: 0 };
  c.active++;
  inFlight++;
  responses.add(res);
  if (stopHeaders && !bug('keepalive-reuse') && !bug('close-header-missing')) res.setHeader('Connection', 'close');
  else if (c.gen?.retiring && !bug('restart-keepalive-no-close')) res.setHeader('Connection', 'close');
  res.once('finish', () => log(`${req.method} ${req.url} ${res.statusCode}`)); // one line per request served
  res.once('close', () => {
    c.active--;
    inFlight--;
    responses.delete(res);
    // a keep-alive response that left before the stop: its connection is not reused
    if (
      draining &&
      c.active === 0 &&
      !bug('keepalive-reuse') &&
      !bug('idle-keepalive-hang') &&
      !bug('busy-conn-kept-open')
    )
      endConnection(socket);
    else if (draining && c.active === 0 && bug('busy-conn-kept-open')) keptOpen.add(socket);
    // a response of a retiring generation: its connection is not reused either
    else if (c.gen?.retiring && c.active === 0 && !bug('restart-keepalive-no-close')) endConnection(socket);
    checkDrained();
  });
}

/** The stop was requested: every response whose headers are not written yet says Connection: close. */
function beginStopHeaders() {
  stopHeaders = true;
  if (bug('keepalive-reuse') || bug('close-header-missing')) return;
  for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
}

function endConnection(socket) {
  if (!socket.destroyed && !socket.writableEnded) socket.end(); // FIN, never RST
}

/** The busy-conn-kept-open bug: connections left open after their response, which the drain forgets. */
const keptOpen = new Set();

/** Connections we have not ended yet (the client may still send on them). */
function openConnections() {
  let n = 0;
  for (const socket of conns.keys()) if (!socket.destroyed && !socket.writableEnded && !keptOpen.has(socket)) n++;
  return n;
}

/** Writes in flight as the put-count-leak bug counts them (never back to 0 after a write). */
let putsInFlight = 0;

function checkDrained() {
  if (drainWaiter && inFlight === 0 && openConnections() === 0 && putsInFlight === 0) {
    const w = drainWaiter;
    drainWaiter = null;
    w();
  }
}

function whenDrained() {
  return new Promise((resolve) => {
    drainWaiter = resolve;
    checkDrained();
  });
}

function destroyAll() {
  const aborted = inFlight;
  for (const socket of conns.keys()) socket.destroy();
  return aborted;
}

// ---------------------------------------------------------------------------------------------
// HTTP endpoints (protocol section 9)

const MAX_MS = 600_000;
const VERSION = 'zoo-1';

function send(res, status, body, type = 'text/plain') {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length });
  res.end(buf);
}

function msParam(url) {
  const ms = Number(url.searchParams.get('ms') ?? 0);
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_MS ? ms : null;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function onHttp(req, res) {
  trackRequest(req, res);
  const url = new URL(req.url ?? '/', 'http://zoo');
  const p = url.pathname;
  if (req.method === 'GET' && p === '/ready')
    return send(
      res,
      state === 'STARTED' || state === 'RELOADING' || (bug('ready-during-stop') && state === 'STOPPING' && !draining)
        ? 200
        : 503,
      `${state}\n`,
    );
  if (req.method === 'GET' && p === '/live') return send(res, 200, 'live\n');
  if (req.method === 'GET' && p === '/hold') return hold(res, url);
  if (req.method === 'GET' && p === '/cpu') return cpu(res, url);
  if (req.method === 'GET' && p === '/fifo') return fifo(res);
  if (req.method === 'POST' && p === '/upload') return upload(req, res);
  if (req.method === 'GET' && p === '/download') return download(res, url);
  if (req.method === 'GET' && p === '/config')
    return send(res, 200, JSON.stringify({ generation: config.generation }), 'application/json');
  if (req.method === 'GET' && p === '/version') {
    const version = (conns.get(req.socket)?.gen ?? generation).version;
    return send(res, 200, JSON.stringify({ version }), 'application/json');
  }
  if (p === '/kv' && req.method === 'GET') return send(res, 200, JSON.stringify([...kv.keys()]), 'application/json');
  const m = /^\/kv\/([A-Za-z0-9._-]{1,128})$/.exec(p);
  if (m && req.method === 'PUT') return putKey(req, res, m[1]);
  if (m && req.method === 'GET') {
    const value = kvGet(m[1]);
    return value !== undefined ? send(res, 200, value) : send(res, 404, 'not found\n');
  }
  return send(res, 404, 'not found\n');
}

function hold(res, url) {
  const ms = msParam(url);
  if (ms === null) return send(res, 400, 'bad ms\n');
  const body = `held ${ms}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.flushHeaders();
  const timer = setTimeout(() => res.end(body), ms);
  res.once('close', () => clearTimeout(timer));
}

const CPU_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const end = Date.now() + workerData;
let x = 0;
while (Date.now() < end) x = (x * 31 + 7) % 1000003;
parentPort.postMessage(x);
`;

function burn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x = (x * 31 + 7) % 1000003;
  return x;
}

function cpu(res, url) {
  const ms = msParam(url);
  if (ms === null) return send(res, 400, 'bad ms\n');
  const body = `cpu ${ms}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.flushHeaders();
  if (bug('cpu-main-thread')) {
    // the headers are on the wire; the work then holds the main thread (and every signal handler)
    setImmediate(() => {
      burn(ms);
      res.end(body);
    });
    return;
  }
  const w = new Worker(CPU_WORKER, { eval: true, workerData: ms });
  w.once('message', () => res.end(body));
  w.once('error', () => res.destroy());
  res.once('close', () => void w.terminate());
}

async function fifo(res) {
  const file = env.SIGCERT_FIFO;
  if (!file) return send(res, 501, 'no FIFO\n');
  let line;
  try {
    line = bug('fifo-sync-read') ? readLineSync(file) : await readLineAsync(file);
  } catch (e) {
    return send(res, 500, `fifo: ${e.message}\n`);
  }
  if (!res.destroyed) send(res, 200, `${line}\n`);
}

/** One line from the FIFO on the thread pool: open and read block a pool thread, never the main one. */
async function readLineAsync(file) {
  const fh = await fsp.open(file, 'r');
  try {
    let text = '';
    const buf = Buffer.alloc(4096);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return text;
      text += buf.toString('utf8', 0, bytesRead);
      const nl = text.indexOf('\n');
      if (nl >= 0) return text.slice(0, nl);
    }
  } finally {
    await fh.close();
  }
}

function readLineSync(file) {
  const fd = fs.openSync(file, 'r');
  try {
    let text = '';
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return text;
      text += buf.toString('utf8', 0, n);
      const nl = text.indexOf('\n');
      if (nl >= 0) return text.slice(0, nl);
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function upload(req, res) {
  const h = createHash('sha256');
  let bytes = 0;
  req.on('data', (d) => {
    bytes += d.length;
    h.update(d);
  });
  await new Promise((resolve) => req.once('end', resolve));
  send(res, 200, JSON.stringify({ bytes, sha256: h.digest('hex') }), 'application/json');
}

function download(res, url) {
  const n = Number(url.searchParams.get('bytes') ?? 0);
  if (!Number.isInteger(n) || n < 0 || n > 1 << 30) return send(res, 400, 'bad bytes\n');
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = '0123456789abcdef'.charCodeAt(i % 16);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': n });
  let sent = 0;
  const pump = () => {
    while (sent < n && !res.destroyed) {
      const len = Math.min(chunk.length, n - sent); // a multiple of 16 until the end: the pattern continues
      sent += len;
      if (!res.write(len === chunk.length ? chunk : chunk.subarray(0, len))) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

async function putKey(req, res, key) {
  if (bug('put-count-leak')) putsInFlight += 2; // lowered once below: the leak
  let value;
  try {
    value = await readBody(req);
  } catch {
    return; // the client or a fast stop ended the connection mid-body: nothing was stored, nothing to answer
  }
  if (bug('ack-before-fsync')) {
    kv.set(key, value);
    void appendDurable(key, value);
    return send(res, 201, 'stored\n');
  }
  try {
    await appendDurable(key, value);
    send(res, 201, 'stored\n');
  } catch (e) {
    send(res, 500, `store: ${e.message}\n`);
  } finally {
    if (bug('put-count-leak')) putsInFlight -= 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Control channel (protocol section 10)

function authorised(req) {
  if (bug('control-no-auth')) return true;
  const got = Buffer.from(String(req.headers.authorization ?? ''));
  const want = Buffer.from(`Bearer ${TOKEN}`);
  return TOKEN !== '' && got.length === want.length && timingSafeEqual(got, want);
}

/** control-state-initial: the state copied when the channel was set up (null: the current state is read). */
const stateAtSetup = bug('control-state-initial') ? state : null;

async function onControl(req, res) {
  trackRequest(req, res);
  if (!authorised(req)) return send(res, 401, 'unauthorised\n');
  const p = new URL(req.url ?? '/', 'http://zoo').pathname;
  const json = (status, obj) => send(res, status, JSON.stringify(obj), 'application/json');
  if (req.method === 'GET' && p === '/control/state') return json(200, { state: stateAtSetup ?? state });
  if (req.method !== 'POST') return send(res, 405, 'method not allowed\n');
  if (p === '/control/stop' || p === '/control/fast-stop') {
    res.once('finish', () => request(p === '/control/stop' ? 'stop' : 'fast-stop', 'control'));
    // THE BUG (control-fast-stop-refused): the fast stop is carried out, but answered as refused
    if (p === '/control/fast-stop' && bug('control-fast-stop-refused')) return json(409, { error: '' });
    return json(202, { accepted: true });
  }
  if (p === '/control/reload') {
    if (bug('control-reload-exits')) {
      res.once('finish', () => process.exit(1));
      return json(200, { generation: config.generation });
    }
    if (bug('control-reload-noop')) return json(200, { generation: config.generation }); // the bus is never asked
    const r = await request('reload', 'control');
    // THE BUG (control-reload-failure-ok): a reload that failed is answered like one that succeeded
    return r.ok || bug('control-reload-failure-ok')
      ? json(200, { generation: config.generation })
      : json(409, { error: r.error });
  }
  if (p === '/control/reopen-logs') {
    await request('reopen-logs', 'control');
    return json(200, { reopened: true });
  }
  if (p === '/control/restart') {
    // THE BUG (control-restart-refused): the restart signal works, the channel says it cannot restart
    if (!WITH_RESTART || bug('control-restart-refused')) return json(501, { error: 'restart is not supported' });
    // THE BUG (control-restart-stopping-accepted): during a stop the restart is ignored, yet answered 202
    if (stopping() && !bug('control-restart-stopping-accepted')) return json(409, { error: 'stopping' });
    res.once('finish', () => request('restart', 'control'));
    return json(202, { accepted: true });
  }
  return send(res, 404, 'not found\n');
}

// ---------------------------------------------------------------------------------------------
// Listeners: plain net.Server listeners feeding http.Server instances, so closing a listener never
// touches the connections (the drain decides about those)

const apiServer = http.createServer(onHttp);
const adminServer = http.createServer(onControl);
for (const s of [apiServer, adminServer]) {
  s.keepAliveTimeout = 60_000; // idle keep-alives are closed by the drain, not by a timer
  s.headersTimeout = 60_000;
  s.requestTimeout = 0;
}
const listeners = [];
/** A service listener in its SIGCERT_BIND_HOLD_MS hold: a stop during STARTING waits for it. */
let binding = null;

/** The service listener and its port (reload-rebinds closes and binds it again). */
let apiListener = null;
/** The control channel's listener: control-restart-stopping-accepted keeps it open through the drain, as the reference does. */
let adminListener = null;

function rebindApi() {
  if (apiListener === null) return;
  const { l, port } = apiListener;
  l.close();
  setTimeout(
    () => {
      if (!stopping() && !l.listening) l.listen({ port, host: HOST, exclusive: true });
    },
    intEnv('ZOO_REBIND_MS', 300),
  );
}

function listen(name, server) {
  const port = Number(env[`SIGCERT_PORT_${name.toUpperCase()}`]);
  if (!Number.isInteger(port) || port <= 0) return Promise.resolve(null);
  const l = net.createServer((socket) => {
    if (lateRejecting) return void socket.resetAndDestroy();
    if (server === tlsServer) return void server.emit('connection', socket); // tracked once secure
    trackConnection(socket, server === apiServer);
    server.emit('connection', socket);
  });
  listeners.push(l);
  if (server === apiServer) apiListener = { l, port };
  if (server === adminServer) adminListener = l;
  return new Promise((resolve, reject) => {
    l.once('error', reject);
    l.listen({ port, host: HOST, exclusive: true }, async () => {
      if (server === apiServer && BIND_HOLD_MS > 0) {
        // the hook: post-bind initialisation a stop does not cut short (a stop waits for it: `binding`)
        binding = new Promise((r) => setTimeout(r, BIND_HOLD_MS));
        await binding;
        binding = null;
      }
      if (stopping() && !bug('announce-after-stop')) {
        l.close(); // a stop arrived while binding: never serve (START.STOP_NO_LISTENER)
        return resolve(null);
      }
      probe('listening', { port });
      resolve(port);
    });
  });
}

let lateRejecting = false;

/** The HTTPS side: a TLS server whose secure connections the API server serves (set at start with a `tls` port). */
let tlsServer = null;

/** New handshakes get the pair; established connections keep theirs. */
function installTls(c, material) {
  if (c.tls === undefined) return;
  try {
    tlsServer.setSecureContext(material ?? readTls(c)); // reload-tls-unchecked: loaded only now
    log(`TLS certificate ${c.tls.cert} installed for new connections`);
  } catch (e) {
    log(`TLS certificate not installed: ${e.message}`); // THE BUG's outcome: the swap already happened
  }
}

function closeListeners() {
  if (bug('late-listener-close')) {
    lateRejecting = true; // still listening: the kernel accepts, we reset; the exit closes the listeners
    return;
  }
  if (bug('listener-open-in-drain')) {
    probe('stop-accepting'); // believed closed; the bound sockets accept and serve until the exit
    return;
  }
  if (bug('listener-open-unannounced')) return; // open and silent: only the exit closes the listeners
  for (const l of listeners) {
    // the control channel answers during the drain (as the reference's does), so that its bug shows
    if (l === adminListener && bug('control-restart-stopping-accepted')) continue;
    l.close();
  }
  probe('stop-accepting');
}

// ---------------------------------------------------------------------------------------------
// Worker process (ZOO_WORKER=1)

/** Live worker processes: the serving generation's, and a retiring generation's while it drains. */
const workerProcs = new Set();

/** Start a worker; resolves with it once its IPC channel is up (it said hello). */
function startWorker() {
  const script = new URL('./worker.mjs', import.meta.url).pathname;
  const w = spawn(process.execPath, [script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...env,
      ZOO_WORKER_MODE: bug('orphan-worker') ? 'stubborn' : bug('worker-group-crash') ? 'fragile' : 'normal',
    },
  });
  workerProcs.add(w);
  // a send to a worker whose channel is closing fails asynchronously: an 'error' event, not a crash
  w.on('error', (e) => log(`worker ${w.pid}: ${e.message}`));
  w.once('exit', (_code, sig) => {
    workerProcs.delete(w);
    // THE BUG's second half: a worker killed by a signal is taken for a crash, whatever the state
    if (bug('worker-group-crash') && sig !== null && state !== 'EXITING') {
      log(`the worker died by ${sig}: treated as a crash`);
      request('fast-stop', 'app');
    }
  });
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('exit', (code, sig) => reject(new Error(`the worker exited at start (${sig ?? code})`)));
  });
}

/** Stop the given workers (all by default) within the budget; SIGKILL (our own children) after it. */
async function stopWorker(budgetMs, which = [...workerProcs]) {
  if (bug('orphan-worker')) return;
  await Promise.all(
    which.map(async (w) => {
      if (!workerProcs.has(w)) return;
      const gone = new Promise((resolve) => w.once('exit', resolve));
      try {
        w.send('stop', () => {}); // a failed send (the channel closing) goes to the callback
      } catch {
        // its channel is gone: it is exiting already
      }
      let timer;
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, budgetMs)))]);
      clearTimeout(timer);
      if (workerProcs.has(w)) {
        w.kill('SIGKILL'); // our own child, still not reaped: its pid is ours
        // and wait until it is gone (bounded): a worker still dying when we exit would outlive us
        await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 500)))]);
        clearTimeout(timer);
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The zombie-helper bug: a helper whose child exits and is never waited for

let zombieHelper = null;

/** Starts the helper; resolves once its child is a zombie (bounded: 3 s), so readiness comes after. */
async function startZombieHelper() {
  // sh forks `true` in the background and execs node, which waits only for children it spawned itself:
  // the exited `true` stays a zombie. The helper leaves with its parent (it polls its ppid), so only the
  // zombie is wrong with it.
  // (process.ppid is read once in Node: the parent is read from /proc/self/stat each time, and compared
  // with this process's pid, handed over: the helper's node may boot after a SIGKILL of this process)
  const watch = [
    'const f = require("fs");',
    'const pp = () => f.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[1];',
    'const p = process.argv[1];',
    'setInterval(() => { if (pp() !== p) process.exit(0); }, 100);',
  ].join(' ');
  zombieHelper = spawn('/bin/sh', ['-c', `true & exec "$0" -e '${watch}' ${process.pid}`, process.execPath], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    try {
      const kids = fs.readFileSync(`/proc/${zombieHelper.pid}/task/${zombieHelper.pid}/children`, 'utf8').trim();
      const zombie = kids !== '' && fs.readFileSync(`/proc/${kids.split(' ')[0]}/stat`, 'utf8').includes(') Z ');
      if (zombie) return;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10)); // bounded poll of /proc (the fixture's own helper)
  }
}

function stopZombieHelper() {
  if (zombieHelper !== null && zombieHelper.exitCode === null) zombieHelper.kill('SIGKILL'); // our own child
}

// ---------------------------------------------------------------------------------------------
// Restart with new code (ZOO_RESTART=1; protocol section 12). A generation is the code serving the
// connections it accepted: the version the configuration's codeVersion named when it started, and its
// own worker process. A restart starts the new generation (reads codeVersion, starts its worker), hands
// it the listeners (every connection accepted from then on is the new one's), reports restart-done,
// and retires the old one like a stopping server: Connection: close on its responses, each idle
// keep-alive connection ended with FIN after a short linger (time for one last request), each busy one
// after its response, everything left closed at its deadline; then its worker is stopped. The next
// restart waits until the old generation is gone (at most two generations, RESTART.BOUNDED_GENERATIONS);
// restarts asked for meanwhile coalesce into one.

/** The serving generation ({ n, version, worker, retiring, checkRetired }); set at start. */
let generation = null;
let restarting = null; // the running restart (a promise), old generation's drain included
let restartAgain = false;
let restartAfterStart = false; // a restart requested during STARTING: carried out once STARTED
const RETIRE_LINGER_MS = Math.min(500, Math.floor(GRACE_MS / 4));

function codeVersionOf(c) {
  return typeof c?.codeVersion === 'string' && c.codeVersion !== '' ? c.codeVersion : VERSION;
}

function requestRestart(source) {
  if (!WITH_RESTART || stopping()) return Promise.resolve(); // a stop dominates
  probe('request', { action: 'restart', source });
  if (state === 'STARTING') {
    restartAfterStart = true;
    return Promise.resolve();
  }
  // during a reload: deferred until the reload ends
  return (reloading ?? Promise.resolve()).then(() => runRestart());
}

function runRestart() {
  if (stopping()) return Promise.resolve();
  if (restarting && REFUSE_OVERLAPPING_RESTART) {
    log('restart refused: a restart is under way (its old generation still drains)');
    probe('restart-failed', { generation: generation.n + 1, error: 'refused: a restart is under way' });
    return Promise.resolve();
  }
  if (restarting) {
    restartAgain = true; // merged into one follow-up restart, after the old generation is gone
    return restarting;
  }
  restarting = (async () => {
    do {
      restartAgain = false;
      await restartOnce();
    } while (restartAgain && !stopping());
    restarting = null;
  })();
  return restarting;
}

async function restartOnce() {
  const old = generation;
  const n = old.n + 1;
  probe('restart-begin', { generation: n });
  let version;
  let worker = null;
  try {
    const config = parseConfig(await fsp.readFile(CONFIG, 'utf8'));
    version = codeVersionOf(config);
    // capability failingCode (protocol section 6): the new code reads codeFails as it starts and fails
    if (config?.codeFails === true) throw new Error('the new code fails at startup (codeFails in the configuration)');
    if (stopping()) return; // a stop came while the configuration was read: no new worker for it to miss
    if (WITH_WORKER) worker = await startWorker();
  } catch (e) {
    log(`restart failed, generation ${old.n} keeps serving: ${e.message}`);
    probe('restart-failed', { generation: n, error: e.message });
    if (bug('restart-failure-exits')) {
      // THE BUG: a generation that cannot start is taken as fatal
      await stopWorker(1000);
      setState('EXITING');
      probe('exiting', { code: 1 });
      process.exit(1);
    }
    if (bug('restart-failure-resets')) {
      // THE BUG: the old generation is restarted in place: its connections are reset
      for (const [socket, c] of conns) if (c.api) socket.destroy();
    }
    if (bug('restart-failure-wedged')) await new Promise(() => {}); // THE BUG: this restart never ends
    return;
  }
  if (stopping()) return; // the stop owns every worker now
  const next = { n, version, worker, retiring: false, checkRetired: null };
  if (bug('restart-done-early')) {
    probe('restart-done', { generation: n, version, previous: old.n });
    await new Promise((r) => setTimeout(r, intEnv('ZOO_RESTART_LAG_MS', 500)));
    if (stopping()) return;
  }
  generation = next;
  if (bug('restart-pidfile-rewritten') && worker !== null && pidfileWritten) {
    fs.writeFileSync(PIDFILE, `${worker.pid}\n`);
  }
  const retired = retire(old);
  if (!bug('restart-done-early')) probe('restart-done', { generation: n, version, previous: old.n });
  log(`restart: generation ${n} (${version}) serves; generation ${old.n} drains`);
  if (bug('restart-overlap')) return; // THE BUG: the old generation drains on its own, unwaited
  await retired;
}

/** Drain a generation that no longer accepts connections; resolves once it is gone. */
async function retire(gen) {
  gen.retiring = true;
  const mine = () => [...conns].filter(([, c]) => c.gen === gen);
  let closedAtDeadline = 0;
  if (!bug('restart-keepalive-no-close')) {
    for (const res of responses) {
      const c = conns.get(res.req?.socket);
      if (c?.gen === gen && !res.headersSent) res.setHeader('Connection', 'close');
    }
  }
  for (const [socket, c] of mine()) {
    if (c.active > 0 && bug('restart-drops-in-flight')) {
      socket.destroy();
    } else if (c.active === 0 && !bug('restart-keepalive-no-close')) {
      // idle: one last request may come in the linger; one in flight then keeps the connection open
      const t = setTimeout(() => {
        if (c.active === 0 || bug('restart-linger-cuts')) endConnection(socket);
      }, RETIRE_LINGER_MS);
      socket.once('close', () => clearTimeout(t));
    }
  }
  let deadline;
  await new Promise((resolve) => {
    gen.checkRetired = () => {
      if (mine().length === 0) resolve();
    };
    deadline = setTimeout(
      () => {
        closedAtDeadline = mine().length;
        for (const [socket] of mine()) socket.destroy();
        resolve();
      },
      // THE BUG (restart-retires-early): the old generation gets half the grace period
      bug('restart-retires-early') ? Math.floor(GRACE_MS / 2) : Math.max(0, GRACE_MS - EXIT_RESERVE_MS),
    );
    gen.checkRetired();
  });
  clearTimeout(deadline);
  if (closedAtDeadline > 0) log(`restart: generation ${gen.n}'s deadline closed ${closedAtDeadline} connection(s)`);
  if (gen.worker !== null && !bug('restart-generations-kept')) await stopWorker(EXIT_RESERVE_MS, [gen.worker]);
  log(`restart: generation ${gen.n} is gone`);
}

// ---------------------------------------------------------------------------------------------
// Stop (protocol sections 5 and 11; spec section 6)

let stopMode = null; // 'graceful' | 'fast'
let escalate = null; // resolves the drain early when a graceful stop turns fast
let deadlineTimer = null;
let deadlineHit = false;
let stopRuns = 0;
let stopVia = null; // what started the stop: the signal's name, or 'control' / 'app'
/** bugs persist-one-path and pidfile-one-path: the one stop path their step runs on */
const onTheOnePath = () => stopVia === 'SIGTERM';

function requestStop(fast, source) {
  if (state === 'EXITING' || stopMode === 'fast') return Promise.resolve();
  if (bug('stop-ignored-while-reloading') && state === 'RELOADING') return Promise.resolve();
  if (stopMode === 'graceful') {
    if (fast) {
      probe('request', { action: 'fast-stop', source });
      stopMode = 'fast';
      escalate?.();
    } else if (bug('second-stop-restarts')) {
      probe('request', { action: 'stop', source });
      setState('STOPPING');
      armDeadline();
      stopRuns++;
    }
    return Promise.resolve(); // a repeated graceful stop is idempotent
  }
  // stop-misannounced: the first stop is reported as the other kind (the stop itself is the one asked)
  const announced = bug('stop-misannounced') ? !fast : fast;
  // stop-unnamed: the first stop is reported with no action name at all
  probe('request', { action: bug('stop-unnamed') ? '' : announced ? 'fast-stop' : 'stop', source });
  stopMode = fast ? 'fast' : 'graceful';
  stopVia = source === 'signal' ? signalInHand : source;
  stopRuns = 1;
  if (bug('log-closed-at-stop') && textLogFd !== 2) {
    const old = textLogFd;
    textLogFd = 2;
    fs.closeSync(old);
  }
  const wasStarting = state === 'STARTING';
  setState('STOPPING');
  beginStopHeaders();
  if (wasStarting) {
    clearTimeout(startupTimer);
    if (bug('bind-after-startup-stop')) {
      // the start carries on to the bind and its check; the exit waits for it
      startupAbort?.(true);
      return (starting ?? Promise.resolve()).catch(() => {}).then(() => exitSequence(fast ? 4 : 0));
    }
    startupAbort?.();
    // a bind in its hold finishes first, and its check closes the listener (the reference's bus does the same)
    if (binding !== null) return binding.then(() => exitSequence(fast ? 4 : 0));
    return exitSequence(fast ? 4 : 0);
  }
  armDeadline();
  return runStop();
}

function armDeadline() {
  if (bug('no-drain-deadline')) return; // THE BUG: nothing bounds the drain
  clearTimeout(deadlineTimer);
  deadlineTimer = setTimeout(
    () => {
      deadlineHit = true;
      escalate?.();
    },
    Math.max(0, GRACE_MS - EXIT_RESERVE_MS),
  );
}

async function runStop() {
  const interrupted = new Promise((resolve) => {
    escalate = resolve;
  });
  // stop headers and failing readiness are already in force; keep serving during the pre-drain delay
  if (PREDRAIN_MS > 0 && stopMode === 'graceful' && !bug('predrain-skipped')) {
    let t;
    await Promise.race([interrupted, new Promise((r) => (t = setTimeout(r, PREDRAIN_MS)))]);
    clearTimeout(t);
  }
  closeListeners();
  draining = true;
  let aborted = 0;
  // THE BUG: the report comes at the start of the drain, not its end
  if (bug('drained-early') && stopMode === 'graceful') probe('drained', { forced: false, aborted: 0 });
  if (stopMode === 'fast' || dropInFlight) {
    aborted = destroyAll();
  } else {
    if (!bug('idle-keepalive-hang')) {
      for (const [socket, c] of conns) {
        if (c.active === 0 && bug('idle-rst')) socket.resetAndDestroy();
        else if (c.active === 0) endConnection(socket);
      }
    }
    // THE BUG: after a delay the drain waits for nothing that will come (the deadline ends it)
    const stuck = bug('predrain-drain-stuck') && PREDRAIN_MS > 0 && stopMode === 'graceful';
    await Promise.race([stuck ? new Promise(() => {}) : whenDrained(), interrupted]);
    if (stopMode === 'fast' || deadlineHit) aborted = destroyAll();
  }
  clearTimeout(deadlineTimer);
  const forced = stopMode === 'fast' || deadlineHit || aborted > 0;
  if (deadlineHit && bug('deadline-count-unlogged')) log('drain deadline: closed the requests still in flight');
  else if (deadlineHit) log(`drain deadline: closed ${aborted} request(s) still in flight`);
  if (!(bug('drained-early') && stopMode === 'graceful'))
    probe('drained', bug('drained-unforced') ? { forced: false, aborted: 0 } : { forced, aborted });
  const code = deadlineHit ? 3 : stopMode === 'fast' ? 4 : 0;
  return exitSequence(code);
}

let exitingStarted = false;

async function exitSequence(code) {
  if (exitingStarted) return;
  exitingStarted = true;
  setState('EXITING');
  const exitBy = Date.now() + Math.max(EXIT_RESERVE_MS, 100);
  await stopWorker(Math.max(50, exitBy - Date.now() - 50));
  stopZombieHelper();
  await runStopSubscribers(Math.max(20, exitBy - Date.now() - 50));
  let status = code;
  if (!bug('no-index-persist') && !(bug('persist-one-path') && !onTheOnePath()) && logFd >= 0) {
    const times = bug('second-stop-restarts') ? stopRuns : 1;
    try {
      for (let i = 0; i < times; i++) await persist();
    } catch (e) {
      log(`persist failed: ${e.message}`);
      status = 5;
    }
  }
  if (!(bug('pidfile-one-path') && !onTheOnePath())) removePidfile();
  if (bug('exit-by-library')) {
    log('log flushed; exiting'); // THE BUG: a library owns the exit, the bus never announces it
    process.exit(status);
  }
  probe('exiting', { code: status });
  process.exit(status);
}

/** Stop subscribers: each one bounded, a failing one logged and skipped (BUS.SUBSCRIBER_FAILURE). */
async function runStopSubscribers(budgetMs) {
  const subscribers = [];
  if (FAULT === 'stop-subscriber-throws')
    subscribers.push(async () => {
      throw new Error('injected fault');
    });
  if (FAULT === 'stop-subscriber-hangs') subscribers.push(() => new Promise(() => {}));
  for (const fn of subscribers) {
    let t;
    const timeout = new Promise((_, rej) => (t = setTimeout(() => rej(new Error('timed out')), budgetMs)));
    try {
      await Promise.race([fn(), timeout]);
    } catch (e) {
      log(`stop subscriber failed and was skipped: ${e.message}`);
    } finally {
      clearTimeout(t);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pidfile

const PIDFILE = path.join(STATE_DIR, 'server.pid');

let pidfileWritten = false;

function writePidfile() {
  if (!WITH_PIDFILE) return;
  pidfileWritten = true;
  const tmp = `${PIDFILE}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  fs.renameSync(tmp, PIDFILE);
}

function removePidfile() {
  if (!WITH_PIDFILE) return;
  try {
    if (bug('pidfile-after-ready')) {
      if (pidfileWritten) fs.unlinkSync(PIDFILE);
      return;
    }
    if (bug('pidfile-not-checked') || fs.readFileSync(PIDFILE, 'utf8').trim() === String(process.pid)) {
      fs.unlinkSync(PIDFILE);
    }
  } catch {
    // not there: nothing to remove
  }
}

// ---------------------------------------------------------------------------------------------
// Start

let startupTimer = null;
let startupAbort = null;

async function start() {
  openStore();
  if (STARTUP_DELAY_MS > 0) {
    // the slow initialisation: signals are handled meanwhile; a stop abandons it
    await new Promise((resolve, reject) => {
      startupTimer = setTimeout(resolve, STARTUP_DELAY_MS);
      startupAbort = (carryOn) => (carryOn ? resolve() : reject(new Error('stopped during start')));
    });
  }
  config = parseConfig(fs.readFileSync(CONFIG, 'utf8'));
  generation = { n: 1, version: codeVersionOf(config), worker: null, retiring: false, checkRetired: null };
  const ports = {};
  ports.http = await listen('http', apiServer);
  const admin = stopping() ? null : await listen('admin', adminServer);
  if (admin !== null) ports.admin = admin;
  const material = loadTls(config);
  if (material !== null && !stopping() && env.SIGCERT_PORT_TLS) {
    tlsServer = tls.createServer(material, (socket) => {
      trackConnection(socket, true);
      apiServer.emit('connection', socket);
    });
    tlsServer.on('tlsClientError', () => {}); // a failed handshake costs only its connection
    const port = await listen('tls', tlsServer);
    if (port !== null) ports.tls = port;
  }
  if (stopping()) return; // a stop arrived while binding: exitSequence owns the process now
  if (WITH_WORKER) generation.worker = await startWorker();
  if (bug('zombie-helper')) await startZombieHelper();
  if (stopping()) return;
  if (bug('handlers-after-bind')) {
    await new Promise((resolve) => setTimeout(resolve, intEnv('ZOO_POSTBIND_MS', 500))); // the post-bind initialisation
    installHandlers();
  }
  if (bug('pidfile-after-ready')) {
    setState('STARTED');
    probe('ready', { ports });
    const late = setTimeout(
      () => {
        if (!stopping()) writePidfile();
      },
      intEnv('ZOO_PIDFILE_LATE_MS', 200),
    );
    late.unref();
  } else {
    writePidfile();
    setState('STARTED');
    probe('ready', { ports });
  }
  const recorded = reloadAfterStart;
  reloadAfterStart = null;
  if (recorded !== null) void runReload().then(recorded.resolve);
  if (restartAfterStart) {
    restartAfterStart = false;
    void (reloading ?? Promise.resolve()).then(() => runRestart());
  }
}

const starting = start();
starting.catch((e) => {
  if (stopping()) return; // the stop during STARTING abandoned the start
  log(`start failed: ${e.message}`);
  setState('EXITING'); // a fatal startup error: STARTING -> EXITING (spec 3.3)
  probe('exiting', { code: 1 });
  process.exit(1);
});
