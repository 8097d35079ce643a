import { defineCase, hasEndpoint, signalFor } from '../case.js';
import { describeExit, exitOf, notes, verdict } from '../grade/index.js';
import { http, recordResult, waitAck } from '../workload.js';

/**
 * Spec 4.2: SIG.HUP.NEVER_FATAL holds whatever the map says, and the harness may send SIGHUP for it
 * even when the declared map leaves SIGHUP out. A map that gives SIGHUP `stop` or `fast-stop` fails
 * by itself ("A map MUST NOT give SIGHUP the stop or fast-stop action").
 */
export default defineCase({
  id: 'signals.hup-never-fatal',
  title: 'SIGHUP never ends the subject, whatever its declared map says',
  description:
    'Send SIGHUP to a ready subject (map-independent, spec 4.2), watch it for up to 1 s, then check it still serves. A declared map that gives SIGHUP stop or fast-stop fails by itself.',
  requirements: ['SIG.HUP.NEVER_FATAL'],
  edgeCases: ['E24'],
  applies: { platforms: ['linux', 'darwin'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const t = s.signal('SIGHUP');
    if (ctx.manifest.signals.SIGHUP === 'reload') await waitAck(ctx, s, 'SIGHUP', t, 2000);
    // black box: nothing acknowledges a harmless SIGHUP; a fatal one shows as an exit within this bound
    const exited = await s
      .waitExit(ctx.ms(1000))
      .then(() => true)
      .catch(() => false);
    const m = ctx.manifest;
    const path = hasEndpoint(m, 'live') ? '/live' : m.readiness.path;
    if (!exited) recordResult(ctx, await http(ctx, s, { path, label: 'after-hup' }));
    ctx.note('alive', { alive: !s.exited });
    // leave through the declared stop signal when there is one (teardown otherwise)
    const stop = signalFor(m, 'stop');
    if (stop && !s.exited) s.signal(stop);
  },
  grade({ events, manifest }) {
    const declared = manifest.signals.SIGHUP;
    const mapOk = declared !== 'stop' && declared !== 'fast-stop';
    const alive = notes(events, 'alive')[0]?.alive === true;
    const r = notes(events, 'result')[0];
    const x = exitOf(events);
    const ended = alive ? null : x;
    return [
      verdict(
        'SIG.HUP.NEVER_FATAL',
        mapOk && alive && r?.ok === true,
        'SIGHUP leaves the subject running and serving, and the declared map does not give SIGHUP stop or fast-stop',
        `declared SIGHUP: ${declared ?? '(not in the map)'}; ${alive ? (r?.ok ? `alive, served ${r.status}` : `alive but not serving (${String(r?.error)})`) : `it ended: ${describeExit(ended)}`}`,
      ),
    ];
  },
});
