/**
 * Finding a launch's processes by its environment marker `SIGCERT_RUN_ID=<id>`.
 *
 * Every subject inherits the marker, and so do its descendants, including ones that called setsid()
 * and left the process group: the marker is what lets teardown find an orphan the group kill missed.
 *
 * - Linux: scans `/proc/<pid>/environ` (unreadable entries, e.g. other users' processes, are skipped) and
 *   skips zombies and dead tasks (`/proc/<pid>/stat` state `Z`/`X`): a zombie is already dead, only
 *   waiting for its parent (or init) to reap it.
 * - macOS: `ps -A -E -ww` (environment after the command) and a second `ps` for the clean command line.
 * - Windows: not available (empty result, `descendantScanSupported()` is false). Only the direct child is
 *   tracked there; following a whole tree would need a Job Object, that is a native addon.
 *
 * Limits: a process that rewrites or clears its environment before exec (`env -i`) loses the marker.
 * The harness's own process is never reported.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid?: number;
  /** one-letter state (`R`, `S`, `D`, `T`, ...) */
  state?: string;
  cmdline: string;
}

const execFileP = promisify(execFile);

/** True where marked descendants can be found (Linux, macOS). */
export function descendantScanSupported(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' || platform === 'darwin';
}

/** The session a subject leads (it is spawned with setsid): its pid, and whether it has been reaped. */
export interface LaunchSession {
  id: number;
  leaderReaped: boolean;
}

export function markerOf(runId: string): string {
  return `SIGCERT_RUN_ID=${runId}`;
}

// ---------------------------------------------------------------------------------------------
// Linux

function environHasMarker(environ: Buffer, marker: string): boolean {
  return `\0${environ.toString('latin1')}\0`.includes(`\0${marker}\0`);
}

/** Parse `/proc/<pid>/stat`: `pid (comm) S ppid pgrp ...`; comm may hold spaces and parentheses. */
function parseStat(stat: string): { state: string; ppid: number; pgid: number; sid: number } | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const state = fields[0];
  if (state === undefined) return null;
  return { state, ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]) };
}

function cmdlineOf(buf: Buffer): string {
  return buf.toString('utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
}

function isDead(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/**
 * The state of a live process, or null when it is dead. A zombie thread-group leader whose other threads
 * are still exiting is not dead yet: those threads may still hold the process's files (a listening
 * socket), so it counts as alive, with the state of such a thread.
 */
function liveState(pid: number, state: string): string | null {
  if (!isDead(state)) return state;
  if (state !== 'Z') return null;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (Number(tid) === pid) continue;
      const t = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`).toString('utf8'));
      if (t !== null && !isDead(t.state)) return t.state;
    }
  } catch {
    // gone meanwhile
  }
  return null;
}

/**
 * The session to match, or undefined when it cannot be trusted: once the leader (the subject, pid ==
 * session id) was reaped, a live process with that pid means the pid was reused, and the session id may
 * then name an unrelated session.
 */
function trustedSession(session: { id: number; leaderReaped: boolean } | undefined): number | undefined {
  if (session === undefined || session.id <= 1) return undefined;
  if (session.leaderReaped && existsSync(`/proc/${session.id}`)) return undefined;
  return session.id;
}

/**
 * A process is the launch's when its environment carries the marker, or when it is in the session the
 * subject leads (`session`: the subject's pid; it was spawned with setsid). The session catches the
 * descendants that overwrote their environment block (setproctitle: nginx, postgres...); a session id
 * cannot be reused by a new process while any member of the session is alive.
 */
function linuxEntry(pid: number, marker: string, read: (p: string) => Buffer, session?: number): ProcInfo | null {
  try {
    const st = parseStat(read(`/proc/${pid}/stat`).toString('utf8'));
    const state = st === null ? null : liveState(pid, st.state);
    if (st === null || state === null) return null;
    const inSession = session !== undefined && st.sid === session;
    if (!inSession && !environHasMarker(read(`/proc/${pid}/environ`), marker)) return null;
    let cmdline = '';
    try {
      cmdline = cmdlineOf(read(`/proc/${pid}/cmdline`));
    } catch {
      // gone meanwhile: keep the entry, the caller re-checks before acting
    }
    return { pid, ppid: st.ppid, pgid: st.pgid, state, cmdline };
  } catch {
    return null; // gone, or not ours to read
  }
}

/** Pid, parent, group, state and command line of one live (non-zombie) Linux process, or null. */
export function procInfo(pid: number): ProcInfo | null {
  try {
    const st = parseStat(readFileSync(`/proc/${pid}/stat`).toString('utf8'));
    const state = st === null ? null : liveState(pid, st.state);
    if (st === null || state === null) return null;
    let cmdline = '';
    try {
      cmdline = cmdlineOf(readFileSync(`/proc/${pid}/cmdline`));
    } catch {
      // gone meanwhile: keep the entry, the caller re-checks before acting
    }
    return { pid, ppid: st.ppid, pgid: st.pgid, state, cmdline };
  } catch {
    return null;
  }
}

function linuxScanSync(marker: string, session?: number): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const e = linuxEntry(pid, marker, (p) => readFileSync(p), session);
    if (e) out.push(e);
  }
  return out;
}

async function linuxScan(marker: string, session?: number): Promise<ProcInfo[]> {
  const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  const found = await Promise.all(
    names.map(async (name): Promise<ProcInfo | null> => {
      const pid = Number(name);
      try {
        const st = parseStat((await readFile(`/proc/${pid}/stat`)).toString('utf8'));
        const state = st === null ? null : liveState(pid, st.state);
        if (st === null || state === null) return null;
        const inSession = session !== undefined && st.sid === session;
        if (!inSession && !environHasMarker(await readFile(`/proc/${pid}/environ`), marker)) return null;
        const cmdline = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
        const info: ProcInfo = { pid, ppid: st.ppid, pgid: st.pgid, state, cmdline: cmdlineOf(cmdline) };
        return info;
      } catch {
        return null;
      }
    }),
  );
  return found.filter((e): e is ProcInfo => e !== null);
}

// ---------------------------------------------------------------------------------------------
// macOS

const PS_FIELDS = 'pid=,ppid=,pgid=,state=,command=';

function darwinParse(psOut: string, marker: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  const re = new RegExp(`(^|\\s)${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
  for (const line of psOut.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]);
    const state = m[4] ?? '';
    if (pid === process.pid || state.startsWith('Z') || !re.test(m[5] ?? '')) continue;
    out.push({ pid, ppid: Number(m[2]), pgid: Number(m[3]), state: state.slice(0, 1), cmdline: m[5] ?? '' });
  }
  return out;
}

/** `ps -E` mixes the environment into the command; fetch the plain command for the few pids found. */
function darwinCommands(psOut: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of psOut.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m) map.set(Number(m[1]), m[2] ?? '');
  }
  return map;
}

