import { defineCase } from '../case.js';
import { request } from '../clients/http.js';
import { makeCert, tlsNotApplicable } from '../clients/tls.js';
import { notes, unknown, verdict } from '../grade/index.js';
import { nowNs } from '../history.js';
import type { Subject } from '../launch/index.js';
import { tlsHandshake } from '../workload.js';

/** The certificate a new handshake gets (the connection is closed again). */
async function newHandshakeCn(port: number, what: string): Promise<string> {
  const { conn } = await tlsHandshake(port, 'RELOAD.TLS_NEW_HANDSHAKES', what);
  conn.socket.destroy();
  return conn.cn;
}

/** `POST /cert` with the pair's paths; the status, or 0 when no answer came. */
async function postCert(s: Subject, pair: { cert: string; key: string }, label: string, ms: number) {
  const r = await request(s.ports.http!, {
    method: 'POST',
    path: '/cert',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(pair),
    label,
    timeoutMs: ms,
  });
  return { status: r.status ?? 0, body: r.body.toString().slice(0, 300) };
}

/**
 * Spec: "Any part of the subject (application code, another thread, the control channel) MUST be able
 * to request ... reload ... without sending an OS signal. Such a request MUST have exactly the effect
 * that the signal mapped to the same action has, and MUST be reported on the probe as a request event
 * with its source" (BUS.APP_REQUESTS, E25), and "a reloaded certificate serves new handshakes only;
 * existing connections keep theirs; the old pair stays when the new one is invalid"
 * (RELOAD.TLS_NEW_HANDSHAKES, E23). The thread is asked through `POST /cert` (subject protocol
 * section 9); no signal is sent in this case.
 */
