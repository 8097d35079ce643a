import { defineCase } from '../case.js';
import { connectProbe } from '../clients/probe-connect.js';
import { notes, verdict } from '../grade/index.js';
import { nowNs } from '../history.js';

const BOUND_MS = 1000;

/**
 * Spec: "When the main process is killed with SIGKILL, every worker MUST notice it and exit within
 * 1 s, releasing its listening sockets, so that no orphan keeps the port" (PROC.PARENT_DEATH, E27).
 */
export default defineCase({
  id: 'proc.parent-death',
  title: 'SIGKILL of the supervisor: every worker exits within 1 s and the port is released',
  description: `SIGKILL the supervisor, then watch (by run marker) until no process of the subject is left, for at most ${BOUND_MS} ms plus slack; then a new connection to the service port must be refused (no orphan keeps the listener).`,
  requirements: ['PROC.PARENT_DEATH', 'PROC.NO_ORPHANS'],
  edgeCases: ['E27'],
  applies: { platforms: ['linux', 'darwin'], capabilities: ['workers'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const workers = (await s.descendants()).filter((p) => p.pid !== s.pid);
    ctx.note('workers', { count: workers.length, pids: workers.map((p) => p.pid) });
    const t0 = s.signal('SIGKILL');
    await s.waitExit(ctx.ms(2000));
    let left = await s.descendants();
    let goneNs = left.length === 0 ? nowNs() : null;
    const deadline = Date.now() + ctx.ms(BOUND_MS + 1000);
    while (left.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20)); // bounded poll of the process table
      left = await s.descendants();
      if (left.length === 0) goneNs = nowNs();
    }
    const port = s.ports.http;
    const after =
      port === undefined
        ? null
        : await connectProbe(port, { history: ctx.history, timeoutMs: 1000, label: 'port-after' });
    ctx.note('gone', {
      ms: Number((goneNs ?? nowNs()) - t0) / 1e6,
      left: left.map((p) => `${p.pid} ${p.cmdline}`),
      port: after?.outcome ?? null,
    });
  },
  grade({ events }) {
    const w = notes(events, 'workers')[0];
    const g = notes(events, 'gone')[0];
    const left = (g?.left ?? []) as string[];
    const ms = Number(g?.ms);
    const port = g?.port as string | null | undefined;
    const released = port === null || port === undefined || port === 'refused';
    return [
      verdict(
        'PROC.PARENT_DEATH',
        Number(w?.count) > 0 && left.length === 0 && ms <= BOUND_MS + 200 && released,
        `all ${String(w?.count)} worker(s) are gone within ${BOUND_MS} ms of the supervisor's death, and the service port refuses connections`,
        `${
          left.length
            ? `${left.length} still alive after ${ms.toFixed(0)} ms: ${left.join('; ')}`
            : `all gone after ${ms.toFixed(0)} ms`
        }; a new connection afterwards: ${port ?? 'not tried'}`,
        { orphanExitMs: ms },
      ),
      verdict(
        'PROC.NO_ORPHANS',
        left.length === 0,
        'no process outlives the supervisor',
        left.length ? left.join('; ') : 'none left',
      ),
    ];
  },
});
