/**
 * Every client wait settles: on a response, an error, the server's FIN, a close, or its own deadline.
 * Each test is a hostile loopback server in this process (never answers, half-closes, closes an idle
 * keep-alive connection, never answers the TLS handshake). The assertions name *how* the wait ended, so a
 * client that only settled at its deadline (or never) fails them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SubjectFaultError } from '../../harness/src/case.js';
import { durablePut } from '../../harness/src/clients/durable.js';
import { openFifoWriter, writeFifoLine } from '../../harness/src/clients/fifo.js';
import { HttpConnection, request } from '../../harness/src/clients/http.js';
import { connectProbe } from '../../harness/src/clients/probe-connect.js';
import { connectTls, makeCert, openSslAvailable, tlsNotApplicable } from '../../harness/src/clients/tls.js';
import { History } from '../../harness/src/history.js';
import { tlsHandshake } from '../../harness/src/workload.js';

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok';

let dir: string;
const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();

/** A loopback TCP server whose connections `onConn` drives; closed (with every socket) after each test. */
async function serve(onConn: (s: net.Socket) => void, make?: (l: (s: net.Socket) => void) => net.Server) {
  const listener = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  };
  const server = make ? make(listener) : net.createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** Resolves with the first complete request head on `s` (each call: the next one). */
function onRequest(s: net.Socket, handler: (n: number) => void): void {
  let buf = '';
  let n = 0;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
      buf = buf.slice(i + 4);
      handler(n++);
    }
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sigcert-clients-'));
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('http client', () => {
  it('a server that never answers: the request ends at its deadline as a timeout', async () => {
    const port = await serve(() => undefined);
    const r = await request(port, { path: '/', timeoutMs: 300 });
    expect(r.error).toBe('timeout');
  });

  it('a server that half-closes after the request: early-eof, not a timeout', async () => {
    const port = await serve((s) => onRequest(s, () => s.end()));
    const r = await request(port, { path: '/', timeoutMs: 10_000 });
    expect(r.error).toBe('early-eof');
  });

  it('a server that closes mid-keep-alive: the next request settles at once', async () => {
    const port = await serve((s) =>
      onRequest(s, (n) => {
        if (n === 0) s.write(OK);
        else s.destroy(); // the second request: dropped
      }),
    );
    const c = await HttpConnection.open(port);
    try {
      expect((await c.request({ path: '/a', timeoutMs: 10_000 })).status).toBe(200);
      const second = await c.request({ path: '/b', timeoutMs: 10_000 });
      expect(['early-eof', 'reset']).toContain(second.error);
    } finally {
      c.close();
    }
  });

  it('a server that closes an idle keep-alive connection: the next request settles at once', async () => {
    const port = await serve((s) => onRequest(s, () => s.end(OK)));
    const c = await HttpConnection.open(port);
    try {
      expect((await c.request({ path: '/a', timeoutMs: 10_000 })).status).toBe(200);
      expect(await c.waitClosed(5_000)).toBe('fin');
      const r = await c.request({ path: '/b', timeoutMs: 10_000 });
      expect(r.error).toBe('early-eof');
    } finally {
      c.close();
    }
  });

  it('closing the connection locally settles a request waiting on it', async () => {
    const port = await serve(() => undefined);
    const c = await HttpConnection.open(port);
    const pending = c.request({ path: '/', timeoutMs: 30_000 });
    c.close();
    const r = await pending;
    expect(r.error).toBe('other');
    expect(r.errorMessage).toBe('the connection was closed locally');
  });

  it('a result says whether its request asked for Connection: close (such a response proves nothing of a stop)', async () => {
    const heads: string[] = [];
    const port = await serve((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
          heads.push(buf.slice(0, i).toLowerCase());
          buf = buf.slice(i + 4);
          s.write(OK);
        }
      });
    });
    const closing = await request(port, { path: '/', timeoutMs: 10_000 });
    expect(closing.askedClose).toBe(true);
    const c = await HttpConnection.open(port);
    const keep = await c.request({ path: '/', headers: { Connection: 'keep-alive' }, timeoutMs: 10_000 });
    const listed = await c.request({ path: '/', headers: { connection: 'Upgrade, Close' }, timeoutMs: 10_000 });
    c.close();
    expect([keep.ok, keep.askedClose, listed.askedClose]).toEqual([true, false, true]);
    // what the flag says is what went on the wire
    expect(heads.map((h) => h.includes('connection: close'))).toEqual([true, false, false]);
    expect(heads[2]).toContain('connection: upgrade, close');
  });

  it('a close-delimited body is complete at FIN', async () => {
    const port = await serve((s) => onRequest(s, () => s.end('HTTP/1.1 200 OK\r\n\r\nall of it')));
    const r = await request(port, { path: '/', timeoutMs: 10_000 });
    expect(r.ok).toBe(true);
    expect(r.body.toString()).toBe('all of it');
  });
});

describe('probe-connect and durable clients', () => {
  it('connect probe: half-close is eof, silence is a timeout, nothing listening is refused', async () => {
    const halfClose = await serve((s) => onRequest(s, () => s.end()));
    expect((await connectProbe(halfClose, { timeoutMs: 10_000 })).outcome).toBe('eof');
    const silent = await serve(() => undefined);
    expect((await connectProbe(silent, { timeoutMs: 300 })).outcome).toBe('timeout');
    const closed = await serve(() => undefined);
    await new Promise((r) => servers.pop()?.close(r));
    expect((await connectProbe(closed, { timeoutMs: 1000 })).outcome).toBe('refused');
  });

  it('a durable write whose connection is reset is indeterminate (info), at once', async () => {
    const port = await serve((s) =>
      onRequest(s, () => {
        s.resetAndDestroy();
      }),
    );
    const h = new History();
    expect(await durablePut(port, 'k', 'v', h)).toBe('info');
    expect(h.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['kv-invoke', 'kv-info']));
    expect(h.events.find((e) => e.kind === 'kv-info')?.data.error).toBe('reset');
  });
});

