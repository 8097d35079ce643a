import type { EventSource, HistoryEvent, HistoryJSON } from './types.js';

/**
 * Version of the stored history format. 2: the runner's own decisions (attempt, case-timeout,
 * case-error, interrupted, not-applicable, skipped, case-end) are events of the history.
 */
export const HISTORY_VERSION = 2;

/** The monotonic clock shared with subjects (CLOCK_MONOTONIC on Linux), in nanoseconds. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/**
 * One timeline of everything observed during a case: harness actions, probe events, process events,
 * client operations. Append-only; checkers read it and never touch a process.
 */
export class History {
  readonly originNs: bigint;
  readonly events: HistoryEvent[] = [];
  private listeners = new Set<(e: HistoryEvent) => void>();

  constructor(originNs: bigint = nowNs()) {
    this.originNs = originNs;
  }

  /** Record an event stamped now (or at `ns` when the stamp was taken elsewhere, e.g. by the subject). */
  add(
    source: EventSource,
    kind: string,
    data: Record<string, unknown> = {},
    ns?: bigint,
    launch?: number,
  ): HistoryEvent {
    const at = ns ?? nowNs();
    const e: HistoryEvent = { ns: at.toString(), t: Number(at - this.originNs) / 1e6, source, kind, data };
    if (launch !== undefined) e.launch = launch;
    this.events.push(e);
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Subscribe to future events; returns an unsubscribe function. */
  onEvent(listener: (e: HistoryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events sorted by their monotonic stamp (probe events can arrive after later harness events). */
  sorted(): HistoryEvent[] {
    return [...this.events].sort((a, b) => (BigInt(a.ns) < BigInt(b.ns) ? -1 : BigInt(a.ns) > BigInt(b.ns) ? 1 : 0));
  }

  toJSON(): HistoryJSON {
    return { historyVersion: HISTORY_VERSION, originNs: this.originNs.toString(), events: this.sorted() };
  }

  static fromJSON(json: HistoryJSON): History {
    const h = new History(BigInt(json.originNs));
    h.events.push(...json.events);
    return h;
  }
}
