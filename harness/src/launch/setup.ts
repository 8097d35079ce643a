/**
 * The manifest's setup commands (subject-protocol.md): run one by one before the subject, each in a shell
 * with the subject's environment and cwd, inside the launch's tracking, output appended to `setup.log`.
 * Each must exit 0 within SETUP_TIMEOUT_MS and leaves nothing running (its leftovers are killed).
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { nowNs } from '../history.js';
import { describeExit, LaunchError, oneLine } from './errors.js';
import { type Prepared, substituteOrThrow } from './handover.js';
import { lastNonEmptyLine } from './logs.js';
import type { PlaceholderValues } from './placeholders.js';
import { KILL_WAIT_MS } from './tracking.js';

/** Setup commands must finish within this. */
const SETUP_TIMEOUT_MS = 60_000;

const isWindows = process.platform === 'win32';

/** Last non-empty line of a text file (reads at most the final 64 KiB), without ANSI colours. */
export function lastLine(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return lastNonEmptyLine(buf.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

export /** Run the manifest's setup commands (shell, same env and cwd, output to setup.log); each must exit 0. */
async function runSetup(
  p: Prepared,
  commands: readonly string[],
  env: Record<string, string>,
  values: PlaceholderValues,
): Promise<void> {
  const m = p.manifest;
  const logPath = join(p.runDir, p.launchIndex > 0 ? `setup.${p.launchIndex}.log` : 'setup.log');
  for (const [i, raw] of commands.entries()) {
    const cmd = substituteOrThrow(raw, values, m.name, `setup[${i}]`, p.runId);
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      const opts: SpawnOptions = {
        cwd: m.cwd,
        env,
        detached: !isWindows,
        stdio: ['ignore', fd, fd],
        windowsHide: true,
      };
      if (isWindows) {
        child = spawn(cmd, { ...opts, shell: true });
      } else {
        // inside the launch's tracking (its cgroup, when there is one), like the subject
        const w = p.tracker.wrap('/bin/sh', ['-c', cmd]);
        child = spawn(w.file, w.args, opts);
      }
    } finally {
      closeSync(fd);
    }
    const result = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      error?: Error;
      timedOut: boolean;
    }>((done) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (isWindows) child.kill('SIGKILL');
          else if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }, SETUP_TIMEOUT_MS);
      child.once('error', (error) => {
        clearTimeout(timer);
        done({ code: null, signal: null, error, timedOut });
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal, timedOut });
      });
    });
    // a setup command must not leave processes behind (nor hand them to the subject's cgroup)
    await p.tracker.sweep(KILL_WAIT_MS);
    if (result.error !== undefined || result.timedOut || result.code !== 0) {
      const how = result.error
        ? `could not start (${oneLine(result.error.message)})`
        : result.timedOut
          ? `timed out after ${SETUP_TIMEOUT_MS} ms`
          : `ended (${describeExit({ code: result.code, signal: result.signal })})`;
      const tail = lastLine(logPath);
      throw new LaunchError(
        'setup-failed',
        `${m.name}: setup command ${JSON.stringify(raw)} ${how}${tail === null ? '' : `; last output line: ${tail}`}`,
        {
          runId: p.runId,
          exit: { code: result.code, signal: result.signal, ns: nowNs().toString() },
          stderrTail: tail,
        },
      );
    }
  }
}
