/**
 * A small HTTP/1.1 client on raw sockets, built to observe rather than to hide: it keeps the
 * connection under the caller's control (keep-alive reuse is explicit), records a timeline per
 * request (connect, headers, body done, close) and classifies failures the way the spec needs:
 * refused (nothing listening), reset (RST after accept), early-eof (FIN before a full response),
 * timeout.
 */
import net from 'node:net';
import type { History } from '../history.js';
import { nowNs } from '../history.js';

export type ErrorKind = 'refused' | 'reset' | 'early-eof' | 'timeout' | 'other';

export interface HttpResult {
  label: string;
  ok: boolean;
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  error?: ErrorKind;
  errorMessage?: string;
  /** monotonic ns stamps as decimal strings */
  sentNs: string;
  headersNs?: string;
  doneNs?: string;
  /** the connection this request went over */
  connId: number;
  /** true when the request was written on a connection that had already served a response */
  reused: boolean;
  /**
   * true when the request itself said `Connection: close`: its response then says so whatever the
   * server's own stop does, so it proves nothing about STOP.CONNECTION_CLOSE
   */
  askedClose: boolean;
}

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** body sent slowly: chunks written at an interval (bounded by the caller) */
  slowBody?: { total: number; chunk: number; intervalMs: number };
  timeoutMs?: number;
  /** label recorded in the history */
  label?: string;
  /** read the response slowly: pause the socket, resume in steps of `chunk` bytes every `intervalMs` */
  slowRead?: { intervalMs: number };
  /** resolve as soon as the status line and headers arrived (the body keeps arriving) */
  onHeaders?: (r: HttpResult) => void;
}

let nextConnId = 1;

function errorKind(err: NodeJS.ErrnoException): ErrorKind {
  if (err.code === 'ECONNREFUSED') return 'refused';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'reset';
  if (err.code === 'ETIMEDOUT') return 'timeout';
  return 'other';
}

/** Parses one HTTP/1.1 response incrementally: Content-Length, chunked, or close-delimited bodies. */
class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  status?: number;
  headers: Record<string, string> = {};
  private headersDone = false;
  private bodyParts: Buffer[] = [];
  private remaining = -1; // content-length left; -1 = unknown
  private chunked = false;
  private chunkLeft = -1;
  done = false;
  closeDelimited = false;

  constructor(private readonly method: string) {}

  /** feed bytes; returns leftover bytes after a complete response (pipelining is not used) */
  push(data: Buffer): { headersJustDone: boolean } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let headersJustDone = false;
    if (!this.headersDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return { headersJustDone };
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
      this.status = m ? Number(m[1]) : 0;
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) this.headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      this.headersDone = true;
      headersJustDone = true;
      const te = this.headers['transfer-encoding'];
      const cl = this.headers['content-length'];
      if (this.method === 'HEAD' || this.status === 204 || this.status === 304) this.remaining = 0;
      else if (te && /chunked/i.test(te)) this.chunked = true;
      else if (cl !== undefined) this.remaining = Number(cl);
      else this.closeDelimited = true;
    }
    this.consumeBody();
    return { headersJustDone };
  }

  private consumeBody(): void {
    if (this.done) return;
    if (this.closeDelimited) {
      if (this.buf.length) this.bodyParts.push(this.buf);
      this.buf = Buffer.alloc(0);
      return;
    }
    if (!this.chunked) {
      const take = Math.min(this.remaining, this.buf.length);
      if (take > 0) this.bodyParts.push(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      this.remaining -= take;
      if (this.remaining === 0) this.done = true;
      return;
    }
    for (;;) {
      if (this.chunkLeft < 0) {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        const size = Number.parseInt(this.buf.subarray(0, eol).toString('latin1'), 16);
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) {
          // trailers end with an empty line
          const end = this.buf.indexOf('\r\n');
          if (end < 0) {
            this.chunkLeft = -2;
            return;
          }
          this.buf = this.buf.subarray(end + 2);
          this.done = true;
          return;
        }
        this.chunkLeft = size;
      }
      if (this.chunkLeft === -2) {
        const end = this.buf.indexOf('\r\n');
        if (end < 0) return;
        this.done = true;
        return;
      }
      if (this.buf.length < this.chunkLeft + 2) {
        // take what we have of the chunk data
        const take = Math.min(this.chunkLeft, this.buf.length);
        if (take > 0) this.bodyParts.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.chunkLeft -= take;
        if (this.chunkLeft > 0 || this.buf.length < 2) return;
      } else {
        this.bodyParts.push(this.buf.subarray(0, this.chunkLeft));
        this.buf = this.buf.subarray(this.chunkLeft);
        this.chunkLeft = 0;
      }
      if (this.chunkLeft === 0) {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.chunkLeft = -1;
      }
    }
  }

  /** the peer closed: a close-delimited body is complete, anything else is an early EOF */
  onEnd(): void {
    if (this.headersDone && this.closeDelimited) this.done = true;
  }

  get body(): Buffer {
    return Buffer.concat(this.bodyParts);
  }
  get gotHeaders(): boolean {
    return this.headersDone;
  }
}

