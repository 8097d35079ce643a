import { execFileSync } from 'node:child_process';
import { defineCase, hasEndpoint, signalFor } from '../case.js';
import { describeExit, exitMatches, exitOf, notes, verdict } from '../grade/index.js';
import { http, recordResult, stopBudget, waitExit } from '../workload.js';

function unshareWorks(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--kill-child', 'true'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Spec: "the subject behaves the same when it runs as PID 1" (E31): as PID 1 of a PID namespace a
 * process has no default signal dispositions, so every signal it gives meaning to needs an
 * explicit handler. The subject runs under `unshare --pid --fork --kill-child`; signals go to the
 * namespace's PID 1 by its outer pid (a signal from an ancestor namespace reaches PID 1 only if it
 * has a handler, which is exactly the point).
 */
export default defineCase({
  id: 'proc.pid1',
  title: 'As PID 1 of a PID namespace the subject still reloads and stops gracefully',
  description:
    'Run the subject as PID 1 (unshare --pid --fork), send the reload signal (it must survive), then the stop signal (it must exit gracefully).',
  requirements: ['PROC.PID1'],
  edgeCases: ['E31', 'E32'],
  applies: { platforms: ['linux'], actions: ['stop'] },
  notApplicable: () => (unshareWorks() ? null : 'unshare --pid is not permitted here (needs root or user namespaces)'),
  timeout: 'short',
  async run(ctx) {
    const m = ctx.manifest;
    const s = await ctx.launch({ wrap: ['unshare', '--pid', '--fork', '--kill-child'] });
    // unshare itself dies on SIGHUP, so signals go straight to the namespace's PID 1 (its child)
    const inner = (await s.descendants()).find((p) => p.ppid === s.pid);
    if (!inner) throw new Error('could not find the subject inside the PID namespace');
    const send = (sig: NodeJS.Signals) => {
      const ns = process.hrtime.bigint();
      process.kill(inner.pid, sig);
      ctx.history.add('harness', 'signal-sent', { sig, pid: inner.pid, group: false, pid1: true }, ns, s.launchIndex);
    };
    const reload = signalFor(m, 'reload');
    if (reload) {
      send(reload);
      if (m.capabilities.probe)
        await s
          .waitProbe((e) => e.ev === 'signal' && e.sig === reload, ctx.ms(2000), 'reload ack')
          .catch(() => undefined);
      const path = hasEndpoint(m, 'live') ? '/live' : m.readiness.path;
      recordResult(ctx, await http(ctx, s, { path, label: 'after-reload' }));
    }
    send(signalFor(m, 'stop')!);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events }) {
    const x = exitOf(events);
    const r = notes(events, 'result')[0];
    return [
      verdict(
        'PROC.PID1',
        (r === undefined || r.ok === true) && exitMatches(x, 0),
        'as PID 1 the subject survives the reload signal and stops with exit 0',
        `${r ? (r.ok ? 'serving after reload; ' : `not serving after reload (${String(r.error)}); `) : ''}${describeExit(x)}`,
      ),
    ];
  },
});
