import { defineCase, signalFor } from '../case.js';
import { exitOf, gracefulExitVerdicts, probe, results, verdict, verifyDrain } from '../grade/index.js';
import { recordResult, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 700;

/**
 * Spec: "a signal delivered to the whole process group is handled once" (E29): what Ctrl-C in a
 * terminal and systemd's control-group kill do.
 */
export default defineCase({
  id: 'proc.group-delivery',
  title: 'The stop signal sent to the whole process group is handled once',
  description: `Hold a ${HOLD_MS} ms request and send the stop signal to the process group. One stop sequence, one persist, the request completes, graceful exit.`,
  requirements: ['PROC.GROUP_DELIVERY', 'STOP.EXIT_ZERO', 'STOP.DRAIN.IN_FLIGHT'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E29'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    s.signal(signalFor(ctx.manifest, 'stop')!, { group: true });
    recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const r = results(events)[0];
    const out = gracefulExitVerdicts(events, manifest);
    const persisted = probe(events, 'persisted').length;
    const stopping = probe(events, 'state').filter((e) => e.data.state === 'STOPPING').length;
    const once = manifest.capabilities.probe ? persisted <= 1 && stopping === 1 : true;
    const x = exitOf(events);
    out.push(
      verifyDrain(events, manifest, { labels: ['held'], what: 'the request in flight at the group-delivered stop' }),
      verdict(
        'PROC.GROUP_DELIVERY',
        once && x !== null && x.signal === null,
        'one stop sequence, at most one persist, and no process dies by the signal',
        `held: ${r?.ok ? 'completed' : `failed (${r?.error})`}; ${manifest.capabilities.probe ? `${stopping} STOPPING, ${persisted} persist; ` : ''}${out[0]?.actual}`,
      ),
    );
    return out;
  },
});
