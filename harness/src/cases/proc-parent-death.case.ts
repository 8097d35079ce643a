import { defineCase } from '../case.js';
import { notes, verdict } from '../checkers/common.js';

const BOUND_MS = 1000;

/** Spec: "workers exit within 1 s when their parent is SIGKILLed" (E27). */
export default defineCase({
  id: 'proc.parent-death',
  title: 'SIGKILL of the supervisor: every worker exits within 1 s',
  description: `SIGKILL the supervisor, then watch (by run marker) until no process of the subject is left, for at most ${BOUND_MS} ms plus slack.`,
  requirements: ['PROC.PARENT_DEATH', 'PROC.NO_ORPHANS'],
  edgeCases: ['E27'],
  applies: { platforms: ['linux', 'darwin'], capabilities: ['workers'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const workers = (await s.descendants()).filter((p) => p.pid !== s.pid);
    ctx.note('workers', { count: workers.length });
    const t0 = s.signal('SIGKILL');
    await s.waitExit(ctx.ms(2000));
    let left = await s.descendants();
    const deadline = Date.now() + ctx.ms(BOUND_MS + 1000);
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20)); // bounded poll of the process table
      left = await s.descendants();
    }
    ctx.note('gone', {
      ms: Number(process.hrtime.bigint() - t0) / 1e6,
      left: left.map((p) => `${p.pid} ${p.cmdline}`),
    });
  },
  grade({ events }) {
    const w = notes(events, 'workers')[0];
    const g = notes(events, 'gone')[0];
    const left = (g?.left ?? []) as string[];
    const ms = Number(g?.ms);
    return [
      verdict(
        'PROC.PARENT_DEATH',
        Number(w?.count) > 0 && left.length === 0 && ms <= BOUND_MS + 200,
        `all ${String(w?.count)} worker(s) are gone within ${BOUND_MS} ms of the supervisor's death`,
        left.length
          ? `${left.length} still alive after ${ms.toFixed(0)} ms: ${left.join('; ')}`
          : `all gone after ${ms.toFixed(0)} ms`,
        { orphanExitMs: ms },
      ),
      verdict(
        'PROC.NO_ORPHANS',
        left.length === 0,
        'no process outlives the supervisor',
        left.length ? left.join('; ') : 'none left',
      ),
    ];
  },
});
