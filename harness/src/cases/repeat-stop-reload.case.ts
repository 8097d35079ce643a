import { defineCase, signalFor } from '../case.js';
import {
  describeExit,
  exitOf,
  gracefulExitVerdicts,
  probe,
  results,
  sent,
  throughSignal,
  verdict,
} from '../grade/index.js';
import { recordResult, startHeld, stopBudget, waitAck, waitExit } from '../workload.js';

const HOLD_MS = 900;

/**
 * Spec: "a pending stop dominates a later reload" (E15) and "SIGHUP never terminates the subject,
 * in any state" (E24): a reload signal during the drain neither cancels the stop nor kills.
 */
export default defineCase({
  id: 'repeat.stop-then-reload',
  title: 'Stop then reload: the stop wins, the reload signal is harmless',
  description: `Hold a ${HOLD_MS} ms request, send the stop signal, wait for its acknowledgement, write a new configuration and send the reload signal. The drain continues to a graceful exit; no reload happens after the stop.`,
  requirements: ['REPEAT.STOP_DOMINATES', 'STOP.EXIT_ZERO'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS', 'SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E15', 'E24'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop', 'reload'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const stop = signalFor(ctx.manifest, 'stop')!;
    const reload = signalFor(ctx.manifest, 'reload')!;
    const t = s.signal(stop);
    await waitAck(ctx, s, stop, t, 2000);
    s.writeConfig({ generation: 2 });
    if (!s.exited) {
      const t2 = s.signal(reload);
      await waitAck(ctx, s, reload, t2, 2000);
    }
    recordResult(ctx, await held.done);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const out = gracefulExitVerdicts(events, manifest);
    const r = results(events)[0];
    const reloadSig = Object.entries(manifest.signals).find(([, a]) => a === 'reload')?.[0];
    const reloadSent = reloadSig ? sent(events, 0, reloadSig)[0] : undefined;
    const reloadsAfter = reloadSent
      ? probe(events, 'reload-done').filter((e) => BigInt(e.ns) > BigInt(reloadSent.ns)).length
      : 0;
    const exit = out[0];
    const x = exitOf(events);
    const normalExit = x !== null && x.signal === null;
    out.push(
      verdict(
        'REPEAT.STOP_DOMINATES',
        normalExit && reloadsAfter === 0,
        'the stop goes on to the exit (not by a signal) and no reload runs after it',
        `held request ${r?.ok ? 'completed' : `failed (${r?.error})`}; ${reloadsAfter} reload(s) after the stop; ${exit?.actual}`,
      ),
      ...throughSignal(manifest, 'SIGHUP', 'reload', [
        verdict(
          'SIG.HUP.NEVER_FATAL',
          x?.signal !== 'SIGHUP',
          'the reload signal during the drain does not kill the subject',
          x === null
            ? 'still running when the case ended (a lost stop is judged under REPEAT.STOP_DOMINATES)'
            : describeExit(x),
        ),
      ]),
    );
    return out;
  },
});
