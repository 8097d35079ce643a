import { defineCase, signalFor } from '../case.js';
import { notes, verdict } from '../grade/index.js';
import { waitAck, waitReloadOutcome } from '../workload.js';

const N = 50;
const TOLERANCE = 2;

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
    // Counts are taken once settled (the same in 8 samples 50 ms apart), so a thread still starting after
    // readiness or a transient socket is not counted as growth; a count every SERIES_EVERY reloads gives
    // the trend across all of them (the `series` of the note).
    const SERIES_EVERY = 10;
    const counted = async (reloads: number) => {
      const c = await s.settledCounts({ withinMs: ctx.ms(5000) });
      return { reloads, ...(c.value ?? { fds: Number.NaN, threads: Number.NaN, procs: Number.NaN }), stable: c.stable };
    };
    await reload(2);
    const series = [await counted(1)];
    for (let g = 3; g < 3 + N; g++) {
      await reload(g);
      if ((g - 1) % SERIES_EVERY === 0) series.push(await counted(g - 1));
    }
    if (series[series.length - 1]?.reloads !== N + 1) series.push(await counted(N + 1));
    const strip = (c: (typeof series)[number]) => ({ fds: c.fds, threads: c.threads, procs: c.procs });
    ctx.note('counts', { before: strip(series[0]!), after: strip(series[series.length - 1]!), series });
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
