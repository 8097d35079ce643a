/**
 * The stop guarantees, one verifier each: in-flight requests drained (STOP.DRAIN.IN_FLIGHT), state
 * persisted on every stop path (STOP.PERSIST_ALL_PATHS), Connection: close after the stop
 * (STOP.CONNECTION_CLOSE), and the exit of a graceful stop.
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { verifyExitZero } from './exit.js';
import { hasProbe, notes, probe, results, sent, sentFor } from './facts.js';
import { unknown, unobservable, verdict } from './verdict.js';

/** What a drained request must have delivered: its exact body (or the body trimmed, for line protocols). */
export interface DrainExpectation {
  /** labels of the `result` notes that were in flight at the stop (default: every result with `expectBody`) */
  labels?: string[];
  /** how many in-flight requests the case started (a missing result is a failure) */
  count?: number;
  /** compare bodies after trimming whitespace (a line read from a FIFO) */
  trim?: boolean;
  /** what the requests were, for the report ("3 held requests", "the upload") */
  what: string;
  /** for transfers checked by size or hash instead of an exact body: whether the result is complete */
  complete?: (r: Record<string, unknown>) => boolean;
}

function bodyOk(r: Record<string, unknown>, o: DrainExpectation): boolean {
  if (r.ok !== true || r.status !== 200) return false;
  if (o.complete) return o.complete(r);
  const trim = o.trim === true;
  const body = String(r.body ?? '');
  return trim ? body.trim() === String(r.expectBody).trim() : body === r.expectBody;
}

function describeResult(r: Record<string, unknown>): string {
  return r.ok === true
    ? `${String(r.label)}: ${String(r.status)} ${r.body === undefined ? `${String(r.bytes)} bytes` : JSON.stringify(r.body)}`
    : `${String(r.label)}: failed (${String(r.error)})`;
}

/**
 * STOP.DRAIN.IN_FLIGHT: every request in flight at the stop completes with status 200 and its exact
 * body. A transfer that failed before any stop-path signal was sent is undecided (not the stop's doing).
 */
export function verifyDrain(events: readonly HistoryEvent[], m: Manifest, o: DrainExpectation): Verdict {
  const all = results(events);
  const rs = o.labels ? all.filter((r) => o.labels!.includes(String(r.label))) : all.filter((r) => 'expectBody' in r);
  const count = o.count ?? o.labels?.length ?? rs.length;
  const detail = `${o.what} in flight at the stop complete${count === 1 ? 's' : ''} with status 200 and ${o.complete ? 'every byte' : 'the exact body'}`;
  const stopSend = sentFor(events, m, 'stop') ?? sentFor(events, m, 'fast-stop');
  const broken = rs.filter((r) => !bodyOk(r, o));
  // when a failed transfer ended: its own stamp, else the client's http-done event for it
  const endedAt = (r: Record<string, unknown>): bigint | null => {
    if (r.doneNs !== undefined) return BigInt(String(r.doneNs));
    const done = events.find((e) => e.source === 'client' && e.kind === 'http-done' && e.data.label === r.label);
    return done ? BigInt(done.ns) : null;
  };
  // a reload while the transfer ran: its failure is RELOAD.IN_FLIGHT's to judge, not the drain's
  const reload = sentFor(events, m, 'reload');
  const beforeStop = broken.filter((r) => {
    if (r.ok === true || !stopSend) return false;
    const at = endedAt(r);
    return (
      (at !== null && at < BigInt(stopSend.ns)) || (reload !== undefined && BigInt(reload.ns) < BigInt(stopSend.ns))
    );
  });
  if (broken.length > 0 && beforeStop.length === broken.length) {
    return unknown(
      'STOP.DRAIN.IN_FLIGHT',
      detail,
      `failed before the stop was sent, or after a reload that may have dropped it (RELOAD.IN_FLIGHT judges that): ${broken.map(describeResult).join('; ')}`,
    );
  }
  return verdict(
    'STOP.DRAIN.IN_FLIGHT',
    count > 0 && rs.length === count && broken.length === 0,
    detail,
    rs.length === 0
      ? 'no response was recorded'
      : `${rs.length}/${count} recorded: ${rs.map(describeResult).join('; ')}`,
  );
}

