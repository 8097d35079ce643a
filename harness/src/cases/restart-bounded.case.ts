import { readdirSync } from 'node:fs';
import { defineCase, signalFor } from '../case.js';
import { notes, verdict } from '../checkers/common.js';
import { http } from '../workload.js';

const N = 20;

/**
 * Spec: "the number of live old generations is bounded" (E17); 20 restarts in a row leave no
 * growth in processes (run marker) or, on Linux, in the supervisor's fds.
 */
export default defineCase({
  id: 'restart.bounded-generations',
  title: `${N} restarts in a row: no growth in processes or fds`,
  description: `Restart ${N} times, each after the previous one is serving its new version; compare process and fd counts with those after the first restart.`,
  requirements: ['RESTART.BOUNDED_GENERATIONS'],
  edgeCases: ['E17', 'E18'],
  applies: { platforms: ['linux', 'darwin'], actions: ['restart'], capabilities: ['restart', 'conformanceEndpoints'] },
  timeout: 'long',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'restart')!;
    const restart = async (i: number) => {
      s.writeConfig({ generation: i + 1, codeVersion: `v${i}` });
      s.signal(sig);
      const deadline = Date.now() + ctx.ms(15_000);
      while (Date.now() < deadline && !s.exited) {
        const r = await http(ctx, s, { path: '/version', label: 'version' });
        if (r.ok && r.body.toString().includes(`v${i}`)) return;
        await new Promise((res) => setTimeout(res, 20)); // bounded poll of /version
      }
    };
    const count = async () => ({
      procs: (await s.descendants()).length,
      fds: process.platform === 'linux' ? readdirSync(`/proc/${s.pid}/fd`).length : -1,
    });
    await restart(1);
    const before = await count();
    for (let i = 2; i <= N; i++) await restart(i);
    // old generations drain in the background: give them their bounded drain to finish
    const deadline = Date.now() + ctx.ms(ctx.manifest.gracePeriodMs + 2000);
    let after = await count();
    while (after.procs > before.procs && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50)); // bounded poll of the process count
      after = await count();
    }
    ctx.note('counts', { before, after });
  },
  grade({ events }) {
    const c = notes(events, 'counts')[0] as
      | { before: { procs: number; fds: number }; after: { procs: number; fds: number } }
      | undefined;
    if (!c) return [verdict('RESTART.BOUNDED_GENERATIONS', false, 'counts before and after', 'none recorded')];
    return [
      verdict(
        'RESTART.BOUNDED_GENERATIONS',
        c.after.procs <= c.before.procs && (c.before.fds < 0 || c.after.fds - c.before.fds <= 2),
        `after ${N} restarts, no more processes than after the first, fds grow by at most 2`,
        `processes ${c.before.procs}→${c.after.procs}, fds ${c.before.fds}→${c.after.fds}`,
      ),
    ];
  },
});
