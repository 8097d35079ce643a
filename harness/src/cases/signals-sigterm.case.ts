import { defineCase } from '../case.js';
import { describeExit, exitMatches, exitOf, probe, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';

/**
 * Spec: "SIGTERM starts a graceful stop (default map)" — what systemd, Kubernetes and `docker stop`
 * send. Graded where the declared map keeps that meaning (E38).
 */
export default defineCase({
  id: 'signals.sigterm-graceful',
  title: 'SIGTERM starts a graceful stop',
  description:
    'Send SIGTERM to an idle subject: it must go through a graceful stop and exit 0, never die by the signal.',
  requirements: ['SIG.TERM.GRACEFUL'],
  edgeCases: ['E33'],
  applies: { platforms: ['linux', 'darwin'] },
  notApplicable: (m) =>
    m.signals.SIGTERM === 'stop'
      ? null
      : `the declared map gives SIGTERM: ${m.signals.SIGTERM ?? '(nothing)'} (tested against its own map, E38)`,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    s.signal('SIGTERM');
    await waitExit(ctx, s, ctx.manifest.gracePeriodMs + 2000);
  },
  grade({ events, manifest }) {
    const x = exitOf(events);
    const stopping = probe(events, 'state').some((e) => e.data.state === 'STOPPING');
    return [
      verdict(
        'SIG.TERM.GRACEFUL',
        exitMatches(x, 0) && (!manifest.capabilities.probe || stopping),
        'SIGTERM leads through STOPPING to exit 0',
        `${describeExit(x)}${manifest.capabilities.probe ? (stopping ? ', STOPPING observed' : ', no STOPPING state') : ''}`,
      ),
    ];
  },
});
