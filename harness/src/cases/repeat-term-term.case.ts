import { defineCase } from '../case.js';
import {
  describeExit,
  describeSpec,
  exitMatches,
  exitOf,
  gracefulExitVerdicts,
  notes,
  probe,
  type RequirementId,
  results,
  sent,
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
  requirements: ['REPEAT.IDEMPOTENT', 'REPEAT.ESCALATION', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO'],
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
    // REPEAT.ESCALATION: the second plain stop signal must not turn the stop fast. Evidence that it did,
    // from the second send on: a fast-stop request announced on the probe, or the held request cut and the
    // declared fast-stop exit where it differs from the graceful one (found by the zoo's term-escalates: a
    // cut request was charged to the drain alone). The exit alone is not enough: a server whose every stop
    // ends with the code it declares for a fast stop (node-lightship: 1) fails STOP.EXIT_ZERO, not this;
    // a request cut with no such evidence is the drain's (verifyDrain).
    const sig = idempotentStop(manifest);
    const second = sent(events, 0, sig)[1];
    const x = exitOf(events);
    const fastSpec = manifest.exitCodes.fastStop;
    const cut = r !== undefined && r.ok !== true && r.error !== 'timeout';
    const fastExit = cut && x !== null && exitMatches(x, fastSpec, sig) && !exitMatches(x, manifest.exitCodes.graceful);
    const announced = second
      ? probe(events, 'request').filter(
          (e) => BigInt(e.ns) >= BigInt(second.ns) && e.data.action === 'fast-stop' && e.data.source === 'signal',
        )
      : [];
    // without a probe, a cut request with an exit that is not the distinct fast-stop one can be a broken
    // drain as well as an escalation (nginx, gunicorn: both exits 0): not decided here
    const undecided = !manifest.capabilities.probe && cut && !fastExit;
    out.push(
      second === undefined || undecided
        ? unknown(
            'REPEAT.ESCALATION',
            'the second stop signal does not turn the stop into a fast one',
            second === undefined
              ? `the subject exited (${describeExit(x)}) before the second signal could be sent`
              : `the held request was cut (${String(r?.error)}) and the exit (${describeExit(x)}) is not a distinct fast-stop one: without a probe, an escalation cannot be told from a broken drain (STOP.DRAIN.IN_FLIGHT judges the request)`,
          )
        : verdict(
            'REPEAT.ESCALATION',
            !fastExit && announced.length === 0,
            `the second ${String(sig)} does not turn the stop into a fast one: no fast-stop request announced, no fast-stop exit (${describeSpec(fastSpec)})`,
            `${describeExit(x)}, the held request ${cut ? `cut (${String(r?.error)})` : 'not cut'}${manifest.capabilities.probe ? `; ${announced.length} fast-stop request(s) announced after the second signal` : ''}`,
          ),
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
