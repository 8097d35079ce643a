/**
 * The stop guarantees, one verifier each: in-flight requests drained (STOP.DRAIN.IN_FLIGHT), state
 * persisted on every stop path (STOP.PERSIST_ALL_PATHS), Connection: close after the stop
 * (STOP.CONNECTION_CLOSE), the exit of a graceful stop, and the probe's account of the drain
 * (STOP.OBSERVABLE).
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { describeExit, exitMatches, verifyExitZero } from './exit.js';
import {
  answeredHolds,
  exitOf,
  HOLD_TIMER_SLACK_NS,
  hasProbe,
  notes,
  probe,
  results,
  sent,
  sentFor,
  teardownAt,
} from './facts.js';
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

/** What a stop's `drained` event is judged against (STOP.OBSERVABLE). */
export interface DrainReport {
  /** when the stop was asked for (ns stamp of the send or the control request) */
  at: string | undefined;
  /** labels of the `result` notes the case held in flight at the stop */
  held: string[];
  /** a fast stop was asked for (a fast path, or a repeat that escalates): a drain cut with nothing held is possible */
  fast?: boolean;
}

/**
 * STOP.OBSERVABLE: a subject with a probe writes one `drained` event per stop, after `stop-accepting` and
 * before EXITING, and what it says agrees with what the harness saw happen to the requests it held:
 * `forced: false` (the drain completed) never while a held request was cut (by the subject: the client's
 * own timeout is not counted), and with `aborted: 0`; `forced: true` (the drain was cut short) with
 * `aborted` counting at least the held requests cut. Where only the event and the exit status disagree
 * (`forced: false` with the deadline status; `forced: true` on a graceful stop that cut nothing and ended
 * with the graceful status) one of the two is wrong and the verdict says so. The event reports the end of
 * the drain, so it never comes before a held request that was answered in full could have been answered
 * (its send plus the hold it asked for: a report written at the drain's start). A true event next to a wrong
 * exit otherwise passes here (the exit is STOP.EXIT_ZERO's and STOP.DEADLINE_EXIT_CODE's). Not judged: a
 * missing event when the subject died by a signal or ended outside every stop status (a crash), the order
 * against a `stop-accepting` or EXITING that was never written, an `aborted` above what the harness held
 * (other connections may have been open), and when a repeat's escalation came.
 */
export function verifyDrainReport(events: readonly HistoryEvent[], m: Manifest, o: DrainReport): Verdict {
  const detail =
    'one `drained` event after `stop-accepting` and before EXITING, once the drain has ended; `forced` exactly when the drain was cut short (deadline, fast stop), `aborted` counting the requests it closed unanswered';
  if (!hasProbe(m)) return unobservable('STOP.OBSERVABLE', detail, ['probe']);
  const x = exitOf(events);
  if (o.at === undefined || x === null) {
    return unknown('STOP.OBSERVABLE', detail, x === null ? 'the subject did not exit on its own' : 'no stop was sent');
  }
  const from = BigInt(o.at);
  // up to the harness's teardown, not the exit: a probe line without its own `t` is stamped when read,
  // which may be after the exit was seen
  const to = teardownAt(events);
  const within = (e: HistoryEvent) => BigInt(e.ns) >= from && (to === null || BigInt(e.ns) <= to);
  const drained = probe(events, 'drained').filter(within);
  const accepting = probe(events, 'stop-accepting').filter(within)[0];
  const exiting = probe(events, 'state').filter((e) => within(e) && e.data.state === 'EXITING')[0];
  // cut by the subject: the harness's own client timeout is not the subject's doing
  const cut = results(events).filter((r) => o.held.includes(String(r.label)) && r.ok !== true && r.error !== 'timeout');
  const { graceful: g, deadline: dl, fastStop: fs } = m.exitCodes;
  const graceful = exitMatches(x, g) && !exitMatches(x, dl);
  const deadline = exitMatches(x, dl) && !exitMatches(x, g);
  if (drained.length === 0 && (x.signal !== null || ![g, dl, fs].some((c) => exitMatches(x, c)))) {
    // death by the re-raised signal may come before the event could be written, and an exit outside
    // every stop status is a crash, judged by the exit's own requirements: neither says what a drain report would
    return unknown('STOP.OBSERVABLE', detail, `${describeExit(x)} with no \`drained\` event`);
  }
  const problems: string[] = [];
  if (drained.length === 0) problems.push('no `drained` event');
  if (drained.length > 1) problems.push(`${drained.length} \`drained\` events`);
  const d = drained[0];
  if (d) {
    const forced = d.data.forced;
    const aborted = d.data.aborted;
    if (typeof forced !== 'boolean') problems.push(`\`forced\` is ${JSON.stringify(forced)}, not a boolean`);
    if (typeof aborted !== 'number' || !Number.isInteger(aborted) || aborted < 0)
      problems.push(`\`aborted\` is ${JSON.stringify(aborted)}, not a count`);
    if (accepting && BigInt(d.ns) < BigInt(accepting.ns)) problems.push('`drained` came before `stop-accepting`');
    if (exiting && BigInt(d.ns) > BigInt(exiting.ns)) problems.push('`drained` came after the EXITING transition');
    for (const a of answeredHolds(events, o.held)) {
      if (BigInt(d.ns) + HOLD_TIMER_SLACK_NS < a.endNs)
        problems.push(
          `\`drained\` came ${Number((a.endNs - BigInt(d.ns)) / 1_000_000n)} ms before the held request ${a.label} could have been answered (its send plus its hold): the drain was reported over while it still ran`,
        );
    }
    if (forced === false) {
      if (typeof aborted === 'number' && aborted > 0) problems.push(`\`forced: false\` with \`aborted: ${aborted}\``);
      if (cut.length > 0)
        problems.push(
          `\`forced: false\` although the harness saw ${cut.length} held request(s) cut (${cut.map((r) => r.label).join(', ')})`,
        );
      else if (deadline)
        problems.push(
          `\`forced: false\` with the deadline status (${describeExit(x)}): the event or the exit is wrong`,
        );
    }
    if (forced === true) {
      if (graceful && cut.length === 0 && o.fast !== true)
        problems.push(
          `\`forced: true\` on a graceful stop that cut no held request and ended with ${describeExit(x)}: the event or the exit is wrong`,
        );
      if (typeof aborted === 'number' && aborted < cut.length)
        problems.push(`\`aborted: ${aborted}\` although the harness saw ${cut.length} held request(s) cut`);
    }
  }
  const said = d ? `drained ${JSON.stringify({ forced: d.data.forced, aborted: d.data.aborted })}` : 'no drained';
  const actual = `${describeExit(x)}; ${said}${drained.length > 1 ? ` (${drained.length} events)` : ''}; ${
    cut.length
  } of ${o.held.length} held request(s) cut${problems.length ? `: ${problems.join('; ')}` : ''}`;
  return verdict('STOP.OBSERVABLE', problems.length === 0, detail, actual);
}
