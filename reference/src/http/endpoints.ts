/**
 * The HTTP endpoints (subject protocol section 9). `/ready`, `/live` and `/` always exist; the
 * conformance endpoints only with `SIGCERT_CONFORMANCE=1`. Unknown paths get 404.
 *
 * Every handler is small and does its slow part off the main thread or asynchronously: `/cpu`
 * on a worker thread, `/fifo` through a non-blocking pipe, `/kv` through the store's async I/O,
 * `POST /cert` on a certificate thread, so a signal listener never waits for a request.
 *
 * The same handlers serve in the single process (`server.ts`) and in the worker processes of the
 * supervised mode (`supervised/worker.ts`), where `/kv` goes to the supervisor's store over IPC:
 * hence the small structural interfaces below rather than the concrete classes.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CpuPool } from '../cpu/pool.js';
import type { FifoReader } from '../fifo.js';
import type { Logger } from '../log.js';
import { KEY_PATTERN, MAX_VALUE_BYTES } from '../store/index.js';
import type { CertOutcome, CertRequest } from '../tls/cert-thread.js';
import type { ConnectionTracker } from './connections.js';

/** What `/config` and `/` read: the configuration in use. */
export interface ConfigView {
  readonly loaded: boolean;
  readonly current: { readonly generation: number; readonly data: Readonly<Record<string, unknown>> };
}

