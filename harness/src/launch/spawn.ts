/**
 * Spawning the subject's process: inside the launch's tracking (tracking.ts: through the cgroup wrapper
 * when there is one), in its own session and process group (POSIX), stdout/stderr and the probe channel
 * on pipes. A command that cannot be started is a LaunchError 'not-found' with a one-line message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, existsSync, constants as fsConstants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { LaunchError, oneLine } from './errors.js';
import type { Prepared } from './handover.js';

const isWindows = process.platform === 'win32';

/**
 * Why `execvp(file)` would fail (`ENOENT`, `EACCES`), or null when it would find an executable: the
 * PATH search of execvp(3) (relative entries against `cwd`), or `file` itself when it has a slash.
 */
function executableProblem(file: string, cwd: string, pathVar: string | undefined): 'ENOENT' | 'EACCES' | null {
  const candidates = file.includes('/')
    ? [resolve(cwd, file)]
    : (pathVar ?? '/bin:/usr/bin').split(delimiter).map((dir) => resolve(cwd, dir === '' ? '.' : dir, file));
  let denied = false;
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(c, fsConstants.X_OK);
      return null;
    } catch {
      denied = true;
    }
  }
  return denied ? 'EACCES' : 'ENOENT';
}

function spawnErrorMessage(err: NodeJS.ErrnoException, command: string): string {
  if (err.code === 'ENOENT') return `command not found: ${command}`;
  if (err.code === 'EACCES') return `command not executable (permission denied): ${command}`;
  return `cannot start ${command}: ${err.code ?? oneLine(err.message)}`;
}

/**
 * Spawn `command args` (under `wrap` when given) for the prepared launch. Resolves once the process exists
 * (it has a pid); rejects with LaunchError 'not-found' when the command (or the wrapper) cannot be started.
 */
export async function spawnSubject(
  p: Prepared,
  args: readonly string[],
  env: Record<string, string>,
  wrap: readonly string[],
): Promise<ChildProcess> {
  const m = p.manifest;
  const hasSlash = m.command.includes('/') || (isWindows && m.command.includes('\\'));
  if (hasSlash && !existsSync(m.command))
    throw new LaunchError('not-found', `command not found: ${m.command}`, { runId: p.runId });
  const file = wrap[0] ?? m.command;
  const argv = wrap.length > 0 ? [...wrap.slice(1), m.command, ...args] : [...args];
  // the tracking wrapper (sh, exec) would turn a missing command into exit 127: check it here instead
  const tracked = p.tracker.wrap(file, argv);
  if (tracked.file !== file) {
    const code = executableProblem(file, m.cwd, env.PATH);
    if (code !== null) {
      const what =
        spawnErrorMessage({ code } as NodeJS.ErrnoException, file) + (wrap.length > 0 ? ' (the wrapper)' : '');
      throw new LaunchError('not-found', what, { runId: p.runId });
    }
  }

  const child = spawn(tracked.file, tracked.args, {
    cwd: m.cwd,
    env,
    detached: !isWindows, // POSIX: setsid(), so the subject leads its own process group
    stdio: m.capabilities.probe === true ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });

  if (child.pid === undefined) {
    const err = await new Promise<NodeJS.ErrnoException>((r) => child.once('error', r));
    const what = spawnErrorMessage(err, file) + (wrap.length > 0 ? ' (the wrapper)' : '');
    throw new LaunchError('not-found', what, { runId: p.runId });
  }
  return child;
}
