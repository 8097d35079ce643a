/**
 * The declared map's verifiers: every stop path against every guarantee that applies to it, and every
 * other declared action carried out with the subject still serving. The guarantees are the shared
 * verifiers (exit, drain, Connection: close, persist, listener); this module only says which apply to
 * which path and reads the path's own events.
 */

import type { PathRow } from '../report/model.js';
import { BUS_REQUESTS } from '../spec-lifecycle.js';
import type { Action, HistoryEvent, Manifest, Outcome, Verdict } from '../types.js';
import { describeExit, describeSpec, exitMatches, verifyExitZero } from './exit.js';
import { exitOf, probe, results, sent, teardownAt } from './facts.js';
import { verifyListenerClosed, verifyReadinessFirstNotify } from './listener.js';
import { reopenNotCarriedOut, verifyLogReopen } from './logs.js';
import { verifyPidfileRemoved } from './pidfile.js';
import { verifyConnectionClose, verifyDrain, verifyDrainReport, verifyPersist } from './stop.js';
import { type RequirementId, unknown, unobservable, verdict } from './verdict.js';

/** How a stop was requested: a signal of the map, a repeat-map delivery during a stop, the control channel. */
export type PathKind = 'signal' | 'repeat' | 'control';

export interface StopPath {
  kind: PathKind;
  /** the signal (or `control`) */
  via: string;
  /** a graceful stop (declared `stop`), else a fast stop */
  graceful: boolean;
  /** repeat paths: the stop signal sent first */
  first?: string | undefined;
}

/** The guarantee columns of the path x guarantee table, and the requirement that states each. */
export const PATH_GUARANTEES: ReadonlyArray<{ column: string; requirements: readonly RequirementId[] }> = [
  {
    column: 'declared action',
    requirements: [
      'SIG.MAP.DECLARED',
      'CONTROL.EQUIVALENT',
      'REPEAT.IDEMPOTENT',
      'REPEAT.ESCALATION',
      'SIG.TERM.GRACEFUL',
      'SIG.INT.GRACEFUL',
      'SIG.QUIT.FAST',
      'SIG.INT.SECOND_FAST',
    ],
  },
  { column: 'exit status', requirements: ['STOP.EXIT_ZERO', 'STOP.DEADLINE_EXIT_CODE'] },
  { column: 'drain', requirements: ['STOP.DRAIN.IN_FLIGHT'] },
  { column: 'Connection: close', requirements: ['STOP.CONNECTION_CLOSE'] },
  { column: 'persist', requirements: ['STOP.PERSIST_ALL_PATHS'] },
  { column: 'pidfile removed', requirements: ['PIDFILE.REMOVED'] },
  { column: 'listener closed', requirements: ['STOP.LISTENER_CLOSED'] },
  { column: 'drain reported', requirements: ['STOP.OBSERVABLE'] },
  { column: 'no orphans', requirements: ['PROC.NO_ORPHANS'] },
];

/** The stamp at which the stop of a path was requested. */
function requestedAt(events: readonly HistoryEvent[], p: StopPath): string | undefined {
  if (p.kind === 'control') return events.find((e) => e.source === 'case' && e.kind === 'control-sent')?.ns;
  return sent(events, 0, p.kind === 'repeat' ? p.first : p.via)[0]?.ns;
}

function heldResult(events: readonly HistoryEvent[]): Record<string, unknown> | undefined {
  return results(events).find((r) => r.label === 'held');
}

function stoppingCount(events: readonly HistoryEvent[]): number {
  return probe(events, 'state').filter((e) => e.data.state === 'STOPPING').length;
}

