import { defineCase, signalFor } from '../case.js';
import { exitOf, notes, probe, throughSignal, unknown, verdict } from '../grade/index.js';
import { http } from '../workload.js';

const DELAY_MS = 400;

/**
 * Spec: "signal handlers are installed before readiness is announced" (E01); "signals that arrive
 * during STARTING are recorded and honoured"; "SIGHUP never terminates the subject, in any state".
 * With a probe, the reload signal is sent at the `handlers` event and again mid-way through a slow
 * start; the configuration written before those signals must be the one served.
 */
export default defineCase({
  id: 'startup.reload-while-starting',
  title: 'Reload signals during STARTING never kill and are honoured',
  description: `Launch with SIGCERT_STARTUP_DELAY_MS=${DELAY_MS}. Write generation 2 and send the reload signal as soon as handlers are reported, again during STARTING. The subject must become ready, survive, and serve generation 2; its probe's handlers event, before ready, must name every signal the declared map gives an action.`,
  requirements: ['START.SIGNALS_RECORDED', 'START.HANDLERS_BEFORE_READY'],
  alsoJudges: ['SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E01', 'E24'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['reload'],
    capabilities: ['probe', 'slowStartup'],
    needs: ['config'],
  },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch({ waitReady: false, env: { SIGCERT_STARTUP_DELAY_MS: String(DELAY_MS) } });
    const sig = signalFor(ctx.manifest, 'reload')!;
    await s.waitProbe((e) => e.ev === 'handlers', ctx.ms(5000), 'handlers installed');
    s.writeConfig({ generation: 2 });
    s.signal(sig);
    await s
      .waitProbe((e) => e.ev === 'state' && e.state === 'STARTING', ctx.ms(2000), 'STARTING')
      .catch(() => undefined);
    if (!s.exited) s.signal(sig);
    await s.waitProbe((e) => e.ev === 'ready', ctx.ms(DELAY_MS + 5000), 'ready');
    const r = await http(ctx, s, { path: '/config', label: 'config' });
    ctx.note('config', { ok: r.ok, body: r.body.toString(), alive: !s.exited });
  },
  grade({ events, manifest }) {
    const c = notes(events, 'config')[0];
    let gen: number | null = null;
    try {
      gen = c?.ok ? (JSON.parse(String(c.body)) as { generation: number }).generation : null;
    } catch {
      gen = null;
    }
    const x = exitOf(events);
    const handlers = probe(events, 'handlers')[0];
    const ready = probe(events, 'ready')[0];
    const firstSend = events.find((e) => e.source === 'harness' && e.kind === 'signal-sent');
    const started = probe(events, 'state').find((e) => e.data.state === 'STARTED');
    // the probe's `handlers` event names the signals with a handler (protocol section 8): every signal the
    // declared map gives an action must be among them (found by mutation testing: an empty event passed)
    const named = Array.isArray(handlers?.data.signals) ? (handlers.data.signals as unknown[]).map(String) : [];
    const unnamed = Object.entries(manifest.signals)
      .filter(([, action]) => action !== 'ignore')
      .map(([sig]) => sig)
      .filter((sig) => !named.includes(sig));
    const startedBeforeSignal =
      firstSend !== undefined && started !== undefined && BigInt(started.ns) < BigInt(firstSend.ns);
    return [
      ...throughSignal(manifest, 'SIGHUP', 'reload', [
        verdict(
          'SIG.HUP.NEVER_FATAL',
          x === null && c?.alive === true,
          'the subject survives reload signals during STARTING',
          x ? `it ended: ${x.signal ? `killed by ${x.signal}` : `exit ${x.code}`}` : 'alive',
        ),
      ]),
      // a machine too slow to send the first signal before the subject reached STARTED tested no
      // signal during STARTING (the reload then runs as the case reads /config): not judged
      startedBeforeSignal
        ? unknown(
            'START.SIGNALS_RECORDED',
            'the configuration written before the reload signals (generation 2) is the one served once STARTED',
            'the first reload signal was sent after the subject had reached STARTED: no signal arrived during STARTING',
          )
        : verdict(
            'START.SIGNALS_RECORDED',
            gen === 2,
            'the configuration written before the reload signals (generation 2) is the one served once STARTED',
            gen === null ? 'no configuration could be read' : `serving generation ${gen}`,
          ),
      verdict(
        'START.HANDLERS_BEFORE_READY',
        handlers !== undefined &&
          ready !== undefined &&
          BigInt(handlers.ns) <= BigInt(ready.ns) &&
          unnamed.length === 0,
        'the probe reports handlers installed, for every signal of the declared map with an action, before ready',
        handlers && ready
          ? `handlers at ${handlers.t.toFixed(1)} ms, ready at ${ready.t.toFixed(1)} ms${
              unnamed.length ? `; the handlers event does not name ${unnamed.join(', ')}` : ''
            }`
          : 'events missing',
      ),
    ];
  },
});
