/**
 * The process tree: the checks every case gets because they hold on every path.
 *  - PROC.NO_CRASH_SIGNAL: a launch that died by a signal before teardown began, when nobody in the
 *    case asked for SIGKILL and the death was not a declared fast stop by re-raise, is a crash.
 *  - PROC.NO_ORPHANS: processes of the subject alive after it exited on its own.
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { teardownAt } from './facts.js';
import type { RequirementId } from './verdict.js';
import { unknown, verdict } from './verdict.js';

/** Requirements every case may judge without declaring them. */
export const ALWAYS_ON: readonly RequirementId[] = ['PROC.NO_CRASH_SIGNAL', 'PROC.NO_ORPHANS'];

const FATAL_BY_NATURE = new Set(['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT']);

export interface Death {
  launch: number;
  signal: string;
}

/** Launches that died by a signal nobody in the case intended. */
export function unexpectedDeaths(events: readonly HistoryEvent[], manifest: Manifest): Death[] {
  const cutoff = teardownAt(events);
  const out: Death[] = [];
  for (const e of events) {
    if (e.source !== 'process' || e.kind !== 'exit') continue;
    const sig = e.data.signal as string | null | undefined;
    if (!sig) continue;
    if (cutoff !== null && BigInt(e.ns) >= cutoff && !FATAL_BY_NATURE.has(sig)) continue;
    const launch = e.launch ?? 0;
    const sent = events.filter((s) => s.source === 'harness' && s.kind === 'signal-sent' && (s.launch ?? 0) === launch);
    if (sig === 'SIGKILL' && sent.some((s) => s.data.sig === 'SIGKILL')) continue;
    const fastBySignal =
      manifest.exitCodes.fastStop === 'signal' &&
      sent.some((s) => manifest.signals[s.data.sig as string] === 'fast-stop' || s.data.sig === sig);
    if (fastBySignal) continue;
    out.push({ launch, signal: sig });
  }
  return out;
}

/** A launch that exited before teardown with no stop asked of it, and the request that came last before. */
export interface UnrequestedExit {
  launch: number;
  code: number | null;
  signal: string | null;
  /** the last request the subject got before it exited: a signal and its declared action, or a control request */
  after?: { kind: 'signal'; sig: string; action?: string } | { kind: 'control'; action: string };
}

const ENDING: ReadonlySet<string> = new Set(['stop', 'fast-stop', 'restart']);

/** Whether the subject answered this request (`http-sent`) by refusing it (401, 403): it asked nothing. */
function refused(events: readonly HistoryEvent[], sentEv: HistoryEvent): boolean {
  const done = events.find(
    (e) =>
      e.source === 'client' &&
      e.kind === 'http-done' &&
      e.data.conn === sentEv.data.conn &&
      e.data.label === sentEv.data.label &&
      BigInt(e.ns) >= BigInt(sentEv.ns),
  );
  return done?.data.status === 401 || done?.data.status === 403;
}

/**
 * Launches that exited, before teardown, although nothing the case did asked them to end: no signal the
 * declared map sends to stop, fast-stop or restart, no signal the map does not handle (its default action
 * may end the process), no SIGKILL, and no control request for stop, fast-stop or restart (an
 * unauthenticated one the subject did not refuse with 401 or 403) came before the exit. Only the signals sent to that launch count. An
 * exit recorded after a case error but before teardown counts too: the runner waits briefly for an exit
 * already under way (a refused connection is often the first sign of it) before teardown signals anything.
 */
export function unrequestedExits(events: readonly HistoryEvent[], manifest: Manifest): UnrequestedExit[] {
  const cutoff = teardownAt(events);
  const out: UnrequestedExit[] = [];
  for (const e of events) {
    if (e.source !== 'process' || e.kind !== 'exit') continue;
    const at = BigInt(e.ns);
    if (cutoff !== null && at >= cutoff) continue;
    const launch = e.launch ?? 0;
    let ending = false;
    let after: UnrequestedExit['after'];
    for (const r of events) {
      if (BigInt(r.ns) > at) continue;
      if (r.source === 'harness' && r.kind === 'signal-sent' && (r.launch ?? 0) === launch) {
        const sig = String(r.data.sig);
        const action = manifest.signals[sig];
        if (action === undefined || ENDING.has(action) || sig === 'SIGKILL') ending = true;
        after = { kind: 'signal', sig, ...(action ? { action } : {}) };
      } else if (r.source === 'client' && r.kind === 'http-sent') {
        const m = /^\/control\/([a-z-]+)/.exec(String(r.data.path ?? ''));
        if (!m || refused(events, r)) continue;
        if (ENDING.has(m[1]!)) ending = true;
        after = { kind: 'control', action: m[1]! };
      }
    }
    if (ending) continue;
    const code = typeof e.data.code === 'number' ? e.data.code : null;
    const signal = typeof e.data.signal === 'string' ? e.data.signal : null;
    out.push({ launch, code, signal, ...(after ? { after } : {}) });
  }
  return out;
}

