import { defineCase, signalFor } from '../case.js';
import { connectProbe } from '../clients/probe-connect.js';
import { describeExit, exitMatches, exitOf, notes, probe, sent, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';
import { BIND_HOLD_MS, bindHold } from './bind-hold.js';

const DELAY_MS = 600;

/**
 * Spec: "a stop during STARTING never opens a listener afterwards" and "still persists state"
 * (E02, E34); "signals that arrive during STARTING are recorded and honoured".
 */
export default defineCase({
  id: 'startup.stop-while-starting',
  title: 'A stop during STARTING persists state and never opens a listener afterwards',
  description: `Launch with SIGCERT_STARTUP_DELAY_MS=${DELAY_MS} (and SIGCERT_BIND_HOLD_MS=${BIND_HOLD_MS} with slowBind: a listener bound after the stop stays open long enough to be seen), send the stop signal while STARTING, then probe the port until the subject exits. It must exit gracefully, persist, and never accept a connection.`,
  requirements: ['START.STOP_NO_LISTENER', 'START.STOP_PERSISTS', 'START.SIGNALS_RECORDED'],
  edgeCases: ['E02', 'E34'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe', 'slowStartup'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch({
      waitReady: false,
      env: { SIGCERT_STARTUP_DELAY_MS: String(DELAY_MS), ...bindHold(ctx.manifest) },
    });
    await s.waitProbe((e) => e.ev === 'handlers', ctx.ms(5000), 'handlers installed');
    s.signal(signalFor(ctx.manifest, 'stop')!);
    for (let i = 0; i < 200 && !s.exited; i++) {
      const r = await connectProbe(s.ports.http!, {
        history: ctx.history,
        timeoutMs: 500,
        label: `startup-probe-${i}`,
      });
      ctx.note('port', { outcome: r.outcome });
      if (r.outcome === 'refused') await new Promise((res) => setTimeout(res, 10)); // bounded poll interval
    }
    await waitExit(ctx, s, DELAY_MS + 5000);
  },
  grade({ events }) {
    const x = exitOf(events);
    const stop = sent(events)[0];
    const accepted = notes(events, 'port').filter((p) => p.outcome !== 'refused');
    const listeningAfter = stop ? probe(events, 'listening').filter((e) => BigInt(e.ns) > BigInt(stop.ns)) : [];
    const persisted = probe(events, 'persisted').length;
    return [
      verdict(
        'START.STOP_NO_LISTENER',
        accepted.length === 0 && listeningAfter.length === 0,
        'no connection is accepted and no listener opened after the stop request',
        `${accepted.length} connection(s) accepted, ${listeningAfter.length} listening event(s) after the stop`,
      ),
      verdict(
        'START.STOP_PERSISTS',
        persisted >= 1,
        'state is persisted on the stop-during-STARTING path',
        `${persisted} persisted event(s)`,
      ),
      verdict(
        'START.SIGNALS_RECORDED',
        exitMatches(x, 0),
        'the stop received during STARTING is honoured: a graceful exit 0',
        describeExit(x),
      ),
    ];
  },
});
