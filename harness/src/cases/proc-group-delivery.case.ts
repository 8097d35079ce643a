import { defineCase, signalFor } from '../case.js';
import {
  describeExit,
  exitMatches,
  exitOf,
  gracefulExitVerdicts,
  probe,
  results,
  verdict,
  verifyDrain,
} from '../grade/index.js';
import { recordResult, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 700;

/**
 * Spec: "A signal sent to the whole process group MUST have the same outcome as the same signal sent to
 * the main process alone: one stop or reload sequence, one persist step, no worker treated as crashed or
 * respawned" (PROC.GROUP_DELIVERY, E29): what Ctrl-C in a terminal and systemd's control-group kill do.
 * The case stops the subject twice, the same way, once through the process group (launch 0, judged by
 * the stop verdicts) and once through the main process alone (launch 1, the yardstick): the group
 * delivery fails PROC.GROUP_DELIVERY when its outcome differs (found by the zoo's worker-group-crash,
 * whose supervisor turns the stop fast when a worker dies by the group's signal: only the main process's
 * exit by a signal was looked at).
 */
export default defineCase({
  id: 'proc.group-delivery',
  title: 'The stop signal sent to the whole process group is handled once, as if sent to the main process',
  description: `Hold a ${HOLD_MS} ms request and send the stop signal to the process group: one stop sequence, one persist, the request completes, graceful exit. Then the same with the signal sent to the main process alone: the two outcomes (the held request, the exit, the STOPPING transitions and persists) must be the same.`,
  requirements: ['PROC.GROUP_DELIVERY', 'STOP.EXIT_ZERO', 'STOP.DRAIN.IN_FLIGHT'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E29'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'normal', // two launches, each with its stop budget
  async run(ctx) {
    for (const group of [true, false]) {
      const s = await ctx.launch();
      const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: group ? 'held' : 'held-main' });
      s.signal(signalFor(ctx.manifest, 'stop')!, { group });
      recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
      await waitExit(ctx, s, stopBudget(ctx));
    }
  },
  grade({ events, manifest }) {
    const outcome = (launch: number, label: string) => {
      const r = results(events).find((x) => x.label === label);
      const x = exitOf(events, launch);
      return {
        held:
          r === undefined
            ? 'not run'
            : r.ok === true && r.body === r.expectBody
              ? 'completed'
              : `failed (${String(r.error)})`,
        exit: describeExit(x),
        graceful: exitMatches(x, manifest.exitCodes.graceful),
        stopping: probe(events, 'state', launch).filter((e) => e.data.state === 'STOPPING').length,
        persisted: probe(events, 'persisted', launch).length,
      };
    };
    const g = outcome(0, 'held');
    const m = outcome(1, 'held-main');
    const out = gracefulExitVerdicts(events, manifest);
    const once = manifest.capabilities.probe ? g.persisted <= 1 && g.stopping === 1 : true;
    const x = exitOf(events);
    // only a group outcome worse than the main-only one is the group delivery's fault: what goes wrong
    // with the signal sent to the main process alone is judged by the stop cases, not here
    const worse =
      (m.held === 'completed' && g.held !== 'completed') ||
      (m.graceful && !g.graceful) ||
      (manifest.capabilities.probe && m.stopping === 1 && g.stopping !== 1) ||
      (manifest.capabilities.probe && m.persisted <= 1 && g.persisted > 1);
    const show = (o: typeof g) =>
      `held ${o.held}; ${manifest.capabilities.probe ? `${o.stopping} STOPPING, ${o.persisted} persist; ` : ''}${o.exit}`;
    out.push(
      verifyDrain(events, manifest, { labels: ['held'], what: 'the request in flight at the group-delivered stop' }),
      verdict(
        'PROC.GROUP_DELIVERY',
        once && x !== null && x.signal === null && !worse,
        'one stop sequence, at most one persist, no process dies by the signal, and the same outcome as the signal sent to the main process alone',
        `to the group: ${show(g)}; to the main process alone: ${show(m)}`,
      ),
    );
    return out;
  },
});
