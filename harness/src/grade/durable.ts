/**
 * The durable set: every write the subject acknowledged (client `kv-ok` events) against what a later
 * start served back (client `kv-read` events). The clients record observations; the counting is here.
 */
import type { HistoryEvent, Verdict } from '../types.js';
import { probe } from './facts.js';
import { verdict } from './verdict.js';

export interface DurableCheck {
  acknowledged: { key: string; value: string }[];
  /** acknowledged writes missing or with another value on read-back */
  lost: { key: string; value: string }[];
  /** keys read back with a value no write ever carried (value is `v-<key>` or `value-<key>` by convention) */
  corrupt: string[];
  /** whether any read-back was recorded at all */
  readBack: boolean;
}

/** Compare acknowledged writes with the last read-back of the history. */
export function durableSet(events: readonly HistoryEvent[]): DurableCheck {
  const acknowledged = events
    .filter((e) => e.source === 'client' && e.kind === 'kv-ok')
    .map((e) => ({ key: String(e.data.key), value: String(e.data.value) }));
  const written = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.source !== 'client' || e.kind !== 'kv-invoke') continue;
    const key = String(e.data.key);
    const set = written.get(key) ?? new Set<string>();
    set.add(String(e.data.value));
    written.set(key, set);
  }
  const reads = events.filter((e) => e.source === 'client' && e.kind === 'kv-read');
  const found = (reads.at(-1)?.data.found ?? {}) as Record<string, string | null>;
  const lost = acknowledged.filter((a) => found[a.key] !== a.value);
  const corrupt = Object.entries(found)
    .filter(([k, v]) => v !== null && !(written.get(k)?.has(v) ?? false))
    .map(([k]) => k);
  return { acknowledged, lost, corrupt, readBack: reads.length > 0 };
}

export function describeDurable(d: DurableCheck): string {
  const sample = d.lost
    .slice(0, 5)
    .map((l) => l.key)
    .join(', ');
  return `${d.acknowledged.length} acknowledged, ${d.lost.length} lost${d.lost.length ? ` (${sample}${d.lost.length > 5 ? ', …' : ''})` : ''}, ${d.corrupt.length} corrupt${d.readBack ? '' : '; nothing was read back'}`;
}

/**
 * DURABLE.ACK_AFTER_SYNC over a write-stop-restart-read history: every acknowledged write is read back
 * after the new start (`after` names the stop, for the report).
 */
export function verifyAckedSurvive(events: readonly HistoryEvent[], after: string): Verdict {
  const d = durableSet(events);
  return verdict(
    'DURABLE.ACK_AFTER_SYNC',
    d.acknowledged.length > 0 && d.readBack && d.lost.length === 0,
    `every acknowledged write is readable after ${after} and a new start`,
    describeDurable(d),
  );
}

/** DURABLE.INDEX_ON_STOP: the start after the stop (launch 1) reports recovery `clean`, no scan. */
export function verifyIndexOnStop(events: readonly HistoryEvent[], after: string): Verdict {
  const recovery = probe(events, 'recovery', 1)[0];
  return verdict(
    'DURABLE.INDEX_ON_STOP',
    recovery?.data.mode === 'clean',
    `the start after ${after} reports recovery "clean" (no scan)`,
    recovery
      ? `recovery ${String(recovery.data.mode)} (${String(recovery.data.records)} records)`
      : 'no recovery event on the second start',
  );
}
