/**
 * Bounded load loops, counted from what the clients recorded: every attempt is either a failed
 * `connect` event or an `http-done` event of the client, with its label. The case keeps no tally of
 * its own; the grader counts here.
 */
import type { HistoryEvent } from '../types.js';

export interface LoadCount {
  /** request attempts (a refused connection counts as one) */
  sent: number;
  failed: number;
  /** failures by kind: the client's error kind or `status N` */
  kinds: Record<string, number>;
  /** the first failures, in order */
  samples: { label: string; error: string; reused: boolean }[];
  /** responses that carried Connection: close */
  connectionClose: number;
  /** connections opened successfully */
  connections: number;
}

export function loadCount(events: readonly HistoryEvent[], labels: readonly string[]): LoadCount {
  const out: LoadCount = { sent: 0, failed: 0, kinds: {}, samples: [], connectionClose: 0, connections: 0 };
  const fail = (label: string, kind: string, reused: boolean) => {
    out.failed++;
    out.kinds[kind] = (out.kinds[kind] ?? 0) + 1;
    if (out.samples.length < 20) out.samples.push({ label, error: kind, reused });
  };
  for (const e of events) {
    if (e.source !== 'client' || !labels.includes(String(e.data.label))) continue;
    const label = String(e.data.label);
    if (e.kind === 'connect') {
      if (e.data.ok === true) out.connections++;
      else {
        out.sent++;
        fail(label, String(e.data.error ?? 'connect'), false);
      }
    } else if (e.kind === 'http-done') {
      out.sent++;
      if (e.data.ok !== true) fail(label, String(e.data.error ?? 'other'), e.data.reused === true);
      else if (e.data.status !== 200) fail(label, `status ${String(e.data.status)}`, e.data.reused === true);
      if (e.data.ok === true && String(e.data.connection ?? '').toLowerCase() === 'close') out.connectionClose++;
    }
  }
  return out;
}