/** What `/kv` needs: the durable store (`DurableState`), or its IPC proxy in a worker process. */
export interface KvStore {
  /** Resolves once the value is durable. */
  put(key: string, value: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  keys(): Promise<string[]>;
}

export interface Endpoints {
  /** Readiness: the bus is STARTED or RELOADING (and, in a worker, it is not retiring). */
  isReady: () => boolean;
  config: ConfigView;
  durable: KvStore;
  cpu: CpuPool;
  fifo: FifoReader | undefined;
  version: string;
  conformance: boolean;
  log: Logger;
  /**
   * `POST /cert`: hands the pair to a certificate thread, which asks the bus for a reload that
   * installs it. Undefined when no TLS listener is served.
   */
  installCertificate?: (req: CertRequest) => Promise<CertOutcome>;
}

const MAX_HOLD_MS = 600_000;
const MAX_CPU_MS = 60_000;
const MAX_DOWNLOAD_BYTES = 2 ** 40;
const PATTERN = '0123456789abcdef';
/** 64 KiB of the download pattern; a multiple of 16, so consecutive chunks continue the pattern. */
const PATTERN_CHUNK = Buffer.from(PATTERN.repeat(4096));

/** The request listener: tracks the request, routes it, turns a thrown error into a 500. */
export function createRequestListener(app: Endpoints, tracker: ConnectionTracker) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    tracker.onRequest(req, res);
    route(app, req, res).catch((err: unknown) => {
      app.log.error(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
}

type Handler = (app: Endpoints, req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/** Path -> [method, handler]. */
const ALWAYS: Record<string, [string, Handler]> = {
  '/ready': ['GET', readiness],
  '/live': ['GET', (_app, _req, res) => send(res, 200, 'live\n')],
  '/': ['GET', greeting],
};

const CONFORMANCE: Record<string, [string, Handler]> = {
  '/hold': ['GET', hold],
  '/cpu': ['GET', cpu],
  '/fifo': ['GET', fifo],
  '/upload': ['POST', upload],
  '/download': ['GET', download],
  '/config': ['GET', (app, _req, res) => json(res, 200, { generation: app.config.current.generation })],
  '/version': ['GET', (app, _req, res) => json(res, 200, { version: app.version })],
  '/kv': ['GET', async (app, _req, res) => json(res, 200, await app.durable.keys())],
  '/cert': ['POST', certificate],
};

async function route(app: Endpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const entry = ALWAYS[path] ?? (app.conformance ? CONFORMANCE[path] : undefined);
  if (entry !== undefined) {
    const [method, handler] = entry;
    if (req.method === method || (method === 'GET' && req.method === 'HEAD')) return handler(app, req, res, url);
    return methodNotAllowed(res, method);
  }
  if (app.conformance && path.startsWith('/kv/')) return kv(app, req, res, path.slice('/kv/'.length));
  send(res, 404, 'not found\n');
}

// ---------------------------------------------------------------------------------------------

function readiness(app: Endpoints, _req: IncomingMessage, res: ServerResponse): void {
  if (app.isReady()) send(res, 200, 'ready\n');
  else send(res, 503, 'not ready\n');
}

function greeting(app: Endpoints, _req: IncomingMessage, res: ServerResponse): void {
  const greeting = app.config.loaded ? app.config.current.data.greeting : undefined;
  send(res, 200, `${typeof greeting === 'string' ? greeting : 'hello'}\n`);
}

/** Status and headers at once (flushed), the body `held N\n` after N ms. */
function hold(_app: Endpoints, _req: IncomingMessage, res: ServerResponse, url: URL): void {
  const ms = intParam(url, 'ms', 0, MAX_HOLD_MS);
  if (ms === undefined) return void send(res, 400, `ms must be an integer from 0 to ${MAX_HOLD_MS}\n`);
  const body = `held ${ms}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.flushHeaders();
  const timer = setTimeout(() => res.end(body), ms);
  res.once('close', () => clearTimeout(timer));
}

/** Headers at once (the work has begun), N ms of CPU work on a worker thread, then `cpu N\n`. */
async function cpu(app: Endpoints, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const ms = intParam(url, 'ms', 0, MAX_CPU_MS);
  if (ms === undefined) return void send(res, 400, `ms must be an integer from 0 to ${MAX_CPU_MS}\n`);
  const body = `cpu ${ms}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.flushHeaders();
  const gone = abortOnClose(res);
  try {
    await app.cpu.run(ms, gone.signal);
  } catch {
    res.destroy(); // terminated by the stop deadline, or the client left: no fake success
    return;
  } finally {
    gone.dispose();
  }
  res.end(body);
}

/** One line from the FIFO, answered as that line plus a newline. */
async function fifo(app: Endpoints, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (app.fifo === undefined) return void send(res, 501, 'no FIFO configured (SIGCERT_FIFO)\n');
  const gone = abortOnClose(res);
  let line: string;
  try {
    line = await app.fifo.readLine(gone.signal);
  } catch (err) {
    if (gone.signal.aborted || res.destroyed) return;
    res.destroy(err as Error);
    return;
  } finally {
    gone.dispose();
  }
  send(res, 200, `${line}\n`);
}

/** Streams the body through SHA-256; answers its length and digest. */
async function upload(_app: Endpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  json(res, 200, { bytes, sha256: hash.digest('hex') });
}

/** N bytes of the repeating pattern, written with back-pressure. */
function download(_app: Endpoints, _req: IncomingMessage, res: ServerResponse, url: URL): void {
  const total = intParam(url, 'bytes', 0, MAX_DOWNLOAD_BYTES);
  if (total === undefined) return void send(res, 400, `bytes must be an integer from 0 to ${MAX_DOWNLOAD_BYTES}\n`);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
  let left = total;
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const size = Math.min(left, PATTERN_CHUNK.length);
      left -= size;
      const ok = res.write(size === PATTERN_CHUNK.length ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, size));
      if (!ok) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

async function kv(app: Endpoints, req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
  if (!KEY_PATTERN.test(key)) return void send(res, 400, `keys match ${KEY_PATTERN}\n`);
  if (req.method === 'GET') {
    const value = await app.durable.get(key);
    if (value === undefined) return void send(res, 404, 'no such key\n');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': value.length });
    res.end(value);
    return;
  }
  if (req.method !== 'PUT') return void methodNotAllowed(res, 'GET, PUT');
  const body = await readBody(req, MAX_VALUE_BYTES);
  if (body === undefined) return void send(res, 413, `values are limited to ${MAX_VALUE_BYTES} bytes\n`);
  try {
    await app.durable.put(key, body); // resolves after fsync: only then 201
  } catch (err) {
    app.log.warn(`PUT /kv/${key} failed: ${(err as Error).message}`);
    return void send(res, 503, 'the store refused the write\n');
  }
  send(res, 201, 'stored\n');
}

/**
 * `POST /cert` with `{"cert": path, "key": path}`: a certificate thread checks the pair and asks the
 * bus for a reload that installs it (source `thread`). 202 once the reload is asked for; 422 when
 * the pair does not load (nothing changes); 409 when no TLS listener is served.
 */
async function certificate(app: Endpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req, 64 * 1024);
  if (app.installCertificate === undefined) return json(res, 409, { error: 'this server serves no TLS listener' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body?.toString() ?? '');
  } catch {
    parsed = undefined;
  }
  const p = parsed as { cert?: unknown; key?: unknown } | undefined;
  if (typeof p?.cert !== 'string' || typeof p.key !== 'string' || p.cert === '' || p.key === '') {
    return json(res, 400, { error: 'the body must be JSON {"cert": path, "key": path}' });
  }
  const outcome = await app.installCertificate({ cert: p.cert, key: p.key });
  if (!outcome.ok) {
    app.log.warn(`POST /cert rejected: ${outcome.error}`);
    return json(res, 422, { error: outcome.error });
  }
  app.log.info(`POST /cert: ${outcome.subject} checked by a thread; reload requested`);
  json(res, 202, { status: 'accepted', subject: outcome.subject });
}

// ---------------------------------------------------------------------------------------------

function send(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json');
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  send(res, 405, 'method not allowed\n');
}

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

/** The whole body, or undefined when it exceeds `limit` bytes (the rest is discarded). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) tooBig = true;
    else chunks.push(chunk);
  }
  return tooBig ? undefined : Buffer.concat(chunks);
}

/** An AbortSignal that fires when the response closes before it finished (the client left). */
function abortOnClose(res: ServerResponse): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) ac.abort();
  };
  res.once('close', onClose);
  return { signal: ac.signal, dispose: () => res.off('close', onClose) };
}
