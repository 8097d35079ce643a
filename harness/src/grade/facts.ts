/**
 * Reading a stored history: pure functions from events to facts (which signals were sent, what the
 * probe said, how a launch ended, what the clients saw). Verifiers are built on these; nothing here
 * judges.
 */
import type { ExitInfo, HistoryEvent, Manifest } from '../types.js';

/** Case-level observations of one kind (`ctx.note(kind, data)`), in order. */
export function notes(events: readonly HistoryEvent[], kind: string): Record<string, unknown>[] {
  return events.filter((e) => e.source === 'case' && e.kind === kind).map((e) => e.data);
}

/** Probe events (`ev` name) of one launch. */
export function probe(events: readonly HistoryEvent[], ev: string, launch = 0): HistoryEvent[] {
  return events.filter((e) => e.source === 'probe' && e.data.ev === ev && (e.launch ?? 0) === launch);
}

/** Signals the harness sent to one launch (optionally only `sig`). */
export function sent(events: readonly HistoryEvent[], launch = 0, sig?: string): HistoryEvent[] {
  return events.filter(
    (e) =>
      e.source === 'harness' && e.kind === 'signal-sent' && (e.launch ?? 0) === launch && (!sig || e.data.sig === sig),
  );
}

/** The first signal sent to a launch whose declared action is `action`. */
export function sentFor(
  events: readonly HistoryEvent[],
  m: Manifest,
  action: string,
  launch = 0,
): HistoryEvent | undefined {
  return sent(events, launch).find((e) => m.signals[e.data.sig as string] === action);
}

/** The stamp at which the harness began tearing down (everything after it is the harness's doing). */
export function teardownAt(events: readonly HistoryEvent[]): bigint | null {
  const t = events.find((e) => e.source === 'harness' && e.kind === 'teardown-begin');
  return t ? BigInt(t.ns) : null;
}

/** How a launch ended on its own, or null when it was still running when the case ended. */
export function exitOf(events: readonly HistoryEvent[], launch = 0): ExitInfo | null {
  const cutoff = teardownAt(events);
  const e = events.find((x) => x.source === 'process' && x.kind === 'exit' && (x.launch ?? 0) === launch);
  if (!e) return null;
  if (cutoff !== null && BigInt(e.ns) > cutoff) return null; // ended by the harness's teardown
  return { code: (e.data.code as number | null) ?? null, signal: (e.data.signal as string | null) ?? null, ns: e.ns };
}

/** Milliseconds between two ns stamps. */
export function ms(from: string | bigint, to: string | bigint): number {
  return Number(BigInt(to) - BigInt(from)) / 1e6;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Handler latency: the subject's probe `signal` stamp (taken at handler entry) minus the harness's
 * send stamp (taken just before kill). Null when no acknowledgement followed the send.
 */
export function ackLatency(events: readonly HistoryEvent[], send: HistoryEvent): number | null {
  const ack = ackOf(events, send);
  return ack ? ms(send.ns, ack.ns) : null;
}

/** The probe acknowledgement (`signal` event) of one send, if any. */
function ackOf(events: readonly HistoryEvent[], send: HistoryEvent): HistoryEvent | undefined {
  const launch = send.launch ?? 0;
  return events.find(
    (e) =>
      e.source === 'probe' &&
      e.data.ev === 'signal' &&
      (e.launch ?? 0) === launch &&
      e.data.sig === send.data.sig &&
      BigInt(e.ns) >= BigInt(send.ns),
  );
}

/** Client HTTP results recorded by the case (`result` notes), in order. */
export function results(events: readonly HistoryEvent[]): Record<string, unknown>[] {
  return notes(events, 'result');
}

/**
 * Whether a control-channel answer takes the request: a 2xx (accepted, done), or 409, the protocol's
 * answer to a request the state makes the subject refuse or ignore (subject protocol section 10). Any
 * other status (404, 405, 501...) refuses an action the manifest declares (CONTROL.EQUIVALENT).
 */
export function controlTaken(status: number): boolean {
  return (status >= 200 && status < 300) || status === 409;
}

export function hasProbe(m: Manifest): boolean {
  return m.capabilities.probe === true;
}

/**
 * Whether the subject reports its reloads and the start of its stop: the probe, or systemd's notify
 * protocol (readiness `notify`: RELOADING=1 / READY=1 / STOPPING=1 become probe events, notify.ts).
 */
export function reportsStates(m: Manifest): boolean {
  return m.capabilities.probe === true || m.readiness.kind === 'notify';
}

/** States the probe reported for a launch, in order. */
export function states(events: readonly HistoryEvent[], launch = 0): string[] {
  return probe(events, 'state', launch).map((e) => String(e.data.state));
}

/**
 * Slack of a subject's hold timer against the harness's send stamp when a `drained` event is compared
 * with the earliest end of a held request (both are monotonic clocks; a timer may fire a tick early, and
 * a coarse clock such as Windows' 15.6 ms tick may stamp early as well).
 */
export const HOLD_TIMER_SLACK_NS = 50_000_000n;

/**
 * The held requests visibly answered in full, each with the earliest moment its answer could have ended:
 * it was sent (the harness's stamp, taken before the write: the `http-sent` event paired with the result
 * by its stamp) asking to be held `ms` (`GET /hold?ms=`), and came back 200 with the whole body the
 * protocol gives it (`held <ms>`), no sooner than the hold allows. A response cut or ended early (a
 * close-delimited body ends with the connection) proves no such moment and is left out.
 */
export function answeredHolds(
  events: readonly HistoryEvent[],
  held: readonly string[],
): { label: string; endNs: bigint }[] {
  const out: { label: string; endNs: bigint }[] = [];
  for (const r of results(events)) {
    if (!held.includes(String(r.label)) || r.ok !== true || r.status !== 200 || r.sentNs === undefined) continue;
    const send = events.find(
      (e) => e.source === 'client' && e.kind === 'http-sent' && e.ns === String(r.sentNs) && e.data.label === r.label,
    );
    const hold = /^\/hold\?ms=(\d+)$/.exec(String(send?.data.path ?? ''));
    if (send === undefined || hold === null || r.body !== `held ${hold[1]}\n`) continue;
    const endNs = BigInt(send.ns) + BigInt(hold[1]!) * 1_000_000n;
    if (r.doneNs === undefined || BigInt(String(r.doneNs)) + HOLD_TIMER_SLACK_NS < endNs) continue;
    out.push({ label: String(r.label), endNs });
  }
  return out;
}