describe.skipIf(process.platform === 'win32')('fifo client', () => {
  it('no reader: the open gives up at its deadline; no hang', async () => {
    const { execFileSync } = await import('node:child_process');
    const fifo = join(dir, 'f1');
    execFileSync('mkfifo', [fifo]);
    expect(await openFifoWriter(fifo, 100)).toBeNull();
    expect(await writeFifoLine(fifo, 'x', undefined, 100)).toBe(false);
  });
});

describe.skipIf(!openSslAvailable())('tls client', () => {
  let cert: { cert: string; key: string };
  beforeAll(() => {
    cert = makeCert(dir, 'hostile');
  });
  const tlsServer = (onConn: (s: net.Socket) => void) =>
    serve(onConn, (l) =>
      tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, l as (s: tls.TLSSocket) => void),
    );

  it('tlsNotApplicable: a manifest without a tls port is not applicable; with one (and openssl) it is', () => {
    expect(tlsNotApplicable({ ports: ['http', 'admin'] })).toBe('the manifest declares no tls port');
    expect(tlsNotApplicable({ ports: ['http', 'tls'] })).toBeNull();
  });

  it('a server that never answers the handshake: connect rejects at its deadline', async () => {
    const port = await serve(() => undefined); // plain TCP: accepts, reads the ClientHello, says nothing
    await expect(connectTls(port, 300)).rejects.toThrow(`TLS connect to ${port}: no handshake within 300 ms`);
  });

  it('a server that closes during the handshake: connect rejects at once', async () => {
    const port = await serve((s) => s.once('data', () => s.end()));
    await expect(connectTls(port, 10_000)).rejects.toThrow(`TLS connect to ${port}:`);
  });

  it('a server that closes an idle keep-alive connection: the next GET rejects at once (was a hang)', async () => {
    const port = await tlsServer((s) =>
      onRequest(s, (n) => {
        if (n === 0) s.end(OK); // answers, then closes the idle connection (a keepAliveTimeout)
      }),
    );
    const c = await connectTls(port, 10_000);
    try {
      expect(c.cn).toBe('hostile');
      expect(await c.get('/a', 10_000)).toBe('HTTP/1.1 200 OK');
      await new Promise<void>((r) => (c.socket.destroyed ? r() : c.socket.once('close', () => r())));
      await expect(c.get('/b', 10_000)).rejects.toThrow('GET /b: the connection was already closed');
    } finally {
      c.socket.destroy();
    }
  });

  it('serverCloses: says whether the last response announced the close of its connection', async () => {
    const CLOSE = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: Close\r\n\r\nok';
    const port = await tlsServer((s) => onRequest(s, (n) => s.write(n === 0 ? OK : CLOSE)));
    const c = await connectTls(port, 10_000);
    try {
      expect(c.serverCloses).toBe(false);
      await c.get('/a', 10_000);
      expect(c.serverCloses).toBe(false); // keep-alive
      await c.get('/b', 10_000);
      expect(c.serverCloses).toBe(true);
    } finally {
      c.socket.destroy();
    }
  });

  it('a server that closes mid-keep-alive, while a GET waits: it rejects at once (was a hang)', async () => {
    const port = await tlsServer((s) =>
      onRequest(s, (n) => {
        if (n === 0) s.write(OK);
        else s.end(); // the second request: no response, FIN
      }),
    );
    const c = await connectTls(port, 10_000);
    try {
      expect(await c.get('/a', 10_000)).toBe('HTTP/1.1 200 OK');
      await expect(c.get('/b', 10_000)).rejects.toThrow(
        /GET \/b: the server (ended|closed) the connection before a response/,
      );
    } finally {
      c.socket.destroy();
    }
  });

  it("tlsHandshake: a handshake or a first GET the subject fails is the subject's fault, under the requirement given", async () => {
    const closes = await serve((s) => s.once('data', () => s.end()));
    const err = await tlsHandshake(closes, 'RELOAD.TLS_NEW_HANDSHAKES', 'before the reload').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubjectFaultError);
    expect(err).toMatchObject({ requirement: 'RELOAD.TLS_NEW_HANDSHAKES' });
    expect((err as Error).message).toMatch(
      new RegExp(`^failed the TLS handshake before the reload: TLS connect to ${closes}:`),
    );
    const silent = await tlsServer((s) => onRequest(s, () => s.end()));
    const noAnswer = await tlsHandshake(silent, 'RELOAD.TLS_NEW_HANDSHAKES', 'at start', '/live').catch(
      (e: unknown) => e,
    );
    expect((noAnswer as Error).message).toMatch(/^did not answer GET \/live over TLS at start: GET \/live:/);
    const good = await tlsServer((s) => onRequest(s, () => s.write(OK)));
    const { conn, status } = await tlsHandshake(good, 'RELOAD.TLS_NEW_HANDSHAKES', 'at start', '/live');
    conn.socket.destroy();
    expect([conn.cn, status]).toEqual(['hostile', 'HTTP/1.1 200 OK']);
  });

  it('a server that never answers a GET: it rejects at its deadline', async () => {
    const port = await tlsServer(() => undefined);
    const c = await connectTls(port, 10_000);
    try {
      await expect(c.get('/a', 300)).rejects.toThrow('GET /a: no complete response within 300 ms');
    } finally {
      c.socket.destroy();
    }
  });
});
