import { readdirSync } from 'node:fs';
import { defineCase } from '../case.js';
import { notes, verdict } from '../grade/index.js';
import { awaitRestart, type RestartCompletion, requestRestart } from './restart-zero-downtime.case.js';

const N = 20;
/** The last restarts are asked for back to back: they must coalesce, not pile up generations. */
const BURST = 3;

interface Counts {
  procs: number;
  fds: number;
}

/**
 * Spec: "At most two generations (the current one and one draining) MUST be alive at any moment, and a
 * draining generation MUST have exited within the grace period after it stopped receiving new
 * connections. A restart requested while an old generation still drains MUST be refused (and logged)
 * or deferred until that generation has exited" (RESTART.BOUNDED_GENERATIONS, E17). 20 restarts in a
 * row leave no growth in processes (run marker) or, on Linux, in the supervisor's fds.
 */
export default defineCase({
  id: 'restart.bounded-generations',
  title: `${N} restarts in a row: at most two generations at once, no growth in processes or fds`,
  description: `Restart ${N - BURST} times, each as soon as the previous one is complete (its old generation may still drain: the next one must wait or be refused), alternating the restart signal and POST /control/restart when the control channel exists; then ${BURST} restarts asked for back to back. The process count is sampled throughout and must never exceed twice the count after the first restart (two generations); every restart completes (the burst: at least once, with one of its versions); after the grace period, processes and fds are back to the counts after the first restart (fds +2 at most).`,
  requirements: ['RESTART.BOUNDED_GENERATIONS'],
  edgeCases: ['E17', 'E18'],
  applies: { platforms: ['linux', 'darwin'], actions: ['restart'], capabilities: ['restart'], needs: ['version'] },
  timeout: 'long',
  async run(ctx) {
    const s = await ctx.launch();
    const count = async (): Promise<Counts> => ({
      procs: (await s.descendants()).length,
      fds: process.platform === 'linux' ? readdirSync(`/proc/${s.pid}/fd`).length : -1,
    });
    let sampling = true;
    const sampler = (async () => {
      // bounded: one scan at a time, at most every 25 ms, only while restarts run; every sample is kept
      while (sampling && !s.exited) {
        ctx.note('proc-sample', { procs: (await s.descendants()).length });
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    const restart = async (i: number, via: 'signal' | 'control') => {
      const t0 = await requestRestart(ctx, s, `v${i}`, via);
      ctx.note('completion', { i, via, ...(await awaitRestart(ctx, s, t0, `v${i}`)) });
    };
    const control = ctx.manifest.capabilities.controlChannel === true && s.ports.admin !== undefined;
    let before: Counts | undefined;
    let after: Counts | undefined;
    try {
      await restart(1, 'signal');
      before = await count();
      ctx.note('counts-before', { ...before }); // the bound is judged from here on
      for (let i = 2; i <= N - BURST; i++) await restart(i, control && i % 2 === 0 ? 'control' : 'signal');
      // The burst: each request is acknowledged before the next; none waits for a completion. The
      // spec lets a subject refuse the ones that come while a restart runs, so any of its versions
      // may be the one that serves; a coalesced follow-up may still be running when this one ends.
      const burst = Array.from({ length: BURST }, (_, k) => `v${N - BURST + 1 + k}`);
      let first: bigint | undefined;
      for (const v of burst) {
        const t0 = await requestRestart(ctx, s, v);
        first ??= t0;
      }
      const done = await awaitRestart(ctx, s, first!, burst);
      ctx.note('completion', { i: N, via: 'burst', ...done });
      // old generations drain in the background: give them their bounded drain to finish
      const deadline = Date.now() + ctx.ms(ctx.manifest.gracePeriodMs + 2000);
      after = await count();
      while ((after.procs > before.procs || after.fds - before.fds > 2) && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 50)); // bounded poll of the counts
        after = await count();
      }
      ctx.note('counts-after', { ...after });
    } finally {
      sampling = false;
      await sampler;
    }
  },
  grade({ events }) {
    const beforeAt = events.find((e) => e.source === 'case' && e.kind === 'counts-before');
    const c = {
      before: beforeAt?.data as Counts | undefined,
      after: notes(events, 'counts-after')[0] as Counts | undefined,
      // the largest process count sampled once the first restart had settled
      peak: Math.max(
        0,
        ...events
          .filter(
            (e) => e.source === 'case' && e.kind === 'proc-sample' && beforeAt && BigInt(e.ns) > BigInt(beforeAt.ns),
          )
          .map((e) => Number(e.data.procs)),
      ),
      completions: notes(events, 'completion') as unknown as RestartCompletion[],
    };
    if (!c.before || !c.after) {
      return [verdict('RESTART.BOUNDED_GENERATIONS', false, 'counts before and after', 'not recorded')];
    }
    const incomplete = c.completions.filter((x) => x.how !== 'probe' && x.how !== 'version');
    const bound = 2 * c.before.procs;
    return [
      verdict(
        'RESTART.BOUNDED_GENERATIONS',
        c.peak <= bound &&
          c.after.procs <= c.before.procs &&
          (c.before.fds < 0 || c.after.fds - c.before.fds <= 2) &&
          incomplete.length === 0,
        `every restart completes; at most ${bound} processes at any sample (two generations); after ${N} restarts and the grace period, no more processes than after the first and fds +2 at most`,
        `processes ${c.before.procs}→${c.after.procs} (peak ${c.peak}), fds ${c.before.fds}→${c.after.fds}; ${c.completions.length - incomplete.length}/${c.completions.length} restarts complete${incomplete.length ? ` (${JSON.stringify(incomplete.slice(0, 3))})` : ''}`,
        { peakProcesses: c.peak, fdGrowth: c.before.fds < 0 ? 0 : c.after.fds - c.before.fds },
      ),
    ];
  },
});
