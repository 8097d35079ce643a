// A small subject for the property tests: the parts of the subject protocol the fuzzer drives
// (probe on fd 3, /ready /live /config /hold /cpu /fifo /kv, reload with coalescing, graceful and
// fast stop with a deadline, a durable store acknowledged after fsync), in one readable file.
//
// It is correct unless `MINI_BUG` names one of its two sequence-dependent bugs:
//   hup-loses-write      a reload "reopens the store": writes still waiting for their group commit are
//                        acknowledged (201) but never written, and the reopened store does not have them
//   term-after-hup-lost  a stop request that arrives while a reload runs is dropped ("busy reloading")
//
// Timing knobs (environment): MINI_RELOAD_MS (how long a reload takes), MINI_COMMIT_MS (group commit delay).
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { Socket } from 'node:net';
import { join } from 'node:path';

const env = process.env;
const BUG = env.MINI_BUG ?? '';
const RELOAD_MS = Number(env.MINI_RELOAD_MS ?? 40);
const COMMIT_MS = Number(env.MINI_COMMIT_MS ?? 10);
const GRACE_MS = Number(env.SIGCERT_GRACE_MS ?? 5000);
const CODES = { graceful: 0, fatal: 1, deadline: 3, fast: 4 };

// --- probe ----------------------------------------------------------------------------------------
const probeFd = env.SIGCERT_PROBE_FD ? Number(env.SIGCERT_PROBE_FD) : null;
function probe(ev, extra = {}) {
  if (probeFd === null) return;
  const line = `${JSON.stringify({ ev, t: String(process.hrtime.bigint()), pid: process.pid, ...extra })}\n`;
  try {
    writeSync(probeFd, line);
  } catch {
    // the harness went away: nothing to report to
  }
}
const log = (msg) => process.stderr.write(`mini: ${msg}\n`);
probe('hello', { protocol: '1' });

// --- lifecycle ----------------------------------------------------------------------------------
let state = 'STARTING';
function transition(to) {
  const from = state;
  state = to;
  probe('state', { state: to, from });
}
const stopping = () => state === 'STOPPING' || state === 'EXITING';

// --- configuration --------------------------------------------------------------------------------
function readConfig() {
  const data = JSON.parse(readFileSync(env.SIGCERT_CONFIG, 'utf8'));
  if (typeof data !== 'object' || data === null || !Number.isSafeInteger(data.generation) || data.generation < 1) {
    throw new Error('"generation" must be a positive integer');
  }
  return data;
}
let config = readConfig();

