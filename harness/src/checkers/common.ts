/**
 * Shared checkers: pure functions from a history (events) to facts and verdicts. They never touch a
 * process. Every verdict says what was expected and what was observed.
 */
import { signalFor } from '../case.js';
import type { Action, ExitCodeSpec, HistoryEvent, Manifest, Verdict } from '../types.js';

export function verdict(
  requirement: string,
  ok: boolean,
  expected: string,
  actual: string,
  metrics?: Record<string, number>,
): Verdict {
  return { requirement, status: ok ? 'pass' : 'fail', expected, actual, ...(metrics ? { metrics } : {}) };
}

export function info(requirement: string, expected: string, actual: string, metrics?: Record<string, number>): Verdict {
  return { requirement, status: 'info', expected, actual, ...(metrics ? { metrics } : {}) };
}

export function unknown(requirement: string, expected: string, actual: string): Verdict {
  return { requirement, status: 'unknown', expected, actual };
}

/** Case notes of one kind, in order. */
export function notes(events: readonly HistoryEvent[], kind: string): Record<string, unknown>[] {
  return events.filter((e) => e.source === 'case' && e.kind === kind).map((e) => e.data);
}

export function note(events: readonly HistoryEvent[], kind: string): Record<string, unknown> | undefined {
  return notes(events, kind)[0];
}

/** Probe events (`ev` name) of one launch. */
export function probe(events: readonly HistoryEvent[], ev: string, launch = 0): HistoryEvent[] {
  return events.filter((e) => e.source === 'probe' && e.data.ev === ev && (e.launch ?? 0) === launch);
}

/** Signals the harness sent to one launch. */
export function sent(events: readonly HistoryEvent[], launch = 0, sig?: string): HistoryEvent[] {
  return events.filter(
    (e) =>
      e.source === 'harness' && e.kind === 'signal-sent' && (e.launch ?? 0) === launch && (!sig || e.data.sig === sig),
  );
}

export interface ExitFact {
  code: number | null;
  signal: string | null;
  ns: string;
}

/** How a launch ended, or null when it was still running when the case ended. */
export function exitOf(events: readonly HistoryEvent[], launch = 0): ExitFact | null {
  const teardown = events.find((e) => e.source === 'harness' && e.kind === 'teardown-begin');
  const e = events.find((x) => x.source === 'process' && x.kind === 'exit' && (x.launch ?? 0) === launch);
  if (!e) return null;
  if (teardown && BigInt(e.ns) > BigInt(teardown.ns)) return null; // ended by the harness's teardown
  return { code: (e.data.code as number | null) ?? null, signal: (e.data.signal as string | null) ?? null, ns: e.ns };
}

export function describeExit(x: ExitFact | null): string {
  if (!x) return 'still running when the case ended (the harness had to stop it)';
  return x.signal ? `killed by ${x.signal}` : `exit ${x.code}`;
}

export function exitMatches(x: ExitFact | null, spec: ExitCodeSpec, stopSignal?: string): boolean {
  if (!x) return false;
  if (spec === 'signal') return x.signal !== null && (stopSignal === undefined || x.signal === stopSignal);
  return x.signal === null && x.code === spec;
}

export function describeSpec(spec: ExitCodeSpec): string {
  return spec === 'signal' ? 'death by the re-raised signal' : `exit ${spec}`;
}

/** Milliseconds between two ns stamps. */
export function ms(from: string, to: string): number {
  return Number(BigInt(to) - BigInt(from)) / 1e6;
}

/**
 * Handler latency: the subject's probe `signal` stamp (taken at handler entry) minus the harness's
 * send stamp (taken just before kill). Null when no acknowledgement followed the send.
 */
export function ackLatency(events: readonly HistoryEvent[], send: HistoryEvent): number | null {
  const launch = send.launch ?? 0;
  const ack = events.find(
    (e) =>
      e.source === 'probe' &&
      e.data.ev === 'signal' &&
      (e.launch ?? 0) === launch &&
      e.data.sig === send.data.sig &&
      BigInt(e.ns) >= BigInt(send.ns),
  );
  return ack ? ms(send.ns, ack.ns) : null;
}

