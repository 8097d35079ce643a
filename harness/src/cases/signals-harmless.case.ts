import { defineCase, hasEndpoint } from '../case.js';
import { notes, probe, results, verdict } from '../grade/index.js';
import { http, recordResult, startHeld } from '../workload.js';

const HOLD_MS = 600;
/** the signals SIG.HARMLESS names; one the map gives an action is that action's to judge (map.* cases) */
const HARMLESS = ['SIGWINCH', 'SIGURG', 'SIGCHLD'] as const;

/** Spec: "SIGWINCH, SIGURG and SIGCHLD change nothing" — not even in-flight requests. */
export default defineCase({
  id: 'signals.harmless',
  title: 'SIGWINCH, SIGURG and SIGCHLD during in-flight requests are harmless',
  description: `Hold a ${HOLD_MS} ms request, send each of SIGWINCH, SIGURG and SIGCHLD that the declared map gives no action. The request completes, the subject keeps serving and does not change state.`,
  requirements: ['SIG.HARMLESS'],
  applies: { platforms: ['linux', 'darwin'], needs: ['hold'] },
  notApplicable: (m) =>
    HARMLESS.every((sig) => m.signals[sig] !== undefined)
      ? 'the declared map gives every one of SIGWINCH, SIGURG and SIGCHLD an action (judged by the map.* cases)'
      : null,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    ctx.note('harmless-sent', {});
    for (const sig of HARMLESS) if (ctx.manifest.signals[sig] === undefined) s.signal(sig);
    recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
    const path = hasEndpoint(ctx.manifest, 'live') ? '/live' : ctx.manifest.readiness.path;
    recordResult(ctx, await http(ctx, s, { path, label: 'after' }));
    ctx.note('alive', { alive: !s.exited });
  },
  grade({ events }) {
    const [held, after] = results(events);
    const teardown = events.find((e) => e.source === 'harness' && e.kind === 'teardown-begin');
    const sent = events.find((e) => e.source === 'case' && e.kind === 'harmless-sent');
    // from the first send to the teardown: no state change at all (a reload's RELOADING included), and no
    // reload or restart begins (found by the zoo's sigwinch-reloads: only a stop was looked for)
    const within = (e: { ns: string | bigint }) =>
      (!sent || BigInt(e.ns) >= BigInt(sent.ns)) && (!teardown || BigInt(e.ns) < BigInt(teardown.ns));
    const states = probe(events, 'state').filter(within);
    const actions = [...probe(events, 'reload-begin'), ...probe(events, 'restart-begin')].filter(within);
    const ok =
      held?.ok === true &&
      held.body === held.expectBody &&
      after?.ok === true &&
      notes(events, 'alive')[0]?.alive === true &&
      states.length === 0 &&
      actions.length === 0;
    return [
      verdict(
        'SIG.HARMLESS',
        ok,
        'the held request completes, the subject keeps serving, its state does not change, and no stop, reload or restart begins',
        `held: ${held?.ok ? 'completed' : `failed (${held?.error})`}; after: ${after?.ok ? `served ${after.status}` : `failed (${after?.error})`}; ${states.length} state transition(s)${states.length ? ` (${states.map((e) => String(e.data.state)).join(', ')})` : ''}; ${actions.length} reload/restart(s) begun`,
      ),
    ];
  },
});
