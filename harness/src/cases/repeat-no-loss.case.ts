import { defineCase, signalFor } from '../case.js';
import { notes, probe, verdict } from '../grade/index.js';
import { http, waitAck, waitReloadOutcome } from '../workload.js';

const N = 10;

/**
 * Spec: "a signal delivered after the previous one was acknowledged is never lost" (E15). Each
 * reload signal is sent only once the previous one was acknowledged and its reload finished, so the
 * kernel cannot merge them; every one must be acknowledged, and the last configuration must load.
 */
export default defineCase({
  id: 'repeat.no-loss',
  title: `${N} reload signals, each after the previous acknowledgement: none is lost`,
  description: `Write generation i and send the reload signal, ${N} times, each after the previous acknowledgement and reload outcome. Every signal must be acknowledged and generation ${N + 1} served.`,
  requirements: ['REPEAT.NO_LOSS'],
  edgeCases: ['E15'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'], capabilities: ['probe'], needs: ['config'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    for (let g = 2; g <= N + 1 && !s.exited; g++) {
      s.writeConfig({ generation: g });
      const t = s.signal(sig);
      const acked = await waitAck(ctx, s, sig, t, 2000);
      ctx.note('acked', { g, acked });
      // a lost signal is the verdict already: waiting for the outcome of a reload that never began, then
      // sending the rest, would only run the case into its timeout (found by the zoo's reload-debounced)
      if (!acked) break;
      await waitReloadOutcome(ctx, s, t, `reload ${g}`);
    }
    const r = await http(ctx, s, { path: '/config', label: 'config' });
    ctx.note('final', { body: r.ok ? r.body.toString() : null });
  },
  grade({ events }) {
    const acks = notes(events, 'acked');
    const lost = acks.filter((a) => a.acked !== true);
    let gen: number | null = null;
    try {
      gen = (JSON.parse(String(notes(events, 'final')[0]?.body)) as { generation: number }).generation;
    } catch {
      gen = null;
    }
    return [
      verdict(
        'REPEAT.NO_LOSS',
        acks.length === N && lost.length === 0 && gen === N + 1 && probe(events, 'signal').length >= N,
        `all ${N} signals acknowledged and generation ${N + 1} served`,
        `${acks.length - lost.length}/${acks.length} acknowledged${lost.length ? ` (lost: ${lost.map((l) => l.g).join(', ')})` : ''}; serving generation ${gen}`,
      ),
    ];
  },
});
