import { execFileSync } from 'node:child_process';
import path from 'node:path';
import tls from 'node:tls';
import { defineCase, signalFor } from '../case.js';
import { notes, verdict } from '../checkers/common.js';
import { waitAck } from '../workload.js';

function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, `${cn}.crt`);
  const key = path.join(dir, `${cn}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { cert, key };
}

interface TlsConn {
  socket: tls.TLSSocket;
  cn: string;
  get(path: string): Promise<string>;
}

function connect(port: number): Promise<TlsConn> {
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

/**
 * Spec: "a reloaded certificate serves new handshakes only; existing connections keep theirs"
 * (E23). Two self-signed certificates (openssl), a keep-alive TLS connection opened before the
 * reload, a new one after it.
 */
export default defineCase({
  id: 'reload.tls-certificate',
  title: 'A reloaded certificate is served to new handshakes; existing TLS connections keep working',
  description:
    'Serve certificate gen-a, open a keep-alive TLS connection, write a configuration naming certificate gen-b and reload. The old connection must still serve requests; a new handshake must present gen-b.',
  requirements: ['RELOAD.TLS_NEW_HANDSHAKES'],
  edgeCases: ['E23'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['reload'],
    capabilities: ['tls', 'probe', 'conformanceEndpoints'],
  },
  notApplicable: (m) => {
    if (!m.ports.includes('tls')) return 'the manifest declares no tls port';
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return null;
    } catch {
      return 'openssl is not installed (needed to make test certificates)';
    }
  },
  timeout: 'short',
  async run(ctx) {
    const a = makeCert(ctx.runDir, 'gen-a');
    const b = makeCert(ctx.runDir, 'gen-b');
    const s = await ctx.launch({ config: { generation: 1, tls: a } });
    const old = await connect(s.ports.tls!);
    const before = await old.get('/live');
    s.writeConfig({ generation: 2, tls: b });
    const sig = signalFor(ctx.manifest, 'reload')!;
    const t = s.signal(sig);
    await waitAck(ctx, s, sig, t, 2000);
    await s.waitProbe((e) => e.ev === 'reload-done' && e.generation === 2, ctx.ms(3000), 'reload to generation 2');
    const oldAfter = await old.get('/live').catch((e: Error) => `error ${e.message}`);
    const fresh = await connect(s.ports.tls!);
    ctx.note('tls', {
      oldCn: old.cn,
      before,
      oldAfter,
      oldCnAfter: String(old.socket.getPeerCertificate().subject?.CN ?? ''),
      newCn: fresh.cn,
    });
    old.socket.destroy();
    fresh.socket.destroy();
  },
  grade({ events }) {
    const n = notes(events, 'tls')[0];
    const ok =
      n?.oldCn === 'gen-a' && /200/.test(String(n.oldAfter)) && n.oldCnAfter === 'gen-a' && n.newCn === 'gen-b';
    return [
      verdict(
        'RELOAD.TLS_NEW_HANDSHAKES',
        ok,
        'the connection opened before the reload keeps gen-a and still serves; a new handshake gets gen-b',
        n
          ? `old connection: ${String(n.oldCn)} → after reload ${String(n.oldAfter)} (${String(n.oldCnAfter)}); new handshake: ${String(n.newCn)}`
          : 'no observation',
      ),
    ];
  },
});
