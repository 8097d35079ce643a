import { defineCase } from '../case.js';
import {
  exitOf,
  gracefulExitVerdicts,
  notes,
  probe,
  type RequirementId,
  results,
  unknown,
  verdict,
  verifyDrain,
} from '../grade/index.js';
import type { Manifest } from '../types.js';
import { recordResult, startHeld, stopBudget, waitAck, waitExit, waitRefused } from '../workload.js';

const HOLD_MS = 900;

/**
 * Spec: "a repeated graceful signal is idempotent: one stop sequence, one persist" (E13, E29).
 * The second signal is sent only after the first was acknowledged, so both really arrive.
 */
/**
 * A stop signal whose second delivery the repeat map leaves a plain stop (an escalating one is judged by
 * map.repeat.*); SIGTERM first when it is one, as systemd and Kubernetes send it.
 */
function idempotentStop(m: Manifest): string | undefined {
  const stops = Object.entries(m.signals)
    .filter(([sig, a]) => a === 'stop' && (m.signalsRepeat[sig] ?? 'stop') === 'stop')
    .map(([sig]) => sig);
  return stops.find((s) => s === 'SIGTERM') ?? stops[0];
}

export default defineCase({
  id: 'repeat.stop-stop',
  title: 'The stop signal twice: idempotent, one persist, in-flight work still completes',
  description: `Hold a ${HOLD_MS} ms request, send the stop signal, wait for its acknowledgement, send it again. One stop sequence, exactly one persist, the held request completes, graceful exit.`,
  requirements: ['REPEAT.IDEMPOTENT', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E13'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  notApplicable: (m) =>
    idempotentStop(m)
      ? null
      : 'every stop signal escalates on its second delivery (the repeat map; judged by map.repeat.*)',
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const sig = idempotentStop(ctx.manifest) as NodeJS.Signals;
    const t1 = s.signal(sig);
    const acked = await waitAck(ctx, s, sig, t1, 2000);
    if (!acked && !ctx.manifest.capabilities.probe) {
      // black box: the first signal is "acknowledged" once new connections are refused
      await waitRefused(ctx, s, 2000);
    }
    if (!s.exited) s.signal(sig);
    recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
    await waitExit(ctx, s, stopBudget(ctx));
    ctx.note('sent-twice', { sig });
  },
  grade({ events, manifest }) {
    const r = results(events)[0];
    const out = gracefulExitVerdicts(events, manifest);
    const stoppingStates = probe(events, 'state').filter((e) => e.data.state === 'STOPPING').length;
    const persisted = probe(events, 'persisted').length;
    const acks = probe(events, 'signal').length;
    const idempotent = manifest.capabilities.probe
      ? stoppingStates === 1 && persisted <= 1 && exitOf(events)?.signal == null
      : exitOf(events) !== null && exitOf(events)?.signal === null;
    // with a probe: a second signal the subject never acknowledged (it exited first) proves nothing
    const judged = !manifest.capabilities.probe || acks >= 2 || exitOf(events)?.signal != null;
    out.push(
      (judged ? verdict : (r: RequirementId, _ok: boolean, e: string, a: string) => unknown(r, e, a))(
        'REPEAT.IDEMPOTENT',
        idempotent,
        'both signals arrive; one STOPPING transition, one persist, the drain is not restarted or cut short',
        manifest.capabilities.probe
          ? `${acks} signal acks, ${stoppingStates} STOPPING transition(s), ${persisted} persist(s); held request ${r?.ok ? 'completed' : `failed (${r?.error})`}`
          : `held request ${r?.ok ? 'completed' : `failed (${r?.error})`}; ${notes(events, 'ack-timeout').length} ack timeouts`,
      ),
      verifyDrain(events, manifest, { labels: ['held'], what: 'the held request (despite the second signal)' }),
    );
    return out;
  },
});
