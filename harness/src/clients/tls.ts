/**
 * TLS helpers for the certificate-reload cases: a throw-away self-signed certificate (openssl), and
 * a keep-alive TLS connection that reports which certificate it got and can send GETs on itself.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import tls from 'node:tls';

/**
 * Why a certificate case cannot run against `m`: no `tls` port declared, or no openssl to make its test
 * certificates; null when it can.
 */
export function tlsNotApplicable(m: { ports: readonly string[] }): string | null {
  if (!m.ports.includes('tls')) return 'the manifest declares no tls port';
  return openSslAvailable() ? null : 'openssl is not installed (needed to make test certificates)';
}

export function openSslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate and key for CN `cn`, written to `dir`. */
export function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, `${cn}.crt`);
  const key = path.join(dir, `${cn}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { cert, key };
}

export interface TlsConn {
  socket: tls.TLSSocket;
  /** the CN of the certificate this connection's handshake got */
  cn: string;
  /**
   * GET on this connection; resolves with the status line once the whole response arrived. Rejects
   * (one-line message) when the server resets, ends or closes the connection first, or after `timeoutMs`.
   */
  get(path: string, timeoutMs?: number): Promise<string>;
  /**
   * Whether the last complete response said the server closes the connection after it (`Connection:
   * close`, HTTP/1.0, or a close-delimited body): a server that keeps no connection alive.
   */
  readonly serverCloses: boolean;
}

/** Default deadline of a handshake and of one GET. */
export const TLS_TIMEOUT_MS = 5_000;

/** Is the response in `buf` complete? Content-Length, chunked, or no body (HEAD-less GET: 204/304). */
function responseComplete(
  buf: Buffer,
): { status: string; complete: boolean; closeDelimited: boolean; closes: boolean } | null {
  const r = parseResponse(buf);
  if (r === null) return null;
  const closes =
    r.closeDelimited || /\r\nconnection:[^\r]*\bclose\b/i.test(r.headText) || /^HTTP\/1\.0 /.test(r.status);
  return { status: r.status, complete: r.complete, closeDelimited: r.closeDelimited, closes };
}

function parseResponse(
  buf: Buffer,
): { status: string; headText: string; complete: boolean; closeDelimited: boolean } | null {
  const head = buf.indexOf('\r\n\r\n');
  if (head < 0) return null;
  const headText = buf.subarray(0, head).toString('latin1');
  const status = headText.slice(0, headText.indexOf('\r\n') < 0 ? undefined : headText.indexOf('\r\n'));
  const body = buf.length - (head + 4);
  if (/^HTTP\/1\.[01] (204|304)/.test(status)) return { status, headText, complete: true, closeDelimited: false };
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1];
  if (len !== undefined) return { status, headText, complete: body >= Number(len), closeDelimited: false };
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(headText)) {
    return {
      status,
      headText,
      complete: buf.subarray(head + 4).includes('\r\n0\r\n\r\n') || buf.subarray(head + 4).indexOf('0\r\n\r\n') === 0,
      closeDelimited: false,
    };
  }
  return { status, headText, complete: false, closeDelimited: true };
}

function tlsGet(
  socket: tls.TLSSocket,
  p: string,
  timeoutMs: number,
  onCloses?: (closes: boolean) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null, line?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const r = responseComplete(buf);
      if (r?.complete) {
        onCloses?.(r.closes);
        finish(null, r.status);
      }
    };
    const ended = (how: string) => {
      const r = responseComplete(buf);
      if (r?.closeDelimited) {
        onCloses?.(true);
        finish(null, r.status); // a close-delimited body ends with the connection
      } else
        finish(
          new Error(`GET ${p}: the server ${how} the connection ${r === null ? 'before a response' : 'mid-response'}`),
        );
    };
    const onEnd = () => ended('ended');
    const onClose = () => ended('closed');
    const onError = (e: NodeJS.ErrnoException) => finish(new Error(`GET ${p}: ${e.code ?? e.message}`));
    const timer = setTimeout(
      () => finish(new Error(`GET ${p}: no complete response within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (socket.destroyed || socket.readableEnded || !socket.writable) {
      finish(new Error(`GET ${p}: the connection was already closed`));
      return;
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.write(`GET ${p} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
  });
}

/**
 * A keep-alive TLS connection. Rejects when the handshake fails, the server closes first, or it does not
 * complete within `timeoutMs` (a server that accepts and never answers the ClientHello).
 */
export function connectTls(port: number, timeoutMs = TLS_TIMEOUT_MS): Promise<TlsConn> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('close', onClose);
      // null when the socket is already gone (a server that closed right after the handshake)
      const cn = String(socket.getPeerCertificate()?.subject?.CN ?? '');
      const conn = {
        socket,
        cn,
        serverCloses: false,
        get: (p: string, ms = TLS_TIMEOUT_MS) =>
          tlsGet(socket, p, ms, (closes) => {
            conn.serverCloses = closes;
          }),
      };
      resolve(conn);
    });
    // kept for the socket's whole life: an error between two GETs must not become an uncaught exception
    socket.on('error', (e: NodeJS.ErrnoException) => fail(new Error(`TLS connect to ${port}: ${e.code ?? e.message}`)));
    const onClose = () => fail(new Error(`TLS connect to ${port}: closed before the handshake completed`));
    socket.once('close', onClose);
    const timer = setTimeout(
      () => fail(new Error(`TLS connect to ${port}: no handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
}
