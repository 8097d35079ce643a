import { type CaseContext, defineCase, signalFor } from '../case.js';
import { describeExit, exitOf, notes, probe, results, throughSignal, verdict } from '../grade/index.js';
import type { Subject } from '../launch/index.js';
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
  requirements: ['RELOAD.VALIDATE_SWAP', 'RELOAD.OBSERVABLE'],
  alsoJudges: ['SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E19', 'E20'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], needs: ['config'] },
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
    if (!ctx.manifest.capabilities.probe) {
      // black box: nothing reports the outcome of a rejected reload; watch for a bounded window whether
      // the subject dies or changes its configuration (poll, never a bare sleep)
      await pollConfig(ctx, s, () => false, ctx.ms(1000));
    }
    if (!s.exited)
      recordResult(ctx, await http(ctx, s, { path: '/config', label: 'after-invalid' }), { phase: 'invalid' });
    if (s.exited) {
      // the rejected reload ended the subject: nothing more to ask it (the grader sees the exit)
      ctx.note('alive', { alive: false });
      return;
    }
    s.writeConfig({ generation: 3 });
    const t2 = s.signal(sig);
    await waitAck(ctx, s, sig, t2, 2000);
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'reload-done' && BigInt(e.t) >= t2, ctx.ms(3000), 'second reload')
        .catch(() => ctx.note('no-second-reload'));
    }
    if (!ctx.manifest.capabilities.probe) await pollConfig(ctx, s, (g) => g === 3, ctx.ms(5000));
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
    const describe = (r: Record<string, unknown> | undefined) =>
      r === undefined
        ? 'not asked (the subject had ended)'
        : r.ok
          ? `generation ${genOf(r)}`
          : `request failed (${String(r.error)})`;
    const failed = probe(events, 'reload-failed').length;
    const out = [
      verdict(
        'RELOAD.VALIDATE_SWAP',
        genOf(inv) === 1 && genOf(val) === 3 && alive,
        'after the invalid file the subject still serves generation 1; a later valid file (generation 3) loads',
        `after invalid: ${describe(inv)}; after valid: ${describe(val)}; ${alive ? 'alive' : `it ended: ${describeExit(exitOf(events))}`}`,
      ),
      ...throughSignal(manifest, 'SIGHUP', 'reload', [
        verdict('SIG.HUP.NEVER_FATAL', alive, 'the subject survives a failed reload', alive ? 'alive' : 'it exited'),
      ]),
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

/** Poll /config until `done(generation)`, the subject exits, or `ms` pass (bounded; 25 ms between polls). */
async function pollConfig(ctx: CaseContext, s: Subject, done: (g: number) => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !s.exited) {
    const r = await http(ctx, s, { path: '/config', label: 'config-poll' });
    let g = Number.NaN;
    try {
      g = r.ok ? Number((JSON.parse(r.body.toString()) as { generation: number }).generation) : Number.NaN;
    } catch {
      // not JSON: keep polling
    }
    if (done(g)) return;
    await new Promise((res) => setTimeout(res, 25));
  }
}
