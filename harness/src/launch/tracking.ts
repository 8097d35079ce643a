/**
 * Which processes belong to a launch, and the one way to end them all.
 *
 * Mechanisms, best first (chosen per launch, recorded in the history as a `tracking` event):
 * - `cgroup`: Linux with a writable cgroup v2 (cgroup.ts). The kernel keeps every descendant in the
 *   launch's cgroup, so nothing escapes: not setsid, not a cleared environment, not a double fork.
 * - `marker`: the run marker in the environment plus, on Linux, the session the subject leads
 *   (processes.ts). A descendant that calls setsid *and* clears its environment is invisible to it, so
 *   orphans of that kind cannot be seen (`escapesVisible: false`).
 * - `child`: Windows; only the direct child is tracked (`escapesVisible: false`).
 *
 * Not used, on purpose: a child subreaper (prctl needs native code in the harness process, or a wrapper
 * process between the harness and the subject, which would then receive the signals meant for the
 * subject) and a PID namespace (the subject would be PID 1 there, which changes how signals without a
 * handler behave: the very thing being certified).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CGROUP_ENTER_SCRIPT, Cgroup, cgroupSupport } from './cgroup.js';
import {
  descendantScanSupported,
  findMarkedProcesses,
  findMarkedProcessesSync,
  type LaunchSession,
  type ProcInfo,
  procInfo,
  stillMarked,
} from './processes.js';

export type TrackingMechanism = 'cgroup' | 'marker' | 'child';

/** What the `tracking` history event carries. */
export interface TrackingInfo {
  mechanism: TrackingMechanism;
  /** can a descendant that left the session and cleared its environment still be seen (and ended)? */
  escapesVisible: boolean;
  /** why escapes are not visible (or why no cgroup was used), one line */
  reason?: string;
  /** the launch's cgroup directory (mechanism `cgroup`) */
  cgroup?: string;
}

/** `auto`: the best available; `marker`: never a cgroup (tests, or `SIGCERT_TRACKING=marker` in the harness's env). */
export type TrackingMode = 'auto' | 'marker';

/** How long teardown waits for the child after SIGKILL, and for tracked processes to disappear. */
export const KILL_WAIT_MS = 3_000;
/** Interval between scans while waiting for tracked processes to vanish. */
const SCAN_RETRY_MS = 20;

const isWindows = process.platform === 'win32';

/** The mechanism `Tracker.create` would choose here, without creating anything. */
export function availableTracking(mode: TrackingMode = defaultMode()): TrackingInfo {
  if (isWindows) {
    return { mechanism: 'child', escapesVisible: false, reason: 'Windows: only the direct child is tracked' };
  }
  const why =
    mode === 'marker'
      ? 'marker tracking was requested'
      : process.platform === 'linux'
        ? (() => {
            const s = cgroupSupport();
            return s.ok ? null : s.reason;
          })()
        : `no cgroups on ${process.platform}`;
  if (why === null) return { mechanism: 'cgroup', escapesVisible: true };
  return markerInfo(why);
}

function markerInfo(why: string): TrackingInfo {
  const how = process.platform === 'linux' ? 'run marker and session' : 'run marker';
  return {
    mechanism: 'marker',
    escapesVisible: false,
    reason: `${why}; tracked by ${how} only: a descendant that calls setsid and clears its environment is not seen`,
  };
}

function defaultMode(): TrackingMode {
  return process.env.SIGCERT_TRACKING === 'marker' ? 'marker' : 'auto';
}

export class Tracker {
  private leader: { pid: number; isGone: () => boolean } | null = null;
  /** pids seen in the cgroup (see cgroupProcs) */
  private readonly seen = new Set<number>();

  private constructor(
    readonly runId: string,
    readonly info: TrackingInfo,
    private readonly cgroup: Cgroup | null,
  ) {}

  /** Tracking for a new launch: its own cgroup when possible, else the run marker. */
  static create(runId: string, mode: TrackingMode = defaultMode()): Tracker {
    const info = availableTracking(mode);
    if (info.mechanism !== 'cgroup') return new Tracker(runId, info, null);
    try {
      const cg = Cgroup.create(runId);
      return new Tracker(runId, { ...info, cgroup: cg.path }, cg);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return new Tracker(runId, markerInfo(`cannot create the launch's cgroup (${err.code ?? err.message})`), null);
    }
  }

  /** The direct child, once spawned: in marker mode its session is part of what is tracked. */
  setLeader(pid: number, isGone: () => boolean): void {
    this.leader = { pid, isGone };
  }

