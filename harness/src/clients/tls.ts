/**
 * TLS helpers for the certificate-reload cases: a throw-away self-signed certificate (openssl), and
 * a keep-alive TLS connection that reports which certificate it got and can send GETs on itself.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import tls from 'node:tls';

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
  /** GET on this connection; resolves with the status line */
  get(path: string): Promise<string>;
}

export function connectTls(port: number): Promise<TlsConn> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const cn = String(socket.getPeerCertificate().subject?.CN ?? '');
      resolve({
        socket,
        cn,
        get: (p) =>
          new Promise((res, rej) => {
            let buf = '';
            const onData = (d: Buffer) => {
              buf += d.toString('latin1');
              const head = buf.indexOf('\r\n\r\n');
              const len = /content-length:\s*(\d+)/i.exec(buf)?.[1];
              if (head >= 0 && len !== undefined && buf.length >= head + 4 + Number(len)) {
                socket.off('data', onData);
                res(buf.slice(0, buf.indexOf('\r\n')));
              }
            };
            socket.on('data', onData);
            socket.once('error', rej);
            socket.write(`GET ${p} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
          }),
      });
    });
    socket.once('error', reject);
  });
}
