import { defineCase, hasEndpoint, signalFor } from '../case.js';
import { exitOf, notes, throughSignal, verdict } from '../grade/index.js';
import { http, recordResult } from '../workload.js';

/**
 * Spec: "signal handlers are installed before readiness is announced" (E01). The harness sends the
 * reload signal the instant readiness is observed; a subject that announces readiness before it
 * installs its handlers dies here. Works for black-box subjects too.
 */
export default defineCase({
  id: 'startup.reload-at-ready',
  title: 'A reload signal at the instant of readiness never kills',
  description:
    'Send the reload signal the moment readiness is observed (probe event, HTTP or TCP), then check the subject is alive and serving.',
  requirements: ['START.HANDLERS_BEFORE_READY'],
  alsoJudges: ['SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E01', 'E24'],
  applies: { platforms: ['linux', 'darwin'], actions: ['reload'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const sig = signalFor(ctx.manifest, 'reload')!;
    s.signal(sig);
    // observe the outcome: liveness over HTTP (or TCP for black-box), and the process itself
    const exited = await s
      .waitExit(ctx.ms(300))
      .then(() => true)
      .catch(() => false);
    const path = hasEndpoint(ctx.manifest, 'live') ? '/live' : ctx.manifest.readiness.path;
    if (!exited) recordResult(ctx, await http(ctx, s, { path, label: 'live-after' }));
    ctx.note('alive', { alive: !s.exited });
  },
  grade({ events, manifest }) {
    const alive = notes(events, 'alive')[0]?.alive === true;
    const x = exitOf(events);
    const r = notes(events, 'result')[0];
    const ok = alive && r?.ok === true;
    const actual = x
      ? `it ended: ${x.signal ? `killed by ${x.signal}` : `exit ${x.code}`}`
      : r?.ok
        ? `alive, served ${r.status}`
        : `alive but not serving (${r?.error})`;
    return [
      verdict('START.HANDLERS_BEFORE_READY', ok, 'handlers are in place by the time readiness is announced', actual),
      ...throughSignal(manifest, 'SIGHUP', 'reload', [
        verdict('SIG.HUP.NEVER_FATAL', alive, 'the reload signal right after readiness does not kill', actual),
      ]),
    ];
  },
});
