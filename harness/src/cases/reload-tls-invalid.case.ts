import { join } from 'node:path';
import { type CaseContext, defineCase, signalFor } from '../case.js';
import { connectTls, makeCert, tlsNotApplicable } from '../clients/tls.js';
import { describeExit, exitOf, notes, verdict } from '../grade/index.js';
import type { Subject } from '../launch/index.js';
import { http, waitAck } from '../workload.js';

/** The generation of the valid reload at the end. */
const VALID_GENERATION = 9;

/**
 * Spec: "a reload MUST read and validate the whole new configuration (and any file it names, such as a
 * certificate) before it changes anything ... if the new configuration is invalid, the subject MUST keep
 * serving with the previous configuration" (RELOAD.VALIDATE_SWAP, E19), and a subject "SHOULD keep the
 * old pair (and report the failure) when the new one is invalid" (RELOAD.TLS_NEW_HANDSHAKES, E23).
 *
 * `reload.tls-certificate` reloads a valid pair only, and `reload.invalid-config` files that are wrong
 * in themselves: a configuration that is valid JSON with a valid generation but names a certificate
 * and key that cannot be served is neither. A server that swaps it in without loading the pair first
 * serves the new generation over a certificate it could not install (found by mutation testing of the
 * reference's `loadTls`, whose pair check could be removed unseen).
 */
export default defineCase({
  id: 'reload.tls-invalid-pair',
  title: 'A reload naming a certificate and key that cannot be served keeps the old configuration and certificate',
  description: `Serve certificate gen-a (generation 1), then reload three configurations that name a bad pair, one at a time: a certificate with another certificate's key, a certificate file that does not exist, a key file that holds a certificate. After each the subject must still serve generation 1 and present gen-a to a new handshake; a last reload naming certificate gen-b (generation ${VALID_GENERATION}) must be served.`,
  requirements: ['RELOAD.VALIDATE_SWAP', 'RELOAD.TLS_NEW_HANDSHAKES'],
  edgeCases: ['E19', 'E23'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['reload'],
    capabilities: ['tls', 'probe'],
    needs: ['config', 'live'],
  },
  notApplicable: tlsNotApplicable,
  timeout: 'normal',
  async run(ctx) {
    const a = makeCert(ctx.runDir, 'gen-a');
    const b = makeCert(ctx.runDir, 'gen-b');
    const invalid = [
      { what: 'a certificate with the key of another', tls: { cert: a.cert, key: b.key } },
      { what: 'a certificate file that does not exist', tls: { cert: join(ctx.runDir, 'missing.crt'), key: a.key } },
      { what: 'a key file that holds a certificate', tls: { cert: a.cert, key: a.cert } },
    ];
    const s = await ctx.launch({ config: { generation: 1, tls: a } });
    const sig = signalFor(ctx.manifest, 'reload')!;
    const reload = async (config: Record<string, unknown>, label: string) => {
      s.writeConfig(config);
      const t = s.signal(sig);
      await waitAck(ctx, s, sig, t, 2000);
      await s
        .waitProbe(
          (e) => (e.ev === 'reload-failed' || e.ev === 'reload-done') && BigInt(e.t) >= t,
          ctx.ms(3000),
          `outcome of the reload (${label})`,
        )
        .catch(() => ctx.note('no-reload-outcome', { label }));
    };
    for (const [i, bad] of invalid.entries()) {
      await reload({ generation: 2 + i, tls: bad.tls }, bad.what);
      if (s.exited) break;
      ctx.note('served', { phase: 'invalid', what: bad.what, ...(await observe(ctx, s, `after-invalid-${i}`)) });
    }
    if (s.exited) return; // the rejected reload ended the subject: the grader sees the exit
    await reload({ generation: VALID_GENERATION, tls: b }, 'gen-b');
    if (!s.exited) ctx.note('served', { phase: 'valid', ...(await observe(ctx, s, 'after-valid')) });
  },
  grade({ events }) {
    const served = notes(events, 'served');
    const invalid = served.filter((n) => n.phase === 'invalid');
    const valid = served.find((n) => n.phase === 'valid');
    const ended = exitOf(events);
    const describe = (n: Record<string, unknown>) =>
      `${n.phase === 'valid' ? 'after the valid reload' : `after ${String(n.what)}`}: generation ${String(n.generation)}, new handshake ${String(n.cn)} (${String(n.status)})`;
    const all = [...invalid, ...(valid ? [valid] : [])].map(describe);
    const tail = ended ? `; it ended: ${describeExit(ended)}` : '';
    const kept = invalid.length === 3 && invalid.every((n) => n.generation === 1);
    const handshakes = invalid.length === 3 && invalid.every((n) => n.cn === 'gen-a' && /200/.test(String(n.status)));
    return [
      verdict(
        'RELOAD.VALIDATE_SWAP',
        kept && valid?.generation === VALID_GENERATION && !ended,
        `after each reload naming a bad pair the subject still serves generation 1; a reload naming a valid pair then loads (generation ${VALID_GENERATION})`,
        `${all.join('; ') || 'nothing observed'}${tail}`,
      ),
      verdict(
        'RELOAD.TLS_NEW_HANDSHAKES',
        handshakes && valid?.cn === 'gen-b',
        'after each reload naming a bad pair a new handshake still gets gen-a and is served; after the valid reload, gen-b',
        `${all.join('; ') || 'nothing observed'}${tail}`,
      ),
    ];
  },
});

/** The generation served on the plain port, and what a new TLS handshake gets and is served. */
async function observe(ctx: CaseContext, s: Subject, label: string): Promise<Record<string, unknown>> {
  const r = await http(ctx, s, { path: '/config', label });
  let generation: unknown = null;
  try {
    generation = r.ok ? (JSON.parse(r.body.toString()) as { generation: unknown }).generation : null;
  } catch {
    // not JSON: no generation
  }
  try {
    const c = await connectTls(s.ports.tls!);
    const status = await c.get('/live').catch((e: Error) => `error ${e.message}`);
    c.socket.destroy();
    return { generation, cn: c.cn, status };
  } catch (e) {
    return { generation, cn: null, status: `error ${(e as Error).message}` };
  }
}
