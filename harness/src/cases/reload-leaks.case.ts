import { readdirSync, readFileSync } from 'node:fs';
import { defineCase, signalFor } from '../case.js';
import { notes, verdict } from '../grade/index.js';
import { waitAck, waitReloadOutcome } from '../workload.js';

const N = 50;
const TOLERANCE = 2;

function counts(pid: number): { fds: number; threads: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return { fds, threads };
}

/**
 * Spec: "file descriptor, thread and child counts stay stable across reloads" (E18). Counts come
 * from /proc, so the case runs on Linux only.
 */
export default defineCase({
  id: 'reload.no-leaks',
  title: `${N} reloads leave fd, thread and process counts stable`,
  description: `Reload once, take fd/thread/process counts (/proc and the run marker), reload ${N} more times (each acknowledged and finished), count again. Growth above ${TOLERANCE} fails.`,
  requirements: ['RELOAD.NO_LEAKS'],
  edgeCases: ['E18'],
  applies: { platforms: ['linux'], actions: ['reload'], capabilities: ['probe'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    const reload = async (g: number) => {
      s.writeConfig({ generation: g });
      const t = s.signal(sig);
      await waitAck(ctx, s, sig, t, 2000);
      await waitReloadOutcome(ctx, s, t, `reload ${g}`, { strict: true });
    };
    await reload(2);
    const before = { ...counts(s.pid), procs: (await s.descendants()).length };
    for (let g = 3; g < 3 + N; g++) await reload(g);
    const after = { ...counts(s.pid), procs: (await s.descendants()).length };
    ctx.note('counts', { before, after });
  },
  grade({ events }) {
    const c = notes(events, 'counts')[0] as
      | {
          before: { fds: number; threads: number; procs: number };
          after: { fds: number; threads: number; procs: number };
        }
      | undefined;
    if (!c)
      return [verdict('RELOAD.NO_LEAKS', false, 'counts taken before and after the reloads', 'no counts recorded')];
    const d = {
      fds: c.after.fds - c.before.fds,
      threads: c.after.threads - c.before.threads,
      procs: c.after.procs - c.before.procs,
    };
    return [
      verdict(
        'RELOAD.NO_LEAKS',
        d.fds <= TOLERANCE && d.threads <= TOLERANCE && d.procs <= 0,
        `after ${N} reloads fds and threads grow by at most ${TOLERANCE}, processes not at all`,
        `fds ${c.before.fds}→${c.after.fds}, threads ${c.before.threads}→${c.after.threads}, processes ${c.before.procs}→${c.after.procs}`,
        { fdGrowth: d.fds, threadGrowth: d.threads, processGrowth: d.procs },
      ),
    ];
  },
});