function darwinScanSync(marker: string): ProcInfo[] {
  const found = darwinParse(execFileSync('ps', ['-A', '-E', '-ww', '-o', PS_FIELDS], { encoding: 'utf8' }), marker);
  if (found.length === 0) return found;
  try {
    const pids = found.map((p) => p.pid).join(',');
    const cmds = darwinCommands(execFileSync('ps', ['-ww', '-o', 'pid=,command=', '-p', pids], { encoding: 'utf8' }));
    for (const p of found) p.cmdline = cmds.get(p.pid) ?? p.cmdline;
  } catch {
    // some exited meanwhile (ps exits 1): keep the -E command lines
  }
  return found;
}

async function darwinScan(marker: string): Promise<ProcInfo[]> {
  const { stdout } = await execFileP('ps', ['-A', '-E', '-ww', '-o', PS_FIELDS], { maxBuffer: 64 * 1024 * 1024 });
  const found = darwinParse(stdout, marker);
  if (found.length === 0) return found;
  try {
    const pids = found.map((p) => p.pid).join(',');
    const res = await execFileP('ps', ['-ww', '-o', 'pid=,command=', '-p', pids]);
    const cmds = darwinCommands(res.stdout);
    for (const p of found) p.cmdline = cmds.get(p.pid) ?? p.cmdline;
  } catch {
    // some exited meanwhile
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

/**
 * The zombies among the children of `parents`: processes that exited and that their parent has not
 * waited for (PROC.REAP). The scans above leave zombies out (they are dead); a zombie's environment and
 * command line are gone, so it is found by its parent. Empty where unsupported.
 */
export async function findZombieChildren(parents: readonly number[]): Promise<ProcInfo[]> {
  const wanted = new Set(parents);
  if (process.platform === 'linux') {
    const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
    const found = await Promise.all(
      names.map(async (name): Promise<ProcInfo | null> => {
        const pid = Number(name);
        try {
          const st = parseStat((await readFile(`/proc/${pid}/stat`)).toString('utf8'));
          if (st === null || st.state !== 'Z' || !wanted.has(st.ppid)) return null;
          return { pid, ppid: st.ppid, pgid: st.pgid, state: 'Z', cmdline: '' };
        } catch {
          return null; // reaped meanwhile
        }
      }),
    );
    return found.filter((e): e is ProcInfo => e !== null);
  }
  if (process.platform === 'darwin') {
    const { stdout } = await execFileP('ps', ['-A', '-o', 'pid=,ppid=,pgid=,state=']);
    const out: ProcInfo[] = [];
    for (const line of stdout.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)/.exec(line);
      if (m && (m[4] ?? '').startsWith('Z') && wanted.has(Number(m[2]))) {
        out.push({ pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), state: 'Z', cmdline: '' });
      }
    }
    return out;
  }
  return [];
}

/** Every live (non-zombie) process carrying `SIGCERT_RUN_ID=<runId>`. Empty where unsupported. */
export async function findMarkedProcesses(runId: string, session?: LaunchSession): Promise<ProcInfo[]> {
  const marker = markerOf(runId);
  if (process.platform === 'linux') return linuxScan(marker, trustedSession(session));
  if (process.platform === 'darwin') return darwinScan(marker);
  return [];
}

/** Synchronous variant, for `process.on('exit')` hooks where nothing can be awaited. */
export function findMarkedProcessesSync(runId: string, session?: LaunchSession): ProcInfo[] {
  const marker = markerOf(runId);
  if (process.platform === 'linux') return linuxScanSync(marker, trustedSession(session));
  if (process.platform === 'darwin') return darwinScanSync(marker);
  return [];
}

/**
 * Is `pid` still a live process carrying the marker? Checked just before a kill, so a pid that was reused
 * by an unrelated process since the scan is left alone.
 */
export function stillMarked(pid: number, runId: string, session?: LaunchSession): boolean {
  if (pid === process.pid || pid <= 0) return false;
  const marker = markerOf(runId);
  if (process.platform === 'linux')
    return linuxEntry(pid, marker, (p) => readFileSync(p), trustedSession(session)) !== null;
  if (process.platform === 'darwin') {
    try {
      const out = execFileSync('ps', ['-E', '-ww', '-o', PS_FIELDS, '-p', String(pid)], { encoding: 'utf8' });
      return darwinParse(out, marker).some((p) => p.pid === pid);
    } catch {
      return false;
    }
  }
  return false;
}
