import { readdirSync } from 'node:fs';
import { defineCase, hasEndpoint } from '../case.js';
import { answeredHolds, controlTaken, HOLD_TIMER_SLACK_NS, notes, verdict } from '../grade/index.js';
import { recordResult, startHeld } from '../workload.js';
import { awaitRestart, type RestartCompletion, requestRestart } from './restart-zero-downtime.case.js';

const N = 20;
/** The last restarts are asked for back to back: they must coalesce, not pile up generations. */
const BURST = 3;

/**
 * The overlap check: restart 2 is asked for while a request held for this long is in flight on the
 * serving generation, so that generation still drains when restart 2 is complete; restart 3 follows at
 * once and must not complete before that request could have ended (a third generation). Half the grace
 * period, between 1 and 2.5 s: long past a restart's own time, inside the old generation's drain.
 */
const overlapHoldMs = (graceMs: number) => Math.min(2500, Math.max(1000, Math.floor(graceMs / 2)));

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
  description: `Restart ${N - BURST} times, each as soon as the previous one is complete (its old generation may still drain: the next one must wait or be refused), alternating the restart signal and POST /control/restart when the control channel exists (a control answer other than 2xx, or 409 as a refusal, fails CONTROL.EQUIVALENT and is not waited for); then ${BURST} restarts asked for back to back. With GET /hold, restart 2 is asked for while a request held for half the grace period (1 to 2.5 s) is in flight on generation 1, and restart 3 as soon as restart 2 is complete: restart 3 must not be complete before that request could have ended (generation 1 still drains: a third generation). A restart that does not complete (it may be refused while an old generation drains) is asked for once more after the grace period. The process count is sampled throughout and must never exceed twice the count after the first restart (two generations); every restart completes (the burst: at least once, with one of its versions); after the grace period, processes and fds are back to the counts after the first restart (fds +2 at most).`,
  requirements: ['RESTART.BOUNDED_GENERATIONS'],
  // with the control channel, every other restart is asked through it
  alsoJudges: ['CONTROL.EQUIVALENT'],
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
    /**
     * A restart asked through the control channel and answered with neither a 2xx (accepted) nor a 409
     * (refused, as a restart may be while an old generation drains): the channel does not restart as the
     * signal does (CONTROL.EQUIVALENT). Noted, and not waited for: no restart was accepted.
     */
    const refused = (i: number, via: string): boolean => {
      if (via !== 'control') return false;
      const answer = ctx.history.events.findLast((e) => e.source === 'case' && e.kind === 'control-restart');
      const status = Number(answer?.data.status);
      if (answer?.data.ok !== true || controlTaken(status)) return false;
      ctx.note('completion', { i, via, how: 'refused', ms: 0, error: `POST /control/restart answered ${status}` });
      return true;
    };
    /**
     * Ask (`ask` returns the request's stamp) and wait for the completion of one of `versions`. A restart
     * asked for while an old generation drains may be refused: a miss is asked for once more (the last
     * version) after the grace period, by which that generation must be gone; only a second miss counts.
     */
    const complete = async (
      i: number,
      via: string,
      versions: string[],
      ask: () => Promise<bigint>,
      asked = 1,
    ): Promise<void> => {
      const t0 = await ask();
      if (refused(i, via)) return;
      const done = await awaitRestart(ctx, s, t0, versions, { asked });
      if (done.how === 'probe' || done.how === 'version') {
        ctx.note('completion', { i, via, at: (t0 + BigInt(Math.round(done.ms * 1e6))).toString(), ...done });
        return;
      }
      ctx.note('restart-missed', { i, via, ...done });
      await new Promise((res) => setTimeout(res, ctx.ms(ctx.manifest.gracePeriodMs + 500)));
      const last = versions.at(-1)!;
      const t1 = await requestRestart(ctx, s, last, via === 'control' ? 'control' : 'signal');
      if (refused(i, via)) return;
      const again = await awaitRestart(ctx, s, t1, last);
      ctx.note('completion', {
        i,
        via,
        retried: true,
        at: (t1 + BigInt(Math.round(again.ms * 1e6))).toString(),
        ...again,
      });
    };
    const restart = (i: number, via: 'signal' | 'control') =>
      complete(i, via, [`v${i}`], () => requestRestart(ctx, s, `v${i}`, via));
    const control = ctx.manifest.capabilities.controlChannel === true && s.ports.admin !== undefined;
    let before: Counts | undefined;
    let after: Counts | undefined;
    try {
      await restart(1, 'signal');
      before = await count();
      ctx.note('counts-before', { ...before }); // the bound is judged from here on
      const overlap = hasEndpoint(ctx.manifest, 'hold');
      const holdMs = overlapHoldMs(ctx.manifest.gracePeriodMs);
      for (let i = 2; i <= N - BURST; i++) {
        const via = control && i % 2 === 0 ? 'control' : 'signal';
        if (i === 2 && overlap) {
          // generation 1 keeps a request in flight through restart 2, and restart 3 follows at once
          const held = await startHeld(ctx, s, { path: `/hold?ms=${holdMs}`, label: 'draining-held' });
          ctx.note('overlap', { holdMs, label: 'draining-held', restarts: [2, 3] });
          await restart(2, via);
          await restart(3, 'signal');
          recordResult(ctx, await held.done, { expectBody: `held ${holdMs}\n` });
          held.conn.close();
          i = 3;
          continue;
        }
        await restart(i, via);
      }
      // The burst: each request is acknowledged before the next; none waits for a completion. The
      // spec lets a subject refuse the ones that come while a restart runs, so any of its versions
      // may be the one that serves; a coalesced follow-up may still be running when this one ends.
      const burst = Array.from({ length: BURST }, (_, k) => `v${N - BURST + 1 + k}`);
      await complete(
        N,
        'burst',
        burst,
        async () => {
          let first: bigint | undefined;
          for (const v of burst) {
            const t = await requestRestart(ctx, s, v);
            first ??= t;
          }
          return first!;
        },
        BURST,
      );
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
    // a restart the control channel refused is judged under CONTROL.EQUIVALENT: it started no generation
    const refusedByControl = c.completions.filter((x) => x.how === 'refused');
    const incomplete = c.completions.filter((x) => x.how !== 'probe' && x.how !== 'version' && x.how !== 'refused');
    const viaControl = (c.completions as unknown as { via?: string }[]).filter((x) => x.via === 'control').length;
    const controlVerdicts =
      viaControl === 0
        ? []
        : [
            verdict(
              'CONTROL.EQUIVALENT',
              refusedByControl.length === 0,
              'POST /control/restart is accepted (2xx; 409 only as a refusal while an old generation drains) as the restart signal is',
              refusedByControl.length === 0
                ? `${viaControl} restart(s) asked through the control channel, none refused`
                : `${refusedByControl.length} of ${viaControl} restart(s) asked through the control channel refused: ${[
                    ...new Set(refusedByControl.map((x) => x.error)),
                  ].join('; ')}`,
            ),
          ];
    const bound = 2 * c.before.procs;
    // a restart complete while a generation two back still drained a request: three generations at once
    const overlapNote = notes(events, 'overlap')[0];
    const third = (c.completions as unknown as { i: number; at?: string; how: string }[]).find(
      (x) => x.i === 3 && (x.how === 'probe' || x.how === 'version'),
    );
    // restart 2 refused (by the control channel): generation 1 was still the serving one, not draining
    const second = (c.completions as unknown as { i: number; how: string }[]).find(
      (x) => x.i === 2 && (x.how === 'probe' || x.how === 'version'),
    );
    const drainingEnd = overlapNote ? answeredHolds(events, [String(overlapNote.label)])[0] : undefined;
    const overlapMs =
      second !== undefined &&
      third?.at !== undefined &&
      drainingEnd !== undefined &&
      BigInt(third.at) + HOLD_TIMER_SLACK_NS < drainingEnd.endNs
        ? Number((drainingEnd.endNs - BigInt(third.at)) / 1_000_000n)
        : null;
    const overlapSaid = !overlapNote
      ? ''
      : second === undefined
        ? '; restart 2 did not complete (overlap not judged)'
        : drainingEnd === undefined
          ? '; the request held through restart 2 was not answered in full (overlap not judged)'
          : overlapMs !== null
            ? `; restart 3 was complete ${overlapMs} ms before generation 1's held request could have ended: three generations at once`
            : '; restart 3 completed after generation 1 had drained';
    return [
      verdict(
        'RESTART.BOUNDED_GENERATIONS',
        c.peak <= bound &&
          overlapMs === null &&
          c.after.procs <= c.before.procs &&
          (c.before.fds < 0 || c.after.fds - c.before.fds <= 2) &&
          incomplete.length === 0,
        `every restart completes (a refused one, once more after the grace period); at most ${bound} processes at any sample (two generations), and no restart complete while a generation two back still drains; after ${N} restarts and the grace period, no more processes than after the first and fds +2 at most`,
        `processes ${c.before.procs}→${c.after.procs} (peak ${c.peak}), fds ${c.before.fds}→${c.after.fds}; ${c.completions.length - incomplete.length}/${c.completions.length} restarts complete${incomplete.length ? ` (${JSON.stringify(incomplete.slice(0, 3))})` : ''}${overlapSaid}`,
        { peakProcesses: c.peak, fdGrowth: c.before.fds < 0 ? 0 : c.after.fds - c.before.fds },
      ),
      ...controlVerdicts,
    ];
  },
});