  /** The session the subject leads (spawned with setsid on POSIX): its pid; none on Windows or before the spawn. */
  get session(): LaunchSession | undefined {
    if (isWindows || this.leader === null) return undefined;
    return { id: this.leader.pid, leaderReaped: this.leader.isGone() };
  }

  /** The command line that runs `file args` inside the tracking (unchanged unless a cgroup is used). */
  wrap(file: string, args: readonly string[]): { file: string; args: string[] } {
    if (this.cgroup === null) return { file, args: [...args] };
    return { file: '/bin/sh', args: ['-c', CGROUP_ENTER_SCRIPT, this.cgroup.procsFile, file, ...args] };
  }

  /**
   * Members of the cgroup, plus every process seen as a member before that is still exiting: the kernel
   * drops a process from `cgroup.procs` as soon as its last thread starts to exit, before its files (a
   * listening socket) are closed; until it is a zombie it still counts as alive, as it does in /proc.
   */
  private cgroupProcs(): ProcInfo[] {
    const cg = this.cgroup;
    if (cg === null) return [];
    const members = new Set(cg.pids());
    for (const pid of this.seen) {
      if (!members.has(pid) && !cg.has(pid)) this.seen.delete(pid); // gone, or a reused pid elsewhere
    }
    for (const pid of members) this.seen.add(pid);
    const out: ProcInfo[] = [];
    for (const pid of this.seen) {
      if (pid === process.pid) continue;
      const p = procInfo(pid); // null for a zombie or a vanished process
      if (p !== null) out.push(p);
      else if (!members.has(pid)) this.seen.delete(pid);
    }
    return out;
  }

  /** Live tracked processes (the direct child included while it runs; zombies excluded). */
  async list(): Promise<ProcInfo[]> {
    if (this.cgroup !== null) return this.cgroupProcs();
    if (!descendantScanSupported()) return [];
    return findMarkedProcesses(this.runId, this.session);
  }

  /** Synchronous `list()`, for `process.on('exit')` hooks. */
  listSync(): ProcInfo[] {
    if (this.cgroup !== null) return this.cgroupProcs();
    if (!descendantScanSupported()) return [];
    return findMarkedProcessesSync(this.runId, this.session);
  }

  /**
   * SIGKILL every tracked process: the one kill helper (teardown sweep, the exit hook, setup leftovers).
   * cgroup: `cgroup.kill`, no pid involved. marker: each process of `procs` (default: a fresh scan) is
   * re-checked by marker just before the kill, except the unreaped direct child, whose pid is still ours.
   * Returns how many processes were signalled.
   */
  killAll(procs?: readonly ProcInfo[]): number {
    if (this.cgroup !== null) return this.cgroup.killAll();
    let n = 0;
    for (const p of procs ?? this.listSync()) {
      const ownChild = this.leader !== null && p.pid === this.leader.pid && !this.leader.isGone();
      if (!ownChild && !stillMarked(p.pid, this.runId, this.session)) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
        n++;
      } catch {
        // gone meanwhile
      }
    }
    return n;
  }

  /**
   * Kill until nothing tracked is left, or `withinMs` passed. `first` is a scan the caller already has.
   * Returns how many kills were sent and what is still alive at the end (should be empty).
   */
  async sweep(withinMs: number, first?: ProcInfo[]): Promise<{ signalled: number; leftover: ProcInfo[] }> {
    const deadline = Date.now() + withinMs;
    let signalled = 0;
    let current = first ?? (await this.list());
    while (current.length > 0) {
      signalled += this.killAll(current);
      if (Date.now() >= deadline) break;
      await delay(SCAN_RETRY_MS);
      current = await this.list();
    }
    return { signalled, leftover: current };
  }

  /**
   * Remove the launch's cgroup once it is empty (after the sweep), waiting at most `withinMs` for the
   * last members to finish exiting. False if it could not be removed (a later harness removes it once empty).
   */
  async dispose(withinMs: number): Promise<boolean> {
    if (this.cgroup === null) return true;
    const deadline = Date.now() + withinMs;
    while (!this.cgroup.remove()) {
      if (Date.now() >= deadline || !this.cgroup.populated()) return this.cgroup.remove();
      await delay(SCAN_RETRY_MS);
    }
    return true;
  }

  /** `dispose()` without waiting, for `process.on('exit')` hooks. */
  disposeSync(): boolean {
    return this.cgroup === null || this.cgroup.remove();
  }
}
