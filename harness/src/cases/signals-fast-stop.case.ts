import { defineCase } from '../case.js';
import {
  describeExit,
  describeSpec,
  exitMatches,
  exitOf,
  ms,
  results,
  sent,
  verdict,
  verifyPersist,
} from '../grade/index.js';
import { recordResult, startHeld, waitExit } from '../workload.js';

const HOLD_MS = 8000;

/**
 * Spec: "SIGQUIT starts a fast stop (default map)" (SHOULD) and "state is persisted on every stop
 * path except SIGKILL" (E34). Fast means: abort in-flight work, persist, exit with the documented code.
 */
export default defineCase({
  id: 'signals.fast-stop',
  title: 'The fast-stop signal aborts in-flight work, persists and exits at once',
  description: `Hold a ${HOLD_MS} ms request and send the signal declared for fast-stop. The subject ends within 2 s with the declared fast-stop status, closes the held request, and persists.`,
  requirements: ['SIG.QUIT.FAST', 'STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E14', 'E34'],
  applies: { platforms: ['linux', 'darwin'], needs: ['hold'] },
  notApplicable: (m) =>
    m.signals.SIGQUIT !== 'fast-stop'
      ? `the declared map gives SIGQUIT: ${m.signals.SIGQUIT ?? '(nothing)'} (tested against its own map, E38)`
      : null,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    s.signal('SIGQUIT');
    await waitExit(ctx, s, 3000);
    recordResult(ctx, await held.done);
  },
  grade({ events, manifest }) {
    const send = sent(events)[0];
    const x = exitOf(events);
    const took = send && x ? ms(send.ns, x.ns) : Number.NaN;
    const r = results(events)[0];
    const out = [
      verdict(
        'SIG.QUIT.FAST',
        exitMatches(x, manifest.exitCodes.fastStop, send?.data.sig as string) && took <= 2000 && r?.ok !== true,
        `ends within 2 s with ${describeSpec(manifest.exitCodes.fastStop)}, without waiting for the held request`,
        `${describeExit(x)}${Number.isFinite(took) ? ` after ${took.toFixed(1)} ms` : ''}; held request ${r?.ok ? 'was served' : `closed (${r?.error})`}`,
        Number.isFinite(took) ? { timeToExitMs: took } : undefined,
      ),
    ];
    out.push(...verifyPersist(events, manifest, 'fast-stop'));
    return out;
  },
});