/**
 * One client connection. Requests are sequential (no pipelining). The connection records how it
 * ended: 'fin' (the peer closed cleanly), 'rst' (reset), or 'local' (we closed it).
 */
export class HttpConnection {
  readonly id = nextConnId++;
  private socket: net.Socket;
  private served = 0;
  private ended: 'fin' | 'rst' | 'local' | null = null;
  private endWaiters: ((how: 'fin' | 'rst' | 'local') => void)[] = [];
  private active: ((ev: 'data' | 'end' | 'close' | 'error', arg?: Buffer | NodeJS.ErrnoException) => void) | null =
    null;
  connectError?: ErrorKind;

  private constructor(
    readonly port: number,
    private readonly history: History | undefined,
    readonly label: string,
    host: string,
  ) {
    this.socket = net.connect({ port, host, allowHalfOpen: false });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.active?.('data', d));
    this.socket.on('end', () => {
      this.active?.('end');
      this.finish('fin');
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.active?.('error', err);
      this.finish(errorKind(err) === 'reset' ? 'rst' : 'fin');
    });
    this.socket.on('close', () => {
      this.finish('fin');
      this.active?.('close'); // closed without 'end' or 'error' (destroyed): a pending request settles now
    });
  }

  private finish(how: 'fin' | 'rst' | 'local'): void {
    if (this.ended) return;
    this.ended = how;
    this.history?.add('client', 'conn-closed', { conn: this.id, label: this.label, how });
    for (const w of this.endWaiters.splice(0)) w(how);
  }

  /** Connect; resolves with the connection, or rejects with an Error whose `kind` says why. */
  static open(port: number, opts: { history?: History; label?: string; timeoutMs?: number; host?: string } = {}) {
    const c = new HttpConnection(port, opts.history, opts.label ?? 'conn', opts.host ?? '127.0.0.1');
    const startNs = nowNs();
    return new Promise<HttpConnection>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.socket.destroy();
        reject(Object.assign(new Error(`connect to ${port} timed out`), { kind: 'timeout' as ErrorKind }));
      }, opts.timeoutMs ?? 5000);
      c.socket.once('connect', () => {
        clearTimeout(timer);
        opts.history?.add('client', 'connect', { conn: c.id, label: c.label, port, ok: true }, undefined);
        resolve(c);
      });
      c.socket.once('close', () => {
        // without 'error' (destroyed before connecting): settle rather than wait for the timer
        clearTimeout(timer);
        reject(Object.assign(new Error(`connect to ${port}: closed`), { kind: 'other' as ErrorKind }));
      });
      c.socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const kind = errorKind(err);
        c.connectError = kind;
        opts.history?.add('client', 'connect', { conn: c.id, label: c.label, port, ok: false, error: kind }, startNs);
        reject(Object.assign(new Error(`connect to ${port}: ${err.code}`), { kind }));
      });
    });
  }

  /** bytes written on this connection so far (request heads and bodies) */
  get bytesWritten(): number {
    return this.socket.bytesWritten;
  }

  get isClosed(): boolean {
    return this.ended !== null;
  }

  /** Wait until the peer closes the connection; 'timeout' if it does not within the deadline. */
  waitClosed(timeoutMs: number): Promise<'fin' | 'rst' | 'local' | 'timeout'> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), timeoutMs);
      this.endWaiters.push((how) => {
        clearTimeout(timer);
        resolve(how);
      });
    });
  }

  /** Close the connection; a request still waiting on it settles at once (`other`, "closed locally"). */
  close(): void {
    if (!this.ended) this.finish('local');
    this.socket.destroy();
    this.active?.('close');
  }

  /** Send one request and read its response. Never throws: failures are in the result. */
  request(opts: RequestOptions): Promise<HttpResult> {
    const method = opts.method ?? 'GET';
    const label = opts.label ?? `${method} ${opts.path}`;
    const reused = this.served > 0;
    const askedClose = requestAsksClose(opts.headers);
    const parser = new ResponseParser(method);
    const sentNs = nowNs();
    const result: HttpResult = {
      label,
      ok: false,
      headers: {},
      body: Buffer.alloc(0),
      sentNs: sentNs.toString(),
      connId: this.id,
      reused,
      askedClose,
    };
    this.history?.add(
      'client',
      'http-sent',
      { conn: this.id, label, method, path: opts.path, reused, askedClose },
      sentNs,
    );
    return new Promise<HttpResult>((resolve) => {
      let settled = false;
      let pacer: NodeJS.Timeout | undefined;
      let reader: NodeJS.Timeout | undefined;
      const settle = (error?: ErrorKind, message?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (pacer) clearInterval(pacer);
        if (reader) clearInterval(reader);
        this.active = null;
        if (!this.socket.isPaused()) this.socket.resume();
        else this.socket.resume();
        result.status = parser.status;
        result.headers = parser.headers;
        result.body = parser.body;
        if (error) {
          result.error = error;
          result.errorMessage = message;
        } else {
          result.ok = true;
          result.doneNs = nowNs().toString();
          this.served++;
        }
        this.history?.add('client', 'http-done', {
          conn: this.id,
          label,
          ok: result.ok,
          status: result.status,
          error: result.error,
          connection: result.headers.connection,
          bytes: result.body.length,
          reused,
        });
        resolve(result);
      };
      const timer = setTimeout(
        () => settle('timeout', `no complete response in ${opts.timeoutMs ?? 10_000} ms`),
        opts.timeoutMs ?? 10_000,
      );
      if (this.ended) {
        settle(this.ended === 'rst' ? 'reset' : 'early-eof', 'the connection was already closed');
        return;
      }
      this.active = (ev, arg) => {
        if (ev === 'data') {
          const { headersJustDone } = parser.push(arg as Buffer);
          if (headersJustDone) {
            result.headersNs = nowNs().toString();
            result.status = parser.status;
            result.headers = parser.headers;
            this.history?.add('client', 'http-headers', {
              conn: this.id,
              label,
              status: parser.status,
              connection: parser.headers.connection,
            });
            opts.onHeaders?.(result);
          }
          if (parser.done) settle();
        } else if (ev === 'end' || ev === 'close') {
          if (ev === 'close' && this.ended === 'local') {
            settle('other', 'the connection was closed locally');
            return;
          }
          if (ev === 'close' && this.ended === 'rst') {
            settle('reset', 'the connection was reset');
            return;
          }
          parser.onEnd();
          if (parser.done) settle();
          else
            settle(
              'early-eof',
              parser.gotHeaders ? 'connection closed mid-body' : 'connection closed before a response',
            );
        } else {
          const err = arg as NodeJS.ErrnoException;
          settle(errorKind(err), err.code ?? err.message);
        }
      };
      const headers: Record<string, string> = { host: `127.0.0.1:${this.port}`, ...opts.headers };
      const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
      const len = opts.slowBody?.total ?? body?.length;
      if (len !== undefined) headers['content-length'] = String(len);
      const head = `${method} ${opts.path} HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`;
      this.socket.write(head);
      if (body) this.socket.write(body);
      if (opts.slowBody) {
        const { total, chunk, intervalMs } = opts.slowBody;
        let sent = 0;
        pacer = setInterval(() => {
          if (settled || this.ended) return;
          const n = Math.min(chunk, total - sent);
          this.socket.write(Buffer.alloc(n, 0x61 + (sent % 26)));
          sent += n;
          if (sent >= total && pacer) clearInterval(pacer);
        }, intervalMs);
      }
      if (opts.slowRead) {
        this.socket.pause();
        reader = setInterval(() => {
          this.socket.resume();
          setImmediate(() => {
            if (!settled) this.socket.pause();
          });
        }, opts.slowRead.intervalMs);
      }
    });
  }
}

