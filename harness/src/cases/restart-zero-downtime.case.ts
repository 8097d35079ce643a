import { defineCase, signalFor } from '../case.js';
import { notes, verdict } from '../checkers/common.js';
import { http } from '../workload.js';

const CLIENTS = 4;

/**
 * Spec: "a restart with new code refuses, resets and fails no request" (E22) and "the supervisor
 * pid is stable across restarts, or the handover is documented". New code is made observable by a
 * version the harness changes before the restart (SIGCERT_CODE_VERSION is re-read from a file).
 */
export default defineCase({
  id: 'restart.zero-downtime',
  title: 'A restart under bounded load: nothing refused, reset or failed; the new code serves; the pid stays',
  description: `${CLIENTS} clients open new connections in a bounded loop; the harness writes a new code version and asks for a restart (declared signal). Every request must succeed, /version must change, and the supervisor pid must not.`,
  requirements: ['RESTART.ZERO_DOWNTIME', 'RESTART.STABLE_PID'],
  edgeCases: ['E22'],
  applies: { platforms: ['linux', 'darwin'], actions: ['restart'], capabilities: ['restart', 'conformanceEndpoints'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const before = await http(ctx, s, { path: '/version', label: 'version-before' });
    let stop = false;
    let sent = 0;
    const failures: Record<string, number> = {};
    const loop = async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        const r = await http(ctx, s, { path: '/live', label: 'load', timeoutMs: ctx.ms(5000) });
        sent++;
        if (!r.ok || r.status !== 200) {
          const k = r.error ?? `status ${r.status}`;
          failures[k] = (failures[k] ?? 0) + 1;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, loop);
    s.writeConfig({ generation: 2, codeVersion: 'restarted' });
    const t0 = s.signal(signalFor(ctx.manifest, 'restart')!);
    let after = '';
    const deadline = Date.now() + ctx.ms(15_000);
    while (Date.now() < deadline && !s.exited) {
      const r = await http(ctx, s, { path: '/version', label: 'version-after' });
      after = r.ok ? r.body.toString() : '';
      if (after && after !== before.body.toString()) break;
      await new Promise((res) => setTimeout(res, 20)); // bounded poll of /version
    }
    ctx.note('restart', { ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    stop = true;
    await Promise.all(clients);
    ctx.note('versions', { before: before.body.toString(), after, pidAlive: !s.exited, pid: s.pid });
    ctx.note('load', { sent, failures });
  },
  grade({ events }) {
    const v = notes(events, 'versions')[0];
    const load = notes(events, 'load')[0] ?? {};
    const failed = Object.values((load.failures ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
    const rs = notes(events, 'restart')[0];
    return [
      verdict(
        'RESTART.ZERO_DOWNTIME',
        Number(load.sent) > 0 && failed === 0 && v?.after !== v?.before && Boolean(v?.after),
        'no request refused, reset or failed, and /version changes',
        `${String(load.sent)} requests, ${failed} failed ${JSON.stringify(load.failures)}; version ${String(v?.before)} → ${String(v?.after)}`,
        { requests: Number(load.sent ?? 0), failed, restartMs: Number(rs?.ms ?? Number.NaN) },
      ),
      verdict(
        'RESTART.STABLE_PID',
        v?.pidAlive === true,
        'the supervisor process (same pid) is still the one running',
        v?.pidAlive ? `pid ${String(v.pid)} still running` : 'the supervisor exited',
      ),
    ];
  },
});
