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

/**
 * Compare acknowledged writes with the last read-back of the history.
 *
 * A key may be written more than once (across restarts). An acknowledged write is lost unless the
 * read-back holds its value or the value of another write of the same key that may have been ordered
 * after it: one not acknowledged before it was invoked (a concurrent write, or a later one) and not
 * refused (`kv-fail`: a definite no); a write cut in flight (`kv-info`) may still have landed. A
 * read-back holding the value of a write acknowledged before it was invoked, or nothing, is a lost
 * write. Outcomes are paired with their invoke by `op` (histories without it: the oldest open invoke of
 * the same key and value).
 */
export function durableSet(events: readonly HistoryEvent[]): DurableCheck {
  /** every write: the history positions of its invoke and, once acknowledged, of its `kv-ok`; refused */
  const writes: { op: unknown; key: string; value: string; invokedAt: number; okAt?: number; refused?: true }[] = [];
  const outcomes = new Set(['kv-ok', 'kv-fail', 'kv-info']);
  const settled = new Set<(typeof writes)[number]>();
  events.forEach((e, at) => {
    if (e.source !== 'client' || (e.kind !== 'kv-invoke' && !outcomes.has(e.kind))) return;
    const key = String(e.data.key);
    const value = String(e.data.value);
    const op = e.data.op;
    if (e.kind === 'kv-invoke') {
      writes.push({ op, key, value, invokedAt: at });
      return;
    }
    const w = writes.find((x) =>
      op !== undefined ? x.op === op : x.key === key && x.value === value && !settled.has(x),
    );
    if (!w || settled.has(w)) return;
    settled.add(w);
    if (e.kind === 'kv-ok') w.okAt = at;
    if (e.kind === 'kv-fail') w.refused = true;
  });
  const byKey = new Map<string, typeof writes>();
  for (const w of writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);
  const reads = events.filter((e) => e.source === 'client' && e.kind === 'kv-read');
  const found = (reads.at(-1)?.data.found ?? {}) as Record<string, string | null>;
  // in acknowledgement order, as the clients saw them
  const acked = writes.filter((w) => w.okAt !== undefined).sort((x, y) => x.okAt! - y.okAt!);
  const lost = acked
    .filter((a) => {
      const got = found[a.key];
      if (got === a.value) return false;
      const later = (w: (typeof writes)[number]) =>
        w !== a && w.refused !== true && !(w.okAt !== undefined && w.okAt < a.invokedAt);
      return !(byKey.get(a.key) ?? []).some((w) => later(w) && w.value === got);
    })
    .map(({ key, value }) => ({ key, value }));
  const corrupt = Object.entries(found)
    .filter(([k, v]) => v !== null && !(byKey.get(k) ?? []).some((w) => w.value === v))
    .map(([k]) => k);
  return {
    acknowledged: acked.map(({ key, value }) => ({ key, value })),
    lost,
    corrupt,
    readBack: reads.length > 0,
  };
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

/**
 * DURABLE.INDEX_ON_STOP: the starts after clean stops (launch 1 by default; `launches` when a case
 * stops and starts more than once) report recovery `clean`, no scan.
 */
export function verifyIndexOnStop(events: readonly HistoryEvent[], after: string, launches: number[] = [1]): Verdict {
  const seen = launches.map((launch) => ({ launch, recovery: probe(events, 'recovery', launch)[0] }));
  const many = launches.length > 1;
  return verdict(
    'DURABLE.INDEX_ON_STOP',
    seen.every((s) => s.recovery?.data.mode === 'clean'),
    `the start${many ? 's' : ''} after ${after} report${many ? '' : 's'} recovery "clean" (no scan)`,
    seen
      .map(({ launch, recovery }) => {
        const which = many ? `start ${launch + 1}: ` : '';
        return recovery
          ? `${which}recovery ${String(recovery.data.mode)} (${String(recovery.data.records)} records)`
          : `${which}no recovery event${many ? '' : ' on the second start'}`;
      })
      .join('; '),
  );
}