export function stopPathVerdicts(events: readonly HistoryEvent[], m: Manifest, p: StopPath): Verdict[] {
  const name =
    p.kind === 'control'
      ? `control ${p.graceful ? 'stop' : 'fast-stop'}`
      : `${p.via} (${p.graceful ? 'stop' : 'fast-stop'})`;
  const x = exitOf(events);
  const held = heldResult(events);
  const hasProbe = m.capabilities.probe === true;
  const out: Verdict[] = [];

  // the declared action, and the exit it ends with
  // the declared action of a graceful stop includes its declared exit status (as the lifecycle verifier reads it)
  const gracefulOk = exitMatches(x, m.exitCodes.graceful) && (!hasProbe || stoppingCount(events) >= 1);
  const fastSpec = m.exitCodes.fastStop;
  const fastSignal = p.kind === 'control' ? undefined : p.via;
  // a held request whose whole response arrived before the stop was even asked for (a loaded machine sent
  // the stop late) was never in flight at the stop: it says nothing about a fast stop, which is then
  // judged by its exit alone (headers alone prove nothing: a server may send them before the body)
  const asked = requestedAt(events, p);
  const answeredBefore =
    held?.ok === true &&
    asked !== undefined &&
    held.doneNs !== undefined &&
    BigInt(String(held.doneNs)) < BigInt(asked);
  const fastOk = exitMatches(x, fastSpec, fastSignal) && (held?.ok !== true || answeredBefore);
  // with a probe, the stop is announced (probe `request`) as the action asked for: a graceful stop is not
  // reported as a fast one or the reverse (found by mutation testing of the reference's bus). The first
  // request after the ask that is not one of the other actions is the stop's: one announced as no action
  // at all (an empty or unknown name) is misannounced too, not overlooked
  const wanted = p.graceful ? 'stop' : 'fast-stop';
  const otherActions = new Set<string>(BUS_REQUESTS.filter((a) => a !== 'stop' && a !== 'fast-stop'));
  const announced =
    hasProbe && p.kind !== 'repeat' && asked !== undefined
      ? probe(events, 'request').find((e) => BigInt(e.ns) >= BigInt(asked) && !otherActions.has(String(e.data.action)))
      : undefined;
  // and from where it came: `source` is `control` for the control channel and `signal` otherwise (a
  // request the harness finds by its source, as the lifecycle table's control acknowledgements are)
  const wantedSource = p.kind === 'control' ? 'control' : 'signal';
  const misannounced =
    announced !== undefined && (announced.data.action !== wanted || announced.data.source !== wantedSource);
  // the probe's account of the drain (STOP.OBSERVABLE), judged on every path, the early returns too
  const drainReport = verifyDrainReport(events, m, { at: asked, held: held ? ['held'] : [], fast: !p.graceful });
  const what = p.graceful
    ? `a graceful stop: ${describeSpec(m.exitCodes.graceful)}, not death by the signal${hasProbe ? ', through STOPPING' : ''}`
    : `a fast stop: ${describeSpec(fastSpec)} without answering the request in flight`;
  const actual = `${describeExit(x)}${hasProbe ? `, ${stoppingCount(events)} STOPPING transition(s)` : ''}${
    misannounced
      ? `, announced on the probe as ${String(announced?.data.action)} from ${String(announced?.data.source)} (asked: ${wanted} from ${wantedSource})`
      : ''
  }${
    held
      ? `; the held request ${
          held.ok !== true
            ? `was cut (${String(held.error)})`
            : answeredBefore
              ? 'was answered before the stop was asked for (not in flight at the stop: not judged)'
              : 'was answered'
        }`
      : ''
  }`;
  const ok = (p.graceful ? gracefulOk : fastOk) && !misannounced;
  // a repeat path whose stop ended before the repeat could be sent (nothing held it open) cannot show
  // what the repeat does: its action is not judged, the rest of the path is
  const repeatSends = p.kind === 'repeat' ? sent(events, 0, p.via).length : 0;
  if (p.kind === 'repeat' && repeatSends < (p.first === p.via ? 2 : 1)) {
    const why = `the stop ${p.first} started ended (${describeExit(x)}) before ${p.via} could be sent again: nothing held it open`;
    // with nothing held, only a request held through GET /hold keeps the stop open for the repeat
    const needs = held ? [] : ['hold'];
    out.push(unknown('SIG.MAP.DECLARED', `${name} during a stop: ${what}`, why, needs));
    out.push(unknown(p.graceful ? 'REPEAT.IDEMPOTENT' : 'REPEAT.ESCALATION', `${p.via} during the stop`, why, needs));
    if (!p.graceful && p.via === 'SIGINT') out.push(unknown('SIG.INT.SECOND_FAST', 'SIGINT during a stop', why, needs));
    out.push(...verifyPersist(events, m, name));
    out.push(verifyListenerClosed(events, m, requestedAt(events, p)));
    out.push(...verifyReadinessFirstNotify(events, m, requestedAt(events, p)));
    out.push(drainReport);
    return out;
  }
  // a fast repeat after a stop with nothing held open and no probe: a graceful exit may be a stop that had
  // already ended when the repeat arrived, which a black box cannot tell from an ignored repeat
  if (p.kind === 'repeat' && !p.graceful && !held && !hasProbe && !fastOk && exitMatches(x, m.exitCodes.graceful)) {
    const why = `${describeExit(x)}: nothing held the stop ${p.first} started open, so it may have ended before ${p.via} arrived (a request held through GET /hold makes the repeat observable)`;
    out.push(unobservable('SIG.MAP.DECLARED', `${name} during a stop: ${what}`, ['hold'], why));
    out.push(unobservable('REPEAT.ESCALATION', `${p.via} during the stop`, ['hold'], why));
    if (p.via === 'SIGINT') out.push(unobservable('SIG.INT.SECOND_FAST', 'SIGINT during a stop', ['hold'], why));
    out.push(...verifyPersist(events, m, name));
    out.push(verifyListenerClosed(events, m, requestedAt(events, p)));
    out.push(...verifyReadinessFirstNotify(events, m, requestedAt(events, p)));
    out.push(drainReport);
    return out;
  }
  if (p.kind === 'control') {
    // the request is accepted (the protocol's 202; any 2xx): a stop carried out under a refusal (409) tells
    // the caller the opposite of what happened. No answer at all (the process gone first) is not judged.
    const answer = results(events).find((r) => r.control === wanted);
    const refused = answer?.ok === true && (Number(answer.status) < 200 || Number(answer.status) >= 300);
    out.push(
      verdict(
        'CONTROL.EQUIVALENT',
        ok && !refused,
        `the control channel's ${name}: the request is accepted (2xx) and carried out as ${what}`,
        `${
          refused
            ? `POST /control/${wanted} answered ${String(answer?.status)} ${String(answer?.body ?? '')
                .trim()
                .slice(0, 80)}; `
            : ''
        }${actual}`,
      ),
    );
  } else out.push(verdict('SIG.MAP.DECLARED', ok, `${name}: ${what}`, actual));

  if (p.kind === 'repeat') {
    if (p.graceful) {
      const persisted = probe(events, 'persisted').length;
      out.push(
        verdict(
          'REPEAT.IDEMPOTENT',
          gracefulOk && (!hasProbe || (stoppingCount(events) === 1 && persisted <= 1)),
          `${p.via} during the stop ${p.first} started begins no second stop sequence and persists once`,
          `${actual}${hasProbe ? `, ${persisted} persist(s)` : ''}`,
        ),
      );
    } else {
      out.push(verdict('REPEAT.ESCALATION', fastOk, `${p.via} during a graceful stop turns it into ${what}`, actual));
      if (p.via === 'SIGINT')
        out.push(verdict('SIG.INT.SECOND_FAST', fastOk, `SIGINT during the stop ${p.first} started: ${what}`, actual));
    }
  }
  if (p.kind === 'signal' && p.graceful && (p.via === 'SIGTERM' || p.via === 'SIGINT')) {
    // with a held request, the graceful stop includes its drain (black box too)
    const drained = !held || (held.ok === true && held.body === held.expectBody);
    out.push(
      verdict(
        p.via === 'SIGTERM' ? 'SIG.TERM.GRACEFUL' : 'SIG.INT.GRACEFUL',
        gracefulOk && drained && exitMatches(x, 0),
        `${p.via} starts a graceful stop that ${held ? 'drains the request in flight and ' : ''}ends with exit 0`,
        actual,
      ),
    );
  }
  if (p.kind === 'signal' && !p.graceful && p.via === 'SIGQUIT') {
    out.push(verdict('SIG.QUIT.FAST', fastOk, `SIGQUIT: ${what}`, actual));
  }
  if (p.graceful) {
    out.push(verifyExitZero(events));
    if (held) {
      out.push(verifyDrain(events, m, { labels: ['held'], what: `the held request (${name})` }));
      out.push(verifyConnectionClose(events, m));
    }
  }
  out.push(...verifyPersist(events, m, name));
  if (m.capabilities.pidfile) out.push(verifyPidfileRemoved(events, `${name} path`, 'pidfile-after'));
  out.push(verifyListenerClosed(events, m, requestedAt(events, p)));
  out.push(...verifyReadinessFirstNotify(events, m, requestedAt(events, p)));
  out.push(drainReport);
  if (p.kind === 'signal' && p.via === 'SIGHUP') {
    out.push(
      verdict(
        'SIG.HUP.NEVER_FATAL',
        false,
        'a signal map never gives SIGHUP a stop action',
        `the map gives SIGHUP: ${p.graceful ? 'stop' : 'fast-stop'}`,
      ),
    );
  }
  return out;
}

