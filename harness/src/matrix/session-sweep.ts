/**
 * The matrix's safety net after each case (Linux): kill what the harness's own teardown left running
 * in the sessions the case's launches led. A process sweep that belongs with the launcher (launch/),
 * kept here until launch/ offers the same by leader pid.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { CaseResult } from '../report/index.js';

/**
 * Linux safety net after each case: processes still alive in the session of one of the case's launches
 * once that launch's leader (the harness's direct child, spawned with setsid) is gone. The harness's own
 * teardown finds processes by the run marker in their environment, which a process can overwrite
 * (nginx's setproctitle does); whatever it missed is killed here and reported as a leak. A session id
 * cannot name anything else while a member of the session lives, and a leader pid that is alive again
 * (reused) disables the sweep for that session.
 */
export function sweepSessions(leaders: readonly number[]): { pid: number; cmdline: string }[] {
  if (process.platform !== 'linux' || leaders.length === 0) return [];
  const gone = new Set(leaders.filter((p) => p > 1 && !existsSync(`/proc/${p}`)));
  if (gone.size === 0) return [];
  const sessionOf = (pid: number): number | null => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return f[0] === 'Z' || f[0] === 'X' ? null : Number(f[3]);
    } catch {
      return null;
    }
  };
  const swept: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const sid = sessionOf(pid);
    if (sid === null || !gone.has(sid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      // gone meanwhile
    }
    // re-checked just before the kill: still in that session, its leader still gone
    if (sessionOf(pid) !== sid || existsSync(`/proc/${sid}`)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      swept.push({ pid, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return swept;
}

/** Pids of the launches of a case (its `spawn` events). */
export function spawnedPids(r: CaseResult): number[] {
  return r.timeline
    .filter((e) => e.source === 'process' && e.kind === 'spawn' && typeof e.data.pid === 'number')
    .map((e) => e.data.pid as number);
}
