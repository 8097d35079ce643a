import { defineCase } from '../case.js';
import { notes, verdict } from '../grade/index.js';
import { http, recordResult, waitAck } from '../workload.js';

/**
 * Spec: "SIGHUP reloads the configuration" (SIG.HUP.RELOAD), graded where the declared map keeps that
 * meaning (4.2, E38); where the map gives SIGHUP another action the case is not applicable and the
 * report names the departure. Reload guarantees themselves are judged by the reload.* cases through
 * whichever signal the map gives `reload`.
 */
export default defineCase({
  id: 'signals.hup-reload',
  title: 'SIGHUP reloads the configuration',
  description:
    'Write generation 2, send SIGHUP, and poll /config (bounded) until generation 2 is served; the subject must stay up.',
  requirements: ['SIG.HUP.RELOAD'],
  edgeCases: ['E24', 'E38'],
  applies: { platforms: ['linux', 'darwin'], needs: ['config'] },
  notApplicable: (m) =>
    m.signals.SIGHUP === 'reload'
      ? null
      : `the declared map gives SIGHUP: ${m.signals.SIGHUP ?? '(nothing)'} (tested against its own map, E38)`,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    s.writeConfig({ generation: 2 });
    const t = s.signal('SIGHUP');
    await waitAck(ctx, s, 'SIGHUP', t, 2000);
    const deadline = Date.now() + ctx.ms(5000);
    let gen = -1;
    while (Date.now() < deadline && !s.exited) {
      const r = await http(ctx, s, { path: '/config', label: 'config' });
      try {
        gen = r.ok ? Number((JSON.parse(r.body.toString()) as { generation: number }).generation) : -1;
      } catch {
        gen = -1;
      }
      if (gen === 2) {
        recordResult(ctx, r);
        break;
      }
      await new Promise((res) => setTimeout(res, 20)); // poll interval of a bounded check
    }
    ctx.note('final', { generation: gen, alive: !s.exited });
  },
  grade({ events }) {
    const f = notes(events, 'final')[0];
    return [
      verdict(
        'SIG.HUP.RELOAD',
        f?.generation === 2 && f.alive === true,
        'after SIGHUP the subject serves the configuration written before it (generation 2) and stays up',
        `serving generation ${String(f?.generation)}; ${f?.alive ? 'alive' : 'it exited'}`,
      ),
    ];
  },
});