/**
 * A declared action other than a stop: carried out, and the subject keeps running and serving. `sig` is
 * the signal, or `control` for the control channel's request of the same action (CONTROL.EQUIVALENT).
 * reopen-logs is also judged on the handed-over log file (logs.ts).
 */
export function mapActionVerdicts(
  events: readonly HistoryEvent[],
  m: Manifest,
  sig: string,
  action: Action,
): Verdict[] {
  const control = sig === 'control';
  const send = control ? events.find((e) => e.source === 'case' && e.kind === 'control-sent') : sent(events, 0, sig)[0];
  const answer = control ? results(events).find((r) => r.control === action) : undefined;
  const answered = !control || (answer?.ok === true && answer.status === 200);
  const cutoff = teardownAt(events);
  const x = exitOf(events);
  const held = heldResult(events);
  const after = results(events).filter((r) => r.after === true);
  const lastAfter = after.at(-1);
  const stopBegan = probe(events, 'state').filter(
    (e) =>
      (e.data.state === 'STOPPING' || e.data.state === 'EXITING') &&
      (!send || BigInt(e.ns) >= BigInt(send.ns)) &&
      (cutoff === null || BigInt(e.ns) < cutoff),
  );
  const serving = x === null && lastAfter?.ok === true && (!held || held.ok === true);
  const probeEv =
    action === 'reload'
      ? 'reload-done'
      : action === 'restart'
        ? 'restart-done'
        : action === 'reopen-logs'
          ? 'reopen-logs'
          : null;
  const done = probeEv ? probe(events, probeEv).some((e) => !send || BigInt(e.ns) >= BigInt(send.ns)) : true;
  const generation = /"generation":\s*(\d+)/.exec(String(lastAfter?.body ?? ''))?.[1];
  // the probe must report a reload's end; sd_notify may (RELOAD.OBSERVABLE, a SHOULD, judges whether it
  // does): a notify server that stays silent is judged like a black box, by the configuration it serves
  const servedGeneration = m.endpoints.includes('config') ? generation === '2' : true;
  const reloaded =
    action !== 'reload'
      ? true
      : m.capabilities.probe
        ? done
        : m.readiness.kind === 'notify'
          ? done || servedGeneration
          : servedGeneration;
  // reopen-logs reported done while lines still land in the renamed file, or no file is back at its path
  // (capabilities.logFile): declared, not carried out
  const notReopened = action === 'reopen-logs' ? reopenNotCarriedOut(events, m) : null;
  const carriedOut = notReopened === null && (action === 'reload' ? reloaded : m.capabilities.probe ? done : true);
  const ok = serving && stopBegan.length === 0 && carriedOut && answered;
  const actual = `${
    control
      ? `POST /control/${action}: ${answer ? (answer.ok ? String(answer.status) : String(answer.error)) : 'not sent'}; `
      : ''
  }${x ? `the subject ended (${describeExit(x)})` : 'still running'}; ${
    lastAfter
      ? lastAfter.ok
        ? `serving (${String(lastAfter.status)})`
        : `a new request failed (${String(lastAfter.error)})`
      : 'no request after the signal'
  }${held ? `; the held request ${held.ok === true ? 'completed' : `failed (${String(held.error)})`}` : ''}; ${stopBegan.length} stop transition(s)${
    action === 'reload'
      ? `; reload ${reloaded ? 'done' : 'not seen'}${generation ? ` (serving generation ${generation})` : ''}`
      : ''
  }${probeEv && m.capabilities.probe && action !== 'reload' ? `; ${probeEv} ${done ? 'seen' : 'not seen'}` : ''}${
    notReopened ? `; ${notReopened}` : ''
  }`;
  const carriedText =
    action === 'reopen-logs'
      ? ' (once the reopen is reported, the log file is open again at its path and no line lands in the renamed one)'
      : '';
  const out: Verdict[] = [
    control
      ? verdict(
          'CONTROL.EQUIVALENT',
          ok,
          `POST /control/${action} answers 200 and is carried out as the ${action} signal is${carriedText}; the subject keeps running and serving`,
          actual,
        )
      : verdict(
          'SIG.MAP.DECLARED',
          ok,
          `${sig} (declared: ${action}) is carried out${carriedText}; the subject keeps running and serving`,
          actual,
        ),
  ];
  const named: Partial<Record<string, [RequirementId, boolean, string]>> = {
    'SIGHUP:reload': [
      'SIG.HUP.RELOAD',
      serving && reloaded,
      'SIGHUP reloads the configuration and the subject stays up',
    ],
    'SIGPIPE:ignore': ['SIG.PIPE.IGNORED', ok, 'SIGPIPE sent with kill ends no process and changes nothing'],
    'SIGUSR2:restart': ['SIG.USR2.RESTART', ok, 'SIGUSR2 starts a restart and the subject keeps serving'],
  };
  const n = named[`${sig}:${action}`];
  if (n) out.push(verdict(n[0], n[1], n[2], actual));
  if (sig === 'SIGHUP')
    out.push(verdict('SIG.HUP.NEVER_FATAL', x === null, 'SIGHUP ends no process of the subject', actual));
  if (action === 'reload' && m.readiness.kind === 'notify') {
    // systemd's reload notifications: RELOADING=1 when it begins, READY=1 when it is complete
    const begun = probe(events, 'state').some(
      (e) => e.data.state === 'RELOADING' && e.data.via === 'notify' && (!send || BigInt(e.ns) >= BigInt(send.ns)),
    );
    out.push(
      verdict(
        'RELOAD.OBSERVABLE',
        begun && done,
        'the reload reports its start (sd_notify RELOADING=1) and its end (READY=1) to the supervisor',
        `RELOADING=1 ${begun ? 'seen' : 'not seen'}, READY=1 after it ${done ? 'seen' : 'not seen'}`,
      ),
    );
  }
  if (action === 'reopen-logs') out.push(...verifyLogReopen(events, m, sig));
  return out;
}

