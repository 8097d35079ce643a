/**
 * Test helper: a raw HTTP/1.1 connection, so a test sees exactly what the server sends (headers
 * as written, keep-alive reuse, and whether the connection ended with FIN or RST).
 */
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
}

export interface Response extends ResponseHead {
  body: Buffer;
}

export type Ending = 'fin' | 'reset' | 'error';

export class RawConnection {
  private buf = Buffer.alloc(0);
  private wakers: Array<() => void> = [];
  /** How the server ended the connection: FIN ('end' event) or RST (ECONNRESET). */
  readonly ended: Promise<Ending>;
  endedAs: Ending | undefined;

  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        this.buf = Buffer.concat([this.buf, chunk]);
        this.wake();
      });
      socket.on('end', () => {
        this.endedAs ??= 'fin';
        this.wake();
        resolve(this.endedAs);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        this.endedAs ??= err.code === 'ECONNRESET' ? 'reset' : 'error';
        this.wake();
        resolve(this.endedAs);
      });
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** A TLS connection (any certificate accepted: the tests inspect it instead). */
  static openTls(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ port, host, rejectUnauthorized: false });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** The certificate subject CN the server presented (TLS connections only). */
  peerCommonName(): string | undefined {
    const cn = (this.socket as TLSSocket).getPeerCertificate?.()?.subject?.CN;
    return Array.isArray(cn) ? cn[0] : cn;
  }

  /** Writes a request head (and optional body start). `Host` is added. */
  send(method: string, path: string, headers: Record<string, string | number> = {}, body?: Buffer | string): void {
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (body !== undefined) this.socket.write(body);
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Waits for a response head. */
  async head(timeoutMs = 10_000): Promise<ResponseHead> {
    const end = await this.until(() => {
      const i = this.buf.indexOf('\r\n\r\n');
      return i >= 0 ? i : undefined;
    }, timeoutMs);
    return parseHead(this.buf.subarray(0, end).toString('latin1'));
  }

  /** Waits for a whole response (Content-Length framing) and consumes it from the buffer. */
  async response(timeoutMs = 10_000): Promise<Response> {
    const head = await this.head(timeoutMs);
    const start = this.buf.indexOf('\r\n\r\n') + 4;
    const length = Number(head.headers['content-length'] ?? 0);
    await this.until(() => (this.buf.length >= start + length ? true : undefined), timeoutMs);
    const body = Buffer.from(this.buf.subarray(start, start + length));
    this.buf = this.buf.subarray(start + length);
    return { ...head, body };
  }

  close(): void {
    this.socket.destroy();
  }

  private until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = probe();
        if (v !== undefined) {
          resolve(v);
          return true;
        }
        if (this.endedAs !== undefined) {
          reject(new Error(`connection ended (${this.endedAs}) with ${this.buf.length} unparsed bytes`));
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.wakers = this.wakers.filter((w) => w !== waker);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`,
          ),
        );
      }, timeoutMs);
      const waker = () => {
        if (check()) {
          clearTimeout(timer);
          this.wakers = this.wakers.filter((w) => w !== waker);
        }
      };
      this.wakers.push(waker);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

function parseHead(text: string): ResponseHead {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

/** One request on a fresh connection; returns the response (the connection is then closed). */
export async function request(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string | number>; body?: Buffer | string; timeoutMs?: number } = {},
): Promise<Response> {
  const conn = await RawConnection.open(port);
  try {
    const headers = { ...opts.headers };
    if (opts.body !== undefined) headers['Content-Length'] = Buffer.byteLength(opts.body);
    conn.send(method, path, headers, opts.body);
    return await conn.response(opts.timeoutMs);
  } finally {
    conn.close();
  }
}

/** Tries a TCP connect: `refused` (ECONNREFUSED), `connected` (then closed again), or `reset`. */
export function connectOutcome(port: number, host = '127.0.0.1'): Promise<'refused' | 'connected' | 'reset'> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'reset');
    });
  });
}
