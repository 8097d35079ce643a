/**
 * Linux cgroup v2: one cgroup per launch, so every process the subject ever starts is tracked by the
 * kernel, whatever it does to its session, process group or environment.
 *
 * - Where: the cgroup2 mount (`/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a hybrid
 *   one), under the cgroup the harness itself is in (`/proc/self/cgroup`, line `0::<path>`), as
 *   `sigcert-<runId>`. That works as root, and unprivileged where the harness's own cgroup is delegated.
 * - Joining: the subject is spawned through `/bin/sh -c '<write $$ to cgroup.procs>; exec "$@"'`, so the
 *   process moves itself into the cgroup before the subject's command is exec'd (same pid): no fork can
 *   happen outside it. If the write fails the wrapper exits 125 with a one-line message on stderr.
 * - Ending: `cgroup.kill` (Linux >= 5.14) SIGKILLs every member at once, without a pid that could have
 *   been reused; on older kernels each pid listed in `cgroup.procs` is killed. Zombies are not members.
 * - Removal: `rmdir` once `cgroup.events` says `populated 0`. Empty cgroups left by a harness that was
 *   itself SIGKILLed are removed by the next harness (only empty ones: rmdir refuses anything else).
 *
 * Support is probed once per process: create a cgroup, move a short-lived `sh` into it, remove it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `/bin/sh` script run as the wrapper: $0 is the cgroup.procs file, "$@" the command. */
export const CGROUP_ENTER_SCRIPT =
  '{ echo $$ > "$0"; } 2>/dev/null || { echo "sigcert: cannot join the tracking cgroup ($0)" >&2; exit 125; }; exec "$@"';

export type CgroupSupport = { ok: true; base: string } | { ok: false; reason: string };

let cached: CgroupSupport | null = null;

/** Unescape a mountinfo path field (`\040` for a space, ...). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The cgroup2 mount point and the root it shows, from /proc/self/mountinfo. */
function cgroup2Mount(): { mountPoint: string; root: string } | null {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  for (const line of info.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (pre === undefined || post === undefined) continue;
    if (post.split(' ')[0] !== 'cgroup2') continue;
    const f = pre.split(' ');
    const root = f[3];
    const mountPoint = f[4];
    if (root !== undefined && mountPoint !== undefined) {
      return { mountPoint: unescapeMount(mountPoint), root: unescapeMount(root) };
    }
  }
  return null;
}

/** The harness's own cgroup v2 path (`0::<path>` in /proc/self/cgroup). */
function ownCgroupPath(): string | null {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3).trim();
  } catch {
    return null;
  }
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

/** Remove empty `sigcert-sc-<pid>-*` cgroups whose harness process is gone (never touches a populated one). */
function sweepStale(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^sigcert-sc-(\d+)-[0-9a-f]+$/.exec(name);
    if (m === null || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) continue;
    try {
      rmdirSync(join(base, name));
    } catch {
      // populated or already gone: leave it
    }
  }
}

function probe(): CgroupSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `no cgroups on ${process.platform}` };
  const mount = cgroup2Mount();
  if (mount === null) return { ok: false, reason: 'no cgroup2 file system is mounted' };
  const own = ownCgroupPath();
  if (own === null) return { ok: false, reason: 'the harness is in no cgroup v2 hierarchy (/proc/self/cgroup)' };
  const rel = mount.root === '/' ? own : own.startsWith(mount.root) ? own.slice(mount.root.length) : null;
  if (rel === null) return { ok: false, reason: `the harness's cgroup ${own} is outside the cgroup2 mount` };
  const base = join(mount.mountPoint, rel);
  const test = join(base, `sigcert-probe-${process.pid}-${Date.now().toString(16)}`);
  try {
    mkdirSync(test);
  } catch (e) {
    return { ok: false, reason: `cannot create a cgroup under ${base} (${errText(e)})` };
  }
  try {
    const r = spawnSync('/bin/sh', ['-c', CGROUP_ENTER_SCRIPT, join(test, 'cgroup.procs'), 'true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 5_000,
    });
    if (r.status !== 0) {
      return { ok: false, reason: `cannot move a process into a cgroup under ${base} (wrapper status ${r.status})` };
    }
  } finally {
    try {
      rmdirSync(test);
    } catch {
      // the probe process is gone by now; if not, the stale sweep of a later harness removes it
    }
  }
  sweepStale(base);
  return { ok: true, base };
}

/** Can this harness put launches into their own cgroup v2? Probed once, then cached. */
export function cgroupSupport(): CgroupSupport {
  cached ??= probe();
  return cached;
}

/** One launch's cgroup. */
export class Cgroup {
  private constructor(readonly path: string) {}

  /** Create `sigcert-<runId>` under the harness's cgroup; throws when cgroups are not supported. */
  static create(runId: string): Cgroup {
    const s = cgroupSupport();
    if (!s.ok) throw new Error(s.reason);
    const path = join(s.base, `sigcert-${runId}`);
    mkdirSync(path);
    return new Cgroup(path);
  }

  get procsFile(): string {
    return join(this.path, 'cgroup.procs');
  }

  /** Pids of the live members (zombies are not members). Empty once the cgroup is removed. */
  pids(): number[] {
    try {
      return readFileSync(this.procsFile, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Does any live process remain in it? */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(join(this.path, 'cgroup.events'), 'utf8'));
    } catch {
      return false;
    }
  }

  /** Is `pid` a member right now? (re-checked before a per-pid kill on kernels without cgroup.kill) */
  has(pid: number): boolean {
    try {
      const rel = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::'))
        ?.slice(3);
      return rel !== undefined && this.path.endsWith(rel.trim()) && rel.trim().length > 1;
    } catch {
      return false;
    }
  }

  /** SIGKILL every member; returns how many members there were just before. */
  killAll(): number {
    const before = this.pids();
    if (before.length === 0) return 0;
    try {
      writeFileSync(join(this.path, 'cgroup.kill'), '1');
      return before.length;
    } catch {
      // no cgroup.kill (Linux < 5.14): one by one, each re-checked as a member
    }
    let n = 0;
    for (const pid of before) {
      if (!this.has(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        n++;
      } catch {
        // gone meanwhile
      }
    }
    return n;
  }

  /** Remove the (empty) cgroup. False when it still has members or is already gone. */
  remove(): boolean {
    try {
      rmdirSync(this.path);
      return true;
    } catch {
      return false;
    }
  }
}