export default defineCase({
  id: 'reload.thread-certificate',
  title: 'A certificate reload asked for by a thread, without a signal: new handshakes only',
  description:
    'Serve certificate gen-a and open a keep-alive TLS connection. POST /cert with a mismatched pair: 422, nothing changes. POST /cert with gen-b: a thread checks the pair and asks the bus for a reload (probe request {action: reload, source: thread}, then reload-done). The old connection keeps gen-a and still serves; a new handshake gets gen-b. No signal is sent.',
  requirements: ['RELOAD.TLS_NEW_HANDSHAKES', 'BUS.APP_REQUESTS'],
  edgeCases: ['E23', 'E25'],
  applies: {
    platforms: ['linux', 'darwin'],
    capabilities: ['threadReload', 'tls', 'probe'],
    needs: ['cert', 'live'],
  },
  notApplicable: tlsNotApplicable,
  timeout: 'short',
  async run(ctx) {
    const a = makeCert(ctx.runDir, 'gen-a');
    const b = makeCert(ctx.runDir, 'gen-b');
    const s = await ctx.launch({ config: { generation: 1, tls: a } });
    const tlsPort = s.ports.tls!;
    const { conn: old, status: before } = await tlsHandshake(
      tlsPort,
      'RELOAD.TLS_NEW_HANDSHAKES',
      'before any certificate change (gen-a)',
      '/live',
    );
    // a server that closes its connections after each response leaves no old connection to judge
    const beforeCloses = old.serverCloses;

    // An invalid pair: rejected by the thread, no reload asked for, the pair in use stays.
    const tBad = nowNs();
    const bad = await postCert(s, { cert: a.cert, key: b.key }, 'cert-mismatched', ctx.ms(10_000));
    const cnAfterBad = await newHandshakeCn(tlsPort, 'after a mismatched pair was refused');

    const t = nowNs();
    const good = await postCert(s, b, 'cert-gen-b', ctx.ms(10_000));
    let requested: string | null = null;
    let done: string | null = null;
    try {
      const req = await s.waitProbe(
        (e) => e.ev === 'request' && e.action === 'reload' && e.source === 'thread' && BigInt(e.t) >= t,
        ctx.ms(5000),
        'the thread reload request',
      );
      requested = req.t;
      const rd = await s.waitProbe(
        (e) => (e.ev === 'reload-done' || e.ev === 'reload-failed') && BigInt(e.t) >= BigInt(req.t),
        ctx.ms(5000),
        'the end of the reload',
      );
      done = rd.ev === 'reload-done' ? rd.t : null;
    } catch (e) {
      ctx.note('wait-failed', { error: (e as Error).message });
    }
    const oldAfter = await old.get('/live').catch((e: Error) => `error ${e.message}`);
    const newCn = await newHandshakeCn(tlsPort, 'after the thread installed gen-b');
    const between = s.probeEvents.filter(
      (e) => e.ev === 'request' && e.action === 'reload' && BigInt(e.t) >= tBad && BigInt(e.t) < t,
    ).length;
    ctx.note('tls', {
      oldCn: old.cn,
      before,
      beforeCloses,
      badStatus: bad.status,
      badBody: bad.body,
      reloadsAfterBad: between,
      cnAfterBad,
      goodStatus: good.status,
      goodBody: good.body,
      requested,
      done,
      oldAfter,
      oldCnAfter: String(old.socket.getPeerCertificate()?.subject?.CN ?? ''),
      newCn,
      signalsSent: ctx.history.events.filter((e) => e.source === 'harness' && e.kind === 'signal-sent').length,
    });
    old.socket.destroy();
  },
  grade({ events }) {
    const n = notes(events, 'tls')[0];
    const tlsOk =
      n !== undefined &&
      n.oldCn === 'gen-a' &&
      /200/.test(String(n.before)) &&
      /200/.test(String(n.oldAfter)) &&
      n.oldCnAfter === 'gen-a' &&
      n.newCn === 'gen-b' &&
      n.badStatus === 422 &&
      n.cnAfterBad === 'gen-a' &&
      n.reloadsAfterBad === 0;
    const busOk =
      n !== undefined && n.goodStatus === 202 && n.requested !== null && n.done !== null && n.signalsSent === 0;
    const tlsDetail =
      'a mismatched pair is refused (422) and gen-a stays; after the thread-asked reload the connection opened before keeps gen-a and still serves, and a new handshake gets gen-b';
    const tlsActual = n
      ? `mismatched pair: ${String(n.badStatus)}, new handshake then: ${String(n.cnAfterBad)}; old connection: ${String(n.oldCn)} → ${String(n.oldAfter)} (${String(n.oldCnAfter)}); new handshake: ${String(n.newCn)}`
      : 'no observation';
    // no keep-alive: the old connection was closed by the server's own choice, before the reload
    const oldUnjudged =
      n?.beforeCloses === true &&
      n.newCn === 'gen-b' &&
      n.badStatus === 422 &&
      n.cnAfterBad === 'gen-a' &&
      n.reloadsAfterBad === 0;
    return [
      oldUnjudged
        ? unknown(
            'RELOAD.TLS_NEW_HANDSHAKES',
            tlsDetail,
            `${tlsActual}; the server closes every connection after its response (Connection: close), so no connection outlives the reload to be judged`,
          )
        : verdict('RELOAD.TLS_NEW_HANDSHAKES', tlsOk, tlsDetail, tlsActual),
      verdict(
        'BUS.APP_REQUESTS',
        busOk,
        'POST /cert is accepted (202); a thread asks the bus for a reload, reported as request {action: reload, source: thread}, and the reload completes (reload-done) with no signal sent',
        n
          ? `POST /cert: ${String(n.goodStatus)} ${String(n.goodBody)}; request from thread: ${n.requested ? 'seen' : 'missing'}; reload-done: ${n.done ? 'seen' : 'missing'}; signals sent: ${String(n.signalsSent)}; reload requests after the mismatched pair: ${String(n.reloadsAfterBad)}`
          : 'no observation',
      ),
    ];
  },
});