/**
 * STOP.PERSIST_ALL_PATHS on one stop path: the subject reports `persisted` on its probe before it exits.
 * Needs the probe; without it the verifier says nothing (black box: not observable).
 */
export function verifyPersist(events: readonly HistoryEvent[], m: Manifest, path: string, launch = 0): Verdict[] {
  // a server that keeps no state has no persist step to check (the requirement does not apply to it)
  if (m.capabilities.stateless === true) return [];
  if (!hasProbe(m))
    return [
      unobservable(
        'STOP.PERSIST_ALL_PATHS',
        `the ${path} path persists state before exit`,
        ['probe'],
        'black box: only a probe `persisted` event shows the persist step (a server without state declares `stateless`)',
      ),
    ];
  const n = probe(events, 'persisted', launch).length;
  return [
    verdict(
      'STOP.PERSIST_ALL_PATHS',
      n >= 1,
      `the ${path} path persists state (probe \`persisted\`) before exit`,
      `${n} persisted event(s) on the ${path} path`,
    ),
  ];
}

/** The verdicts every graceful stop owes: exit 0 and persisted state. */
export function gracefulExitVerdicts(events: readonly HistoryEvent[], m: Manifest, launch = 0): Verdict[] {
  return [verifyExitZero(events, launch), ...verifyPersist(events, m, 'graceful', launch)];
}

/**
 * STOP.CONNECTION_CLOSE over recorded results and `conn-after` notes:
 *  - a response whose headers arrived after the stop was acknowledged (probe `signal`; black box: 50 ms
 *    after the send) carries `Connection: close`. Headers flushed before the stop cannot, and need not.
 *    A response to a request that itself said `Connection: close` (`askedClose`) is left out: any
 *    HTTP/1.1 server echoes that, stopping or not, so it shows nothing about the subject's stop;
 *  - every connection that was in flight at the stop is closed by the subject after its response
 *    (note `conn-after` with `how` fin or rst, not timeout), so it is never reused.
 * With neither kind of evidence the verdict is unknown (nothing was observed), not a pass.
 */
export function verifyConnectionClose(events: readonly HistoryEvent[], m: Manifest): Verdict {
  const send = sentFor(events, m, 'stop') ?? sent(events)[0];
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
  const lateAll = after === null ? [] : rs.filter((r) => BigInt(String(r.headersNs)) > after);
  const late = lateAll.filter((r) => r.askedClose !== true);
  const echoed = lateAll.length - late.length;
  const lateBad = late.filter((r) => String(r.connection ?? '').toLowerCase() !== 'close');
  const conns = notes(events, 'conn-after');
  const open = conns.filter((c) => c.how === 'timeout');
  const id = 'STOP.CONNECTION_CLOSE';
  if (late.length === 0 && conns.length === 0) {
    return unknown(
      id,
      'responses written after the stop carry Connection: close, and every connection busy at the stop is closed after its response',
      `no response written after the stop to a request that left the connection open${echoed ? ` (${echoed} to requests that asked for Connection: close themselves)` : ''}, and no connection busy at the stop was watched`,
    );
  }
  return verdict(
    id,
    lateBad.length === 0 && open.length === 0,
    'responses written after the stop carry Connection: close, and every connection busy at the stop is closed after its response',
    `${late.length} response(s) written after the stop to keep-alive requests, ${lateBad.length} without Connection: close${lateBad.length ? ` (${lateBad.map((r) => `${r.label}: ${r.connection ?? '(none)'}`).join(', ')})` : ''}; ${conns.length} busy connection(s), ${open.length} left open after the response`,
  );
}
