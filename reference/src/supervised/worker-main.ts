/**
 * The entry of a worker process (`cluster.setupPrimary({ exec })` in `pool.ts`). Like `main.ts` it
 * installs its signal listeners before it loads anything else, but these listeners decide nothing:
 * a worker's life is its supervisor's decision.
 *
 * Why listeners at all: a signal sent to the process group (Ctrl-C in a terminal, `kill -TERM
 * -<pgid>`, systemd's `KillMode=control-group`) reaches every worker at the same time as the
 * supervisor. Without a listener SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR2 would kill the worker
 * by their default action (and SIGUSR1 would start the inspector), tearing down its requests in
 * flight while the supervisor is starting a graceful stop. With one, the worker ignores the
 * signal; the supervisor got it too and tells the worker what to do over IPC (edge case E29).
 */
import { loadCompiled } from '../eager.js';
import { POSIX_MAP } from '../signals.js';

/** Deliberately nothing: the supervisor received the same signal and decides. */
const supervisorDecides = () => {};
for (const sig of Object.keys(POSIX_MAP)) process.on(sig as NodeJS.Signals, supervisorDecides);

try {
  const { runWorker } = await loadCompiled(() => import('./worker.js')); // compiled now, not at the stop
  await runWorker();
} catch (err) {
  // A startup failure (a port in use, no init): one line; the supervisor reports the exit.
  process.stderr.write(`sigcert worker ${process.pid}: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
}
