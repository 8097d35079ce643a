import { defineCase, signalFor } from '../case.js';
import { notes, probe, results, verdict } from '../checkers/common.js';
import { http, recordResult, waitAck } from '../workload.js';

/**
 * Spec: "a reload validates then swaps; an invalid configuration keeps the old one and the subject
 * keeps serving" (E19); "the completion and outcome of a reload are observable" (E20).
 */
export default defineCase({
  id: 'reload.invalid-config',
  title: 'A reload with an invalid configuration keeps the old one and keeps serving',
  description:
    'Write a configuration that is not valid JSON, send the reload signal and wait for its acknowledgement, then check the subject still serves generation 1; then a valid generation 2 reload still works.',
  requirements: ['RELOAD.VALIDATE_SWAP', 'RELOAD.OBSERVABLE', 'SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E19', 'E20'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], capabilities: ['conformanceEndpoints'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    s.writeConfig('{ "generation": 2, this is not json');
    const t = s.signal(sig);
    await waitAck(ctx, s, sig, t, 2000);
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe(
          (e) => (e.ev === 'reload-failed' || e.ev === 'reload-done') && BigInt(e.t) >= t,
          ctx.ms(3000),
          'reload outcome',
        )
        .catch(() => ctx.note('no-reload-outcome'));
    }
    recordResult(ctx, await http(ctx, s, { path: '/config', label: 'after-invalid' }), { phase: 'invalid' });
    s.writeConfig({ generation: 3 });
    const t2 = s.signal(sig);
    await waitAck(ctx, s, sig, t2, 2000);
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'reload-done' && BigInt(e.t) >= t2, ctx.ms(3000), 'second reload')
        .catch(() => ctx.note('no-second-reload'));
    }
    recordResult(ctx, await http(ctx, s, { path: '/config', label: 'after-valid' }), { phase: 'valid' });
    ctx.note('alive', { alive: !s.exited });
  },
  grade({ events, manifest }) {
    const rs = results(events);
    const inv = rs.find((r) => r.phase === 'invalid');
    const val = rs.find((r) => r.phase === 'valid');
    const genOf = (r: Record<string, unknown> | undefined) => {
      try {
        return r?.ok ? (JSON.parse(String(r.body)) as { generation: number }).generation : null;
      } catch {
        return null;
      }
    };
    const alive = notes(events, 'alive')[0]?.alive === true;
    const failed = probe(events, 'reload-failed').length;
    const out = [
      verdict(
        'RELOAD.VALIDATE_SWAP',
        genOf(inv) === 1 && genOf(val) === 3 && alive,
        'after the invalid file the subject still serves generation 1; a later valid file (generation 3) loads',
        `after invalid: ${inv?.ok ? `generation ${genOf(inv)}` : `request failed (${inv?.error})`}; after valid: ${val?.ok ? `generation ${genOf(val)}` : `request failed (${val?.error})`}; ${alive ? 'alive' : 'exited'}`,
      ),
      verdict('SIG.HUP.NEVER_FATAL', alive, 'the subject survives a failed reload', alive ? 'alive' : 'it exited'),
    ];
    if (manifest.capabilities.probe) {
      out.push(
        verdict(
          'RELOAD.OBSERVABLE',
          failed >= 1 && probe(events, 'reload-done').length >= 1,
          'a failed reload is reported (probe reload-failed) and a successful one too (reload-done)',
          `${failed} reload-failed, ${probe(events, 'reload-done').length} reload-done`,
        ),
      );
    }
    return out;
  },
});