// --- durable store: one JSON line per record, group commit, acknowledged after fsync ----------------
class Store {
  constructor(dir) {
    this.file = join(dir, 'mini.kv');
    this.map = new Map();
    this.batch = [];
    this.timer = null;
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      // first start
    }
    let records = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const { k, v } = JSON.parse(line);
        this.map.set(k, v);
        records++;
      } catch {
        // a torn tail: ignored
      }
    }
    this.fd = openSync(this.file, 'a');
    probe('recovery', { mode: 'scan', records, truncatedBytes: 0 });
  }
  put(k, v) {
    return new Promise((resolve) => {
      this.batch.push({ k, v, resolve });
      this.timer ??= setTimeout(() => this.commit(), COMMIT_MS);
    });
  }
  commit() {
    this.timer = null;
    const batch = this.batch.splice(0);
    if (batch.length === 0) return;
    writeSync(this.fd, batch.map(({ k, v }) => `${JSON.stringify({ k, v })}\n`).join(''));
    fsyncSync(this.fd);
    for (const { k, v, resolve } of batch) {
      this.map.set(k, v);
      resolve(true);
    }
  }
  /** The bug: closing settles the waiters as if their writes had been committed. */
  closeLosingBatch() {
    clearTimeout(this.timer);
    this.timer = null;
    for (const { resolve } of this.batch.splice(0)) resolve(true);
    closeSync(this.fd);
  }
  close() {
    clearTimeout(this.timer);
    this.commit();
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
mkdirSync(env.SIGCERT_STATE_DIR, { recursive: true });
let store = new Store(env.SIGCERT_STATE_DIR);

// --- HTTP ------------------------------------------------------------------------------------------
const sockets = new Set();
const cancels = new Set(); // aborts work in flight (CPU loops, FIFO reads) on a forced stop
let inFlight = 0;
let drainWaiter = null;

function begin(res) {
  inFlight++;
  res.once('close', () => {
    inFlight--;
    if (inFlight === 0 && drainWaiter) drainWaiter();
  });
}
function send(res, status, body, type = 'text/plain') {
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  if (stopping()) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
function early(res) {
  res.writeHead(200, { 'content-type': 'text/plain', ...(stopping() ? { connection: 'close' } : {}) });
  res.flushHeaders();
}

function cpuWork(ms, res) {
  let left = ms;
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
  };
  cancels.add(cancel);
  const slice = () => {
    if (cancelled) return;
    const until = Date.now() + Math.min(2, left);
    while (Date.now() < until) {
      // burn CPU in 2 ms slices so signals are still handled between them
    }
    left -= 2;
    if (left > 0) return void setImmediate(slice);
    cancels.delete(cancel);
    res.end(`cpu ${ms}\n`);
  };
  slice();
}

function fifoRead(res) {
  let fd;
  try {
    fd = openSync(env.SIGCERT_FIFO, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return send(res, 500, `fifo: ${err.message}\n`);
  }
  const pipe = new Socket({ fd, readable: true, writable: false });
  const chunks = [];
  const cancel = () => pipe.destroy();
  cancels.add(cancel);
  const finish = () => {
    cancels.delete(cancel);
    pipe.destroy();
    const text = Buffer.concat(chunks).toString('utf8');
    const nl = text.indexOf('\n');
    send(res, 200, `${nl >= 0 ? text.slice(0, nl) : text}\n`);
  };
  pipe.on('data', (c) => {
    chunks.push(c);
    if (c.includes(0x0a)) finish();
  });
  pipe.on('end', finish);
  pipe.on('error', () => res.destroy());
}

async function kvPut(req, res, key) {
  const parts = [];
  for await (const c of req) parts.push(c);
  await store.put(key, Buffer.concat(parts).toString('utf8'));
  send(res, 201, 'stored\n');
}

const server = createServer((req, res) => {
  begin(res);
  const url = new URL(req.url ?? '/', 'http://x');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  if (url.pathname === '/ready') return send(res, state === 'STARTED' || state === 'RELOADING' ? 200 : 503, 'ready\n');
  if (url.pathname === '/live') return send(res, 200, 'live\n');
  if (url.pathname === '/config') return send(res, 200, JSON.stringify({ generation: config.generation }), 'json');
  if (url.pathname === '/hold') {
    early(res);
    const timer = setTimeout(() => res.end(`held ${ms}\n`), ms);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  if (url.pathname === '/cpu') {
    early(res);
    return cpuWork(ms, res);
  }
  if (url.pathname === '/fifo') return fifoRead(res);
  if (url.pathname.startsWith('/kv/')) {
    const key = url.pathname.slice(4);
    if (req.method === 'PUT') return void kvPut(req, res, key);
    const v = store.map.get(key);
    return v === undefined ? send(res, 404, 'absent\n') : send(res, 200, v);
  }
  send(res, 404, 'no such endpoint\n');
});
server.on('connection', (s) => {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
});

// --- reload: serialised, requests during a reload coalesce into one follow-up -----------------------
let reloading = false;
let followUp = false;
async function reload() {
  if (reloading) {
    followUp = true;
    probe('request', { action: 'reload', source: 'signal', coalesced: true });
    return;
  }
  probe('request', { action: 'reload', source: 'signal' });
  reloading = true;
  transition('RELOADING');
  do {
    followUp = false;
    probe('reload-begin', { generation: config.generation });
    if (BUG === 'hup-loses-write') {
      // "reopen the data file on reload", like a log file: the batch waiting for its commit is dropped
      store.closeLosingBatch();
      store = new Store(env.SIGCERT_STATE_DIR);
    }
    await new Promise((r) => setTimeout(r, RELOAD_MS)); // "validating": the reload takes a while
    if (stopping()) break;
    try {
      config = readConfig();
      probe('reload-done', { generation: config.generation });
    } catch (err) {
      probe('reload-failed', { error: err.message });
    }
  } while (followUp && !stopping());
  reloading = false;
  if (state === 'RELOADING') transition('STARTED');
}

// --- stop ------------------------------------------------------------------------------------------
let stopReason = null;
let deadlineTimer = null;
function requestStop(kind) {
  if (stopReason !== null) {
    if (kind === 'fast' && stopReason === 'graceful' && state === 'STOPPING') {
      probe('request', { action: 'fast-stop', source: 'signal' });
      stopReason = 'fast';
      abort();
    }
    return;
  }
  if (BUG === 'term-after-hup-lost' && state === 'RELOADING') {
    log('busy reloading: stop request dropped');
    return;
  }
  probe('request', { action: kind === 'fast' ? 'fast-stop' : 'stop', source: 'signal' });
  stopReason = kind;
  transition('STOPPING');
  server.close();
  probe('stop-accepting');
  server.closeIdleConnections();
  if (kind === 'fast') return abort();
  deadlineTimer = setTimeout(() => {
    stopReason = 'deadline';
    abort();
  }, GRACE_MS);
  const drained = () => {
    if (state !== 'STOPPING') return;
    probe('drained', { forced: false, aborted: 0 });
    finish();
  };
  // a PUT is a request in flight until its write is committed, so no request in flight = drained
  if (inFlight === 0) drained();
  else drainWaiter = drained;
}
function abort() {
  if (state !== 'STOPPING') return;
  const aborted = inFlight;
  for (const cancel of [...cancels]) cancel();
  for (const s of sockets) s.destroy();
  probe('drained', { forced: true, aborted });
  finish();
}
function finish() {
  clearTimeout(deadlineTimer);
  transition('EXITING');
  store.close();
  probe('persisted', { records: store.map.size });
  const code = CODES[stopReason];
  probe('exiting', { code });
  process.exit(code);
}

// --- signals ---------------------------------------------------------------------------------------
function onSignal(sig) {
  probe('signal', { sig });
  if (sig === 'SIGTERM') return requestStop('graceful');
  // the repeat map (spec 4.2): a SIGINT during a stop, whatever started it, is a fast stop
  if (sig === 'SIGINT') return requestStop(stopReason !== null ? 'fast' : 'graceful');
  if (sig === 'SIGQUIT') return requestStop('fast');
  if (sig === 'SIGHUP') return state === 'STARTED' || state === 'RELOADING' ? void reload() : undefined;
  if (sig === 'SIGUSR1') return probe('reopen-logs');
}
const handled = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1'];
for (const sig of handled) process.on(sig, onSignal);
probe('handlers', { signals: handled, ignored: ['SIGPIPE'] });

const port = Number(env.SIGCERT_PORT_HTTP);
server.listen(port, env.SIGCERT_HOST ?? '127.0.0.1', () => {
  probe('listening', { port });
  transition('STARTED');
  probe('ready', { ports: { http: port } });
});
