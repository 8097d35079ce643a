import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defineCase } from '../case.js';
import { notes, verdict } from '../grade/index.js';
import { verifyPidfileRemoved } from '../grade/pidfile.js';
import { noStopRoute, requestStop, stopBudget, waitExit } from '../workload.js';

/**
 * Spec: the pidfile is "written atomically after the handlers and listeners are up" and "removed by its
 * owner at the end of every clean stop path" (E39). The stop is the declared stop signal, or on Windows
 * (`--platform win32`) `POST /control/stop`.
 */
export default defineCase({
  id: 'pidfile.lifecycle',
  title: 'The pidfile holds the pid while running and is removed after a clean stop',
  description:
    'After readiness, $SIGCERT_STATE_DIR/server.pid must hold the subject pid; after a graceful stop it must be gone.',
  requirements: ['PIDFILE.WRITTEN', 'PIDFILE.REMOVED'],
  edgeCases: ['E39'],
  applies: { capabilities: ['pidfile'] },
  notApplicable: noStopRoute,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const file = path.join(s.stateDir, 'server.pid');
    ctx.note('while-running', {
      exists: existsSync(file),
      content: existsSync(file) ? readFileSync(file, 'utf8').trim() : null,
      pid: s.pid,
    });
    await requestStop(ctx, s);
    await waitExit(ctx, s, stopBudget(ctx));
    ctx.note('after-stop', { exists: existsSync(file) });
  },
  grade({ events }) {
    const r = notes(events, 'while-running')[0];
    return [
      verdict(
        'PIDFILE.WRITTEN',
        r?.exists === true && r.content === String(r.pid),
        'the pidfile exists at readiness and holds the pid',
        r?.exists ? `holds "${String(r.content)}" (pid ${String(r.pid)})` : 'missing',
      ),
      verifyPidfileRemoved(events, 'clean stop', 'after-stop'),
    ];
  },
});
