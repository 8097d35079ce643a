import { defineCase, signalFor } from '../case.js';
import { exitOf, probe, verdict } from '../grade/index.js';
import { type LifecycleState, legalTransitions, loadLifecycle } from '../spec-lifecycle.js';
import { stopBudget, waitAck, waitExit, waitReloadOutcome } from '../workload.js';

/**
 * Allowed transitions: the lifecycle table's (spec/lifecycle.json). The initial state is a state, not a
 * transition: it may go unreported, so the first report is the initial state or one it can reach.
 */
function allowedFrom(prev: LifecycleState | null): readonly LifecycleState[] {
  const t = loadLifecycle();
  return prev === null ? [t.initial, ...legalTransitions()[t.initial]] : legalTransitions()[prev];
}

/**
 * Spec: "lifecycle states and transitions are the spec's and are observable", and "exactly one
 * component owns process exit": one `exiting` event whose code is the process's exit code.
 */
export default defineCase({
  id: 'bus.lifecycle',
  title: 'Lifecycle states follow the spec: start, reload, stop',
  description:
    'Start, reload once (if declared), stop. The probe must show only allowed transitions, reach EXITING, and announce the exit code the process then really exits with, exactly once.',
  requirements: ['BUS.STATES', 'BUS.SINGLE_EXIT_OWNER'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const reload = signalFor(ctx.manifest, 'reload');
    if (reload) {
      s.writeConfig({ generation: 2 });
      const t = s.signal(reload);
      await waitAck(ctx, s, reload, t, 2000);
      await waitReloadOutcome(ctx, s, t, 'reload', { strict: true });
    }
    s.signal(signalFor(ctx.manifest, 'stop')!);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events }) {
    const states = probe(events, 'state').map((e) => String(e.data.state) as LifecycleState);
    const bad: string[] = [];
    let prev: LifecycleState | null = null;
    for (const st of states) {
      if (!allowedFrom(prev).includes(st)) bad.push(`${prev ?? '(start)'}→${st}`);
      prev = st;
    }
    const exiting = probe(events, 'exiting');
    const x = exitOf(events);
    return [
      verdict(
        'BUS.STATES',
        states.length >= 3 && bad.length === 0 && states.at(-1) === 'EXITING',
        'only allowed transitions, ending in EXITING',
        `${states.join(' → ') || '(no states)'}${bad.length ? `; not allowed: ${bad.join(', ')}` : ''}`,
      ),
      verdict(
        'BUS.SINGLE_EXIT_OWNER',
        exiting.length === 1 && x !== null && x.signal === null && x.code === exiting[0]?.data.code,
        'exactly one `exiting` event, and the process exits with the code it announced',
        `${exiting.length} exiting event(s) (code ${String(exiting[0]?.data.code)}); process: ${x ? (x.signal ? `killed by ${x.signal}` : `exit ${x.code}`) : 'did not exit'}`,
      ),
    ];
  },
});
