// The zoo base's worker process (ZOO_WORKER=1). The supervisor owns every signal decision: the worker
// ignores the signals a process-group delivery brings (PROC.GROUP_DELIVERY) and exits when told to over
// IPC, or when its supervisor dies (the IPC channel closes, PROC.PARENT_DEATH).
// ZOO_WORKER_MODE=stubborn (bug orphan-worker) ignores both: it outlives its supervisor.
const stubborn = process.env.ZOO_WORKER_MODE === 'stubborn';
for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1']) process.on(sig, () => {});
process.on('message', (m) => {
  if (m === 'stop' && !stubborn) process.exit(0);
});
process.on('disconnect', () => { 
  if (!stubborn) process.exit(0);
});
setInterval(() => {}, 60_000); // the "work"
