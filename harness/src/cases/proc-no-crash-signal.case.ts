import { defineCase, signalFor } from '../case.js';
import { describeExit, exitOf, notes, verdict } from '../grade/index.js';
import { waitAck, waitExit } from '../workload.js';

const NON_STOPPING = new Set(['reload', 'reopen-logs', 'ignore']);

/**
 * Spec: "the subject never dies by a signal its map handles". Every declared signal whose action
 * leaves the subject running is sent in turn (each after the previous was acknowledged, or 200 ms
 * for black-box subjects); the subject must survive them all, then stop by its stop signal and exit
 * normally, not by a signal. (Every other case also turns an unexpected death into a failure of this
 * requirement; this one exercises the whole map on purpose.)
 */
export default defineCase({
  id: 'proc.no-crash-signal',
  title: 'Every declared non-stopping signal leaves the subject running; the stop ends in a normal exit',
  description:
    'Send each signal the declared map gives reload, reopen-logs or ignore, then the stop signal. The subject must survive the first group and exit (not die by a signal) after the last.',
  requirements: ['PROC.NO_CRASH_SIGNAL', 'SIG.MAP.DECLARED'],
  edgeCases: ['E01', 'E24'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    for (const [sig, action] of Object.entries(ctx.manifest.signals)) {
      if (!NON_STOPPING.has(action) || s.exited) continue;
      const t = s.signal(sig as NodeJS.Signals);
      if (action !== 'ignore') await waitAck(ctx, s, sig, t, 2000);
      const died = await s
        .waitExit(ctx.ms(200))
        .then(() => true)
        .catch(() => false);
      ctx.note('survived', { sig, action, survived: !died });
    }
    if (!s.exited) s.signal(signalFor(ctx.manifest, 'stop')!);
    await waitExit(ctx, s, ctx.manifest.gracePeriodMs + 2000);
  },
  grade({ events }) {
    const sv = notes(events, 'survived');
    const dead = sv.filter((x) => x.survived !== true);
    const x = exitOf(events);
    return [
      verdict(
        'PROC.NO_CRASH_SIGNAL',
        dead.length === 0 && x !== null && x.signal === null,
        'no declared signal kills the subject; the stop ends in a normal exit',
        `${sv.length} non-stopping signal(s) sent (${sv.map((v) => v.sig).join(', ') || 'none'})${dead.length ? `; died after ${dead.map((d) => d.sig).join(', ')}` : ''}; ${describeExit(x)}`,
      ),
      verdict(
        'SIG.MAP.DECLARED',
        dead.length === 0,
        'signals declared as reload, reopen-logs or ignore leave the subject running',
        dead.length ? `died after ${dead.map((d) => `${d.sig} (${d.action})`).join(', ')}` : 'all survived',
      ),
    ];
  },
});
