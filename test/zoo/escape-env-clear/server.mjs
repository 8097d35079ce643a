// Zoo server: the correct Node base (../_base/server.mjs, ZOO_BUG unset) plus one bug: at start it leaves a
// process behind that escapes marker-based tracking: `setsid env -i node ...` (its own session, an empty
// environment, so no run marker). Found only by a tracker the kernel enforces (a cgroup per launch).
//
// So that a run where nothing can see it leaves nothing for long either, the escapee ends itself 30 s after
// the subject is gone (it polls the subject's pid; a tracked run kills it at teardown anyway).
import { spawn } from 'node:child_process';

const escapee = `
const subject = Number(process.argv[1]);
let goneSince = 0;
setInterval(() => {
  let alive = true;
  try { process.kill(subject, 0); } catch { alive = false; }
  if (alive) goneSince = 0;
  else if (goneSince === 0) goneSince = Date.now();
  else if (Date.now() - goneSince > 30000) process.exit(0);
}, 1000);
`;
const child = spawn('setsid', ['env', '-i', process.execPath, '-e', escapee, String(process.pid)], {
  stdio: 'ignore',
  detached: false,
});
child.unref();

await import('../_base/server.mjs');
