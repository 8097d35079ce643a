import { defineCase, signalFor } from '../case.js';
import { notes, probe, throughSignal, verdict } from '../grade/index.js';
import { http } from '../workload.js';

const N = 50;

/**
 * Spec: "reloads are serialised and storms coalesce, ending on the last written configuration"
 * (E16), "SIGHUP reloads the configuration", "SIGHUP never terminates the subject". The storm is
 * deliberately not paced by acknowledgements: coalescing is what is under test.
 */
export default defineCase({
  id: 'reload.storm',
  title: `A storm of ${N} reload signals ends on the last configuration`,
  description: `Write configuration generations 2..${N + 1}, each followed at once by the reload signal. The subject must survive, end up serving generation ${N + 1}, and run no more reloads than signals.`,
  requirements: ['RELOAD.SERIALISED'],
  alsoJudges: ['SIG.HUP.RELOAD', 'SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E16', 'E24'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], needs: ['config'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    for (let g = 2; g <= N + 1 && !s.exited; g++) {
      s.writeConfig({ generation: g });
      s.signal(sig);
    }
    // wait (bounded) until the last generation is served: the probe says when, else poll /config
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'reload-done' && e.generation === N + 1, ctx.ms(10_000), `generation ${N + 1}`)
        .catch(() => ctx.note('last-generation-not-reported'));
    }
    const deadline = Date.now() + ctx.ms(10_000);
    let gen = -1;
    while (Date.now() < deadline && !s.exited) {
      const r = await http(ctx, s, { path: '/config', label: 'config' });
      gen = r.ok ? Number((JSON.parse(r.body.toString()) as { generation: number }).generation) : -1;
      if (gen === N + 1) break;
      await new Promise((res) => setTimeout(res, 20)); // poll interval of a bounded check, not a synchronisation
    }
    ctx.note('final', { generation: gen, alive: !s.exited });
  },
  grade({ events, manifest }) {
    const final = notes(events, 'final')[0];
    const reloads = probe(events, 'reload-begin').length;
    const out = [
      verdict(
        'RELOAD.SERIALISED',
        final?.generation === N + 1 && (!manifest.capabilities.probe || (reloads >= 1 && reloads <= N)),
        `the last written generation (${N + 1}) is loaded; at most ${N} reloads run`,
        `serving generation ${final?.generation}; ${manifest.capabilities.probe ? `${reloads} reload(s) ran` : 'reload count not observable'}`,
        manifest.capabilities.probe ? { reloads } : undefined,
      ),
      ...throughSignal(manifest, 'SIGHUP', 'reload', [
        verdict(
          'SIG.HUP.RELOAD',
          final?.generation === N + 1,
          'the reload signal loads the new configuration',
          `serving generation ${final?.generation}`,
        ),
        verdict(
          'SIG.HUP.NEVER_FATAL',
          final?.alive === true,
          'the subject survives the storm',
          final?.alive ? 'alive' : 'it exited',
        ),
      ]),
    ];
    return out;
  },
});
