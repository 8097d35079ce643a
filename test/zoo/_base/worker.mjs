// The zoo base's worker process (ZOO_WORKER=1). The supervisor owns every signal decision: the worker
// ignores the signals a process-group delivery brings (PROC.GROUP_DELIVERY) and exits when told to over
// IPC, or when its supervisor dies (its IPC channel closes: PROC.PARENT_DEATH). It says hello once its
// channel is up; the supervisor announces readiness only after that, so a supervisor killed right after
// readiness always leaves a worker that can notice.
// ZOO_WORKER_MODE=stubborn (bug orphan-worker) ignores both: it outlives its supervisor.
const stubborn = process.env.ZOO_WORKER_MODE === 'stubborn';
// ZOO_WORKER_MODE=fragile (bug worker-group-crash) keeps the default actions: a group delivery kills it.
const fragile = process.env.ZOO_WORKER_MODE === 'fragile';
if (!fragile)
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']) process.on(sig, () => {});
if (!process.connected && !stubborn) process.exit(0); // the supervisor died while we started
process.on('message', (m) => {
  if (m === 'stop' && !stubborn) process.exit(0);
});
process.on('disconnect', () => {
  if (!stubborn) process.exit(0);
});
process.send?.('hello');
setInterval(() => {}, 60_000); // the "work"