/**
 * The requirement an unrequested exit violates: a signal whose declared action is not an ending one
 * (reload, reopen-logs, ignore) must not end the process (SIG.MAP.DECLARED); a control request that is
 * not a stop must not either (CONTROL.EQUIVALENT: it gives the guarantees of its signal); with no request
 * before it, the exit breaks what the case was judging (`fallback`).
 */
export function unrequestedExitRequirement(x: UnrequestedExit, fallback: RequirementId): RequirementId {
  if (x.after?.kind === 'signal') return 'SIG.MAP.DECLARED';
  if (x.after?.kind === 'control') return 'CONTROL.EQUIVALENT';
  return fallback;
}

export function describeUnrequestedExit(x: UnrequestedExit): string {
  const how = x.signal ? `died by ${x.signal}` : `exited with code ${x.code}`;
  const after =
    x.after === undefined
      ? 'with no request of any kind before it'
      : x.after.kind === 'signal'
        ? `after ${x.after.sig}${x.after.action ? ` (declared: ${x.after.action})` : ''}, with no stop asked for`
        : `after a control request for ${x.after.action}, with no stop asked for`;
  return `launch ${x.launch} ${how} ${after}`;
}

export function crashVerdicts(deaths: readonly Death[]): Verdict[] {
  return deaths.map((d) =>
    verdict(
      'PROC.NO_CRASH_SIGNAL',
      false,
      'the subject never dies by a signal its map handles (or a crash signal)',
      `launch ${d.launch} died by ${d.signal}`,
    ),
  );
}

/** PROC.NO_ORPHANS from the teardown's findings (`orphans` events). */
export function orphanVerdicts(events: readonly HistoryEvent[]): Verdict[] {
  return events
    .filter((e) => e.source === 'harness' && e.kind === 'orphans')
    .map((o) => {
      const list = (o.data.orphans as { pid: number; cmdline?: string }[]) ?? [];
      return verdict(
        'PROC.NO_ORPHANS',
        false,
        'no process of the subject outlives its exit',
        `${list.length} process(es) left after exit: ${list.map((p) => `${p.pid} ${p.cmdline ?? ''}`.trim()).join('; ')}`,
      );
    });
}

/**
 * Why escaped descendants could not be seen for some launch (`tracking` events with escapesVisible
 * false: no cgroup could be made, the run marker is the only trace), or null when every launch was
 * tracked by a mechanism a process cannot leave.
 */
function escapesInvisible(events: readonly HistoryEvent[]): string | null {
  const t = events.find((e) => e.source === 'harness' && e.kind === 'tracking' && e.data.escapesVisible === false);
  return t
    ? `${String(t.data.mechanism)} tracking: ${String(t.data.reason ?? 'a process that leaves the run marker behind cannot be seen')}`
    : null;
}

/**
 * PROC.NO_ORPHANS from what was found alive after the exit. Nothing found is a pass only where the
 * tracking could have seen an escaped descendant; elsewhere the requirement is not tested, with the reason.
 */
export function verifyNoOrphansLeft(
  events: readonly HistoryEvent[],
  left: readonly { pid: number; cmdline?: string }[],
): Verdict {
  const detail = 'nothing of the subject is alive after its exit';
  if (left.length > 0) {
    return verdict('PROC.NO_ORPHANS', false, detail, left.map((p) => `${p.pid} ${p.cmdline ?? ''}`.trim()).join('; '));
  }
  const blind = escapesInvisible(events);
  if (blind) return unknown('PROC.NO_ORPHANS', detail, `none found, but not tested for escaped descendants: ${blind}`);
  return verdict('PROC.NO_ORPHANS', true, detail, 'none left');
}