/** Client HTTP results recorded by the case (`result` notes), by label. */
export function results(events: readonly HistoryEvent[]): Record<string, unknown>[] {
  return notes(events, 'result');
}

export function hasProbe(m: Manifest): boolean {
  return m.capabilities.probe === true;
}

/** The exit-time verdicts most stop cases share. */
export function gracefulExitVerdicts(events: readonly HistoryEvent[], m: Manifest, launch = 0): Verdict[] {
  const x = exitOf(events, launch);
  const out: Verdict[] = [
    verdict(
      'STOP.EXIT_ZERO',
      exitMatches(x, 0),
      'a successful graceful stop ends with exit 0 (whatever the manifest declares)',
      describeExit(x),
    ),
  ];
  if (hasProbe(m)) {
    const persisted = probe(events, 'persisted', launch).length;
    out.push(
      verdict(
        'STOP.PERSIST_ALL_PATHS',
        persisted >= 1,
        'state is persisted (probe `persisted`) before exit',
        `${persisted} persisted event(s)`,
      ),
    );
  }
  return out;
}

/** Percentile by nearest rank. */
export function pct(samples: number[], p: number): number {
  if (!samples.length) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * STOP.CONNECTION_CLOSE over recorded results and `conn-after` notes:
 *  - a response whose headers arrived after the stop was acknowledged (probe `signal`; black box: 50 ms
 *    after the send) carries `Connection: close`. Headers flushed before the stop cannot, and need not;
 *  - every connection that was in flight at the stop is closed by the subject after its response
 *    (note `conn-after` with `how` fin or rst, not timeout), so it is never reused.
 */
export function connectionCloseVerdict(events: readonly HistoryEvent[], m: Manifest): Verdict {
  const send = sent(events).find((e) => m.signals[e.data.sig as string] === 'stop') ?? sent(events)[0];
  const ack = send
    ? events.find(
        (e) =>
          e.source === 'probe' &&
          e.data.ev === 'signal' &&
          e.data.sig === send.data.sig &&
          BigInt(e.ns) >= BigInt(send.ns),
      )
    : undefined;
  const after = ack ? BigInt(ack.ns) : send ? BigInt(send.ns) + 50_000_000n : null;
  const rs = results(events).filter((r) => r.ok === true && r.headersNs !== undefined);
  const late = after === null ? [] : rs.filter((r) => BigInt(String(r.headersNs)) > after);
  const lateBad = late.filter((r) => String(r.connection ?? '').toLowerCase() !== 'close');
  const conns = notes(events, 'conn-after');
  const open = conns.filter((c) => c.how === 'timeout');
  return verdict(
    'STOP.CONNECTION_CLOSE',
    lateBad.length === 0 && open.length === 0 && (late.length > 0 || conns.length > 0),
    'responses written after the stop carry Connection: close, and every connection busy at the stop is closed after its response',
    `${late.length} response(s) written after the stop, ${lateBad.length} without Connection: close${lateBad.length ? ` (${lateBad.map((r) => `${r.label}: ${r.connection ?? '(none)'}`).join(', ')})` : ''}; ${conns.length} busy connection(s), ${open.length} left open after the response`,
  );
}

/**
 * Verdicts on a requirement named after a signal (SIG.HUP.NEVER_FATAL, SIG.HUP.RELOAD...) that a case
 * judged by sending the signal the map gives `action`: kept only when that signal is `sig` itself, so
 * a reload through SIGUSR1 is never reported as evidence about SIGHUP (spec 4.2, E38).
 */
export function throughSignal(m: Manifest, sig: string, action: Action, vs: Verdict[]): Verdict[] {
  return signalFor(m, action) === sig ? vs : [];
}

/** A transfer that failed after a reload signal: its failure cannot be put down to the stop that followed. */
export function droppedBeforeStop(events: readonly HistoryEvent[], label: string, m: Manifest): boolean {
  const reload = sent(events).find((e) => m.signals[e.data.sig as string] === 'reload');
  const done = events.find((e) => e.source === 'client' && e.kind === 'http-done' && e.data.label === label);
  return reload !== undefined && done !== undefined && done.data.ok !== true;
}
