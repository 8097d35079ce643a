import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineCase } from '../case.js';
import { verifyPidfileNotOurs } from '../grade/index.js';
import { noStopRoute, requestStop, stopBudget, waitExit } from '../workload.js';

/**
 * Spec: the owner removes the pidfile "only while it still names that process" (PIDFILE.REMOVED, E39).
 * After readiness the pidfile is replaced, atomically, by one naming another live process (the harness:
 * a new instance of the server that started before this one has gone would do the same); then the
 * subject is stopped gracefully. Judged by `grade/pidfile.ts`.
 */
export default defineCase({
  id: 'pidfile.not-ours',
  title: 'A pidfile that names another process survives the stop',
  description:
    'After readiness the harness replaces $SIGCERT_STATE_DIR/server.pid with one naming another live process, then stops the subject gracefully: the pidfile must still be there, unchanged.',
  requirements: ['PIDFILE.REMOVED'],
  edgeCases: ['E39'],
  applies: { capabilities: ['pidfile'] },
  notApplicable: noStopRoute,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const file = path.join(s.stateDir, 'server.pid');
    const content = String(process.pid);
    const tmp = `${file}.sigcert-${process.pid}.tmp`;
    writeFileSync(tmp, `${content}\n`);
    renameSync(tmp, file);
    ctx.note('pidfile-replaced', { content });
    await requestStop(ctx, s);
    await waitExit(ctx, s, stopBudget(ctx));
    const exists = existsSync(file);
    ctx.note('pidfile-after-stop', { exists, content: exists ? readFileSync(file, 'utf8').trim() : null });
  },
  grade({ events }) {
    return [verifyPidfileNotOurs(events)];
  },
});
