import { defineCase, signalFor } from '../case.js';
import { describeExit, exitOf, ms, notes, probe, sent, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';

const GRACE_MS = 1500;

/**
 * Spec: "a failing stop subscriber is logged and never blocks exit" (SHOULD). Uses the protocol's
 * test-only fault injection: one subscriber throws; in a second launch, one never finishes.
 */
export default defineCase({
  id: 'bus.subscriber-failure',
  title: 'A stop subscriber that throws or hangs never blocks exit or persist',
  description: `Launch with SIGCERT_FAULT=stop-subscriber-throws, stop; then with stop-subscriber-hangs (grace ${GRACE_MS} ms), stop. Each time the subject must persist and exit within the grace period plus slack.`,
  requirements: ['BUS.SUBSCRIBER_FAILURE'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['faultInjection', 'probe'] },
  timeout: 'short',
  async run(ctx) {
    for (const fault of ['stop-subscriber-throws', 'stop-subscriber-hangs']) {
      const s = await ctx.launch({ env: { SIGCERT_FAULT: fault, SIGCERT_GRACE_MS: String(GRACE_MS) } });
      s.signal(signalFor(ctx.manifest, 'stop')!);
      await waitExit(ctx, s, GRACE_MS + 3000);
      ctx.note('fault', { fault, launch: s.launchIndex });
    }
  },
  grade({ events }) {
    return notes(events, 'fault').map((f) => {
      const launch = Number(f.launch);
      const x = exitOf(events, launch);
      const send = sent(events, launch)[0];
      const took = x && send ? ms(send.ns, x.ns) : Number.NaN;
      const persisted = probe(events, 'persisted', launch).length;
      return verdict(
        'BUS.SUBSCRIBER_FAILURE',
        x !== null && x.signal === null && persisted >= 1 && took <= GRACE_MS + 1000,
        `with ${String(f.fault)}, the subject persists and exits within ${GRACE_MS} ms (+1000 ms slack)`,
        `${describeExit(x)}${Number.isFinite(took) ? ` after ${took.toFixed(0)} ms` : ''}; ${persisted} persisted`,
      );
    });
  },
});
