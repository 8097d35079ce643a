/**
 * Test helper: what the operating system says about a process, without signalling it.
 * `process.kill(pid, 0)` succeeds on a zombie, so "gone" is read from the process table instead:
 * `/proc/<pid>/stat` on Linux, `ps` elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The state letter of `pid` (`R`, `S`, `Z`, ...), or null when there is no such process. */
export function procState(pid: number): string | null {
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
    } catch {
      return null;
    }
  }
  try {
    return (
      execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' })
        .trim()
        .slice(0, 1) || null
    );
  } catch {
    return null;
  }
}

/** Running (or sleeping, stopped...): present and neither a zombie nor dead. */
export function isRunning(pid: number): boolean {
  const s = procState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
}

/** True when `pid` runs and its environment carries `SIGCERT_RUN_ID=<runId>` (Linux: /proc; else: ps). */
export function carriesMarker(pid: number, runId: string): boolean {
  if (!isRunning(pid)) return false;
  const marker = `SIGCERT_RUN_ID=${runId}`;
  try {
    if (process.platform === 'linux')
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
    return execFileSync('ps', ['eww', '-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).includes(marker);
  } catch {
    return false;
  }
}

/**
 * Cleanup for tests that killed a supervisor: SIGKILL each of `pids` that still runs with our run
 * marker (so never a reused pid of somebody else's process).
 */
export function killMarked(pids: readonly number[], runId: string): void {
  for (const pid of pids) {
    if (!carriesMarker(pid, runId)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Waits until `pred()` holds, checking every `everyMs`; resolves false at the deadline. */
export async function until(pred: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs)); // bounded poll of the process table
  }
}

/** Targets of `pid`'s open file descriptors (Linux only). */
export function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readlinkSync(`${dir}/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
