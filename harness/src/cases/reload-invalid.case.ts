import { type CaseContext, defineCase, signalFor } from '../case.js';
import { describeExit, exitOf, notes, probe, results, throughSignal, verdict } from '../grade/index.js';
import type { Subject } from '../launch/index.js';
import { http, recordResult, waitAck } from '../workload.js';

/**
 * Invalid files (subject protocol section 6: not valid JSON, or no positive integer `generation`), one
 * reload each, in this order. A subject that checks only the syntax swaps in the second and later ones.
 */
export const INVALID_CONFIGS: readonly { what: string; text: string }[] = [
  { what: 'not JSON', text: '{ "generation": 2, this is not json' },
  { what: 'a JSON array', text: '[{ "generation": 2 }]' },
  { what: 'no generation', text: '{ "greeting": "no generation" }' },
  { what: 'a string generation', text: '{ "generation": "2" }' },
  { what: 'generation 0', text: '{ "generation": 0 }' },
  { what: 'generation 2.5', text: '{ "generation": 2.5 }' },
];

/**
 * Spec: "a reload validates then swaps; an invalid configuration keeps the old one and the subject
 * keeps serving" (E19); "the completion and outcome of a reload are observable" (E20). "Validates" is
 * the whole file, not its syntax: each of INVALID_CONFIGS is reloaded in turn, and generation 1 must
 * still be served after every one.
 */
export default defineCase({
  id: 'reload.invalid-config',
  title: 'A reload with an invalid configuration keeps the old one and keeps serving',
  description: `Write an invalid configuration (${INVALID_CONFIGS.map((c) => c.what).join(', ')}: one at a time), send the reload signal and wait for its acknowledgement and outcome, and check the subject still serves generation 1 after each; then a valid generation 3 reload still works.`,
  requirements: ['RELOAD.VALIDATE_SWAP', 'RELOAD.OBSERVABLE'],
  alsoJudges: ['SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E19', 'E20'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], needs: ['config'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    // a probe subject that reports no outcome is waited for once (RELOAD.OBSERVABLE judges it), then
    // watched like a black box, so six silent reloads fit the case's budget
    let outcomes = ctx.manifest.capabilities.probe === true;
    for (const [i, bad] of INVALID_CONFIGS.entries()) {
      s.writeConfig(bad.text);
      const t = s.signal(sig);
      await waitAck(ctx, s, sig, t, 2000);
      if (outcomes) {
        await s
          .waitProbe(
            (e) => (e.ev === 'reload-failed' || e.ev === 'reload-done') && BigInt(e.t) >= t,
            ctx.ms(3000),
            'reload outcome',
          )
          .catch(() => {
            ctx.note('no-reload-outcome', { what: bad.what });
            outcomes = false;
          });
      } else {
        // black box: nothing reports the outcome of a rejected reload; watch for a bounded window whether
        // the subject dies or changes its configuration (poll, never a bare sleep)
        await pollConfig(ctx, s, (g) => g !== 1, ctx.ms(i === 0 ? 1000 : 500));
      }
      if (s.exited) break;
      recordResult(ctx, await http(ctx, s, { path: '/config', label: `after-invalid-${i}` }), {
        phase: 'invalid',
        what: bad.what,
      });
    }
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
    const invs = rs.filter((r) => r.phase === 'invalid');
    const val = rs.find((r) => r.phase === 'valid');
    const genOf = (r: Record<string, unknown> | undefined): unknown => {
      try {
        return r?.ok ? (JSON.parse(String(r.body)) as { generation: unknown }).generation : null;
      } catch {
        return null;
      }
    };
    // the first file after which generation 1 was no longer served (or none was asked: the subject had ended)
    const swapped = invs.find((r) => genOf(r) !== 1);
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
        invs.length === INVALID_CONFIGS.length && swapped === undefined && genOf(val) === 3 && alive,
        `after each invalid file (${INVALID_CONFIGS.map((c) => c.what).join(', ')}) the subject still serves generation 1; a later valid file (generation 3) loads`,
        `${
          swapped
            ? `after the invalid file with ${String(swapped.what)}: ${describe(swapped)}`
            : invs.length < INVALID_CONFIGS.length
              ? `only ${invs.length} of ${INVALID_CONFIGS.length} invalid files could be checked (generation 1 each): then the subject had ended`
              : `generation 1 after each of the ${invs.length} invalid files`
        }; after valid: ${describe(val)}; ${alive ? 'alive' : `it ended: ${describeExit(exitOf(events))}`}`,
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
