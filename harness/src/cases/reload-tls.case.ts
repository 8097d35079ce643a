import { defineCase, signalFor } from '../case.js';
import { makeCert, tlsNotApplicable } from '../clients/tls.js';
import { notes, unknown, verdict } from '../grade/index.js';
import { tlsHandshake, waitAck } from '../workload.js';

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
    capabilities: ['tls', 'probe'],
    needs: ['live'],
  },
  notApplicable: tlsNotApplicable,
  timeout: 'short',
  async run(ctx) {
    const a = makeCert(ctx.runDir, 'gen-a');
    const b = makeCert(ctx.runDir, 'gen-b');
    const s = await ctx.launch({ config: { generation: 1, tls: a } });
    const { conn: old, status: before } = await tlsHandshake(
      s.ports.tls!,
      'RELOAD.TLS_NEW_HANDSHAKES',
      'before the reload (certificate gen-a)',
      '/live',
    );
    // a server that closes its connections after each response leaves no old connection to judge
    const beforeCloses = old.serverCloses;
    s.writeConfig({ generation: 2, tls: b });
    const sig = signalFor(ctx.manifest, 'reload')!;
    const t = s.signal(sig);
    await waitAck(ctx, s, sig, t, 2000);
    await s.waitProbe((e) => e.ev === 'reload-done' && e.generation === 2, ctx.ms(3000), 'reload to generation 2');
    const oldAfter = await old.get('/live').catch((e: Error) => `error ${e.message}`);
    const { conn: fresh } = await tlsHandshake(s.ports.tls!, 'RELOAD.TLS_NEW_HANDSHAKES', 'after the reload (gen-b)');
    ctx.note('tls', {
      oldCn: old.cn,
      before,
      beforeCloses,
      oldAfter,
      oldCnAfter: String(old.socket.getPeerCertificate()?.subject?.CN ?? ''),
      newCn: fresh.cn,
    });
    old.socket.destroy();
    fresh.socket.destroy();
  },
  grade({ events }) {
    const n = notes(events, 'tls')[0];
    const ok =
      n?.oldCn === 'gen-a' && /200/.test(String(n.oldAfter)) && n.oldCnAfter === 'gen-a' && n.newCn === 'gen-b';
    const detail = 'the connection opened before the reload keeps gen-a and still serves; a new handshake gets gen-b';
    const actual = n
      ? `old connection: ${String(n.oldCn)} → after reload ${String(n.oldAfter)} (${String(n.oldCnAfter)}); new handshake: ${String(n.newCn)}`
      : 'no observation';
    // no keep-alive: the old connection was closed by the server's own choice before the reload
    if (n?.beforeCloses === true && n.newCn === 'gen-b') {
      return [
        unknown(
          'RELOAD.TLS_NEW_HANDSHAKES',
          detail,
          `${actual}; the server closes every connection after its response (Connection: close), so no connection outlives the reload to be judged`,
        ),
      ];
    }
    return [verdict('RELOAD.TLS_NEW_HANDSHAKES', ok, detail, actual)];
  },
});