/** Which cases are stop paths, and how each is named in the table. */
function pathName(id: string): string | null {
  if (id === 'stop.deadline') return 'deadline';
  const m = /^map\.(stop|fast-stop|repeat)\.(.+)$/.exec(id);
  if (!m) return null;
  return m[1] === 'repeat' ? `${m[2]} during a stop (repeat map)` : `${m[2]} (${m[1]})`;
}

/**
 * The path x guarantee table from graded stop-path cases: a cell is fail when a verdict of its
 * requirements failed, pass when one passed, not-observable when the subject does not cooperate enough
 * to see it (black box), n/a when none was given (the guarantee does not apply to the path), not-tested
 * when the case did not complete.
 */
export function pathTable(
  cases: ReadonlyArray<{ id: string; outcome: Outcome; verdicts: readonly Verdict[] }>,
): PathRow[] {
  const rows: PathRow[] = [];
  for (const c of cases) {
    const name = pathName(c.id);
    if (!name || c.outcome === 'not-applicable' || c.outcome === 'skipped') continue;
    const ran = !['timeout', 'harness-error', 'unsupported'].includes(c.outcome);
    const guarantees: PathRow['guarantees'] = {};
    for (const g of PATH_GUARANTEES) {
      const vs = c.verdicts.filter((v) => g.requirements.includes(v.requirement as RequirementId));
      guarantees[g.column] = vs.some((v) => v.status === 'fail')
        ? 'fail'
        : !ran
          ? 'not-tested'
          : vs.some((v) => v.status === 'pass') || g.column === 'no orphans'
            ? 'pass'
            : vs.some((v) => v.status === 'unknown' && (v.needs?.length ?? 0) > 0)
              ? 'not-observable'
              : 'n/a';
    }
    rows.push({ path: name, case: c.id, outcome: c.outcome, guarantees });
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path));
}
