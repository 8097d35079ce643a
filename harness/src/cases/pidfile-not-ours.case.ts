import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CaseContext, defineCase } from '../case.js';
import { verifyPidfileNotOurs } from '../grade/index.js';
import { noStopRoute, pollUntil, requestStop, stopBudget, waitExit } from '../workload.js';

/**
 * Spec: the owner removes the pidfile "only while it still names that process" (PIDFILE.REMOVED, E39).
 * After readiness the pidfile is replaced, atomically, by one naming another live process (the harness:
 * a new instance of the server that started before this one has gone would do the same); then the
 * subject is stopped gracefully. Judged by `grade/pidfile.ts`.
 *
 * The harness replaces the subject's own pidfile, so it first waits for one to be there (a complete
 * decimal pid, at most OWN_PIDFILE_WAIT_MS after readiness). A subject that announces readiness before
 * it writes its pidfile (Caddy 2.6 sends READY=1 before it writes --pidfile) would otherwise overwrite
 * the replacement, or be stopped before it wrote a pidfile and so before it had one to remove: either
 * way the case would not test the removal of a pidfile naming another process. Writing it late is
 * PIDFILE.WRITTEN's business (`pidfile.lifecycle`); here a pidfile that never comes judges nothing.
 */
export const OWN_PIDFILE_WAIT_MS = 2000;

/** Poll (every 5 ms, bounded by the deadline) until `file` holds a complete decimal pid. */
function waitOwnPidfile(ctx: CaseContext, file: string, timeoutMs: number): Promise<string | null> {
  const look = () => {
    try {
      const content = readFileSync(file, 'utf8').trim();
      return /^\d+$/.test(content) ? content : null;
    } catch {
      return null; // not there yet
    }
  };
  return pollUntil(look, ctx.ms(timeoutMs), 5);
}

export default defineCase({
  id: 'pidfile.not-ours',
  title: 'A pidfile that names another process survives the stop',
  description:
    "After readiness the harness waits for the subject's own $SIGCERT_STATE_DIR/server.pid (at most 2 s), replaces it with one naming another live process, then stops the subject gracefully: the pidfile must still be there, unchanged.",
  requirements: ['PIDFILE.REMOVED'],
  edgeCases: ['E39'],
  applies: { capabilities: ['pidfile'] },
  notApplicable: noStopRoute,
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const file = path.join(s.stateDir, 'server.pid');
    const readyAt = Date.now();
    const own = await waitOwnPidfile(ctx, file, OWN_PIDFILE_WAIT_MS);
    if (own === null) {
      ctx.note('pidfile-own-missing', { waitedMs: ctx.ms(OWN_PIDFILE_WAIT_MS) });
      await requestStop(ctx, s);
      await waitExit(ctx, s, stopBudget(ctx));
      return;
    }
    ctx.note('pidfile-own', { content: own, afterReadyMs: Date.now() - readyAt });
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