/** Whether request headers ask the server to close the connection after its response. */
export function requestAsksClose(headers: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === 'connection' && v.split(',').some((t) => t.trim().toLowerCase() === 'close')) return true;
  }
  return false;
}

/** One request on a fresh connection with `Connection: close`. Connect failures come back as results. */
export async function request(
  port: number,
  opts: RequestOptions & { history?: History; host?: string },
): Promise<HttpResult> {
  let conn: HttpConnection;
  try {
    conn = await HttpConnection.open(port, { history: opts.history, label: opts.label, host: opts.host });
  } catch (e) {
    const err = e as Error & { kind?: ErrorKind };
    return {
      label: opts.label ?? opts.path,
      ok: false,
      headers: {},
      body: Buffer.alloc(0),
      error: err.kind ?? 'other',
      errorMessage: err.message,
      sentNs: nowNs().toString(),
      connId: -1,
      reused: false,
      askedClose: requestAsksClose({ connection: 'close', ...opts.headers }),
    };
  }
  try {
    return await conn.request({ ...opts, headers: { connection: 'close', ...opts.headers } });
  } finally {
    conn.close();
  }
}

/** Expected body of GET /download?bytes=N (subject-protocol.md section 9). */
export function downloadPattern(n: number): Buffer {
  const pat = Buffer.from('0123456789abcdef');
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = pat[i % 16]!;
  return out;
}
