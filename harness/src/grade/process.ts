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
