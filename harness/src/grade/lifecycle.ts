/**
 * The lifecycle table (spec/lifecycle.json) as a verifier. A lifecycle case records, for every request it
 * delivers, a `cell-send` note (the state it held the subject in, the request, the path: a signal or
 * `control`, the send stamp, the newest configuration written before it); this file finds the subject's
 * acknowledgement of each send, the state it was in at that moment, what followed, and judges the cell's
 * effect under the requirements the cell cites, plus the generic ones every path owes:
 *  - BUS.STATES: the states the probe reports follow the table's transitions;
 *  - SIG.MAP.DECLARED (a signal path) or CONTROL.EQUIVALENT (the control channel): the declared action
 *    was carried out in STARTED and during a stop;
 *  - START.HANDLERS_BEFORE_READY for a send made once the listener was bound, before readiness.
 *
 * A requirement named after a signal (SIG.TERM.GRACEFUL) is judged only on that signal's path. A send
 * the subject acknowledged in another state than the one the case held is not judged against the held
 * cell (it is reported, and judged against the state it landed in when the case allows that).
 */
import {
  type BusRequest,
  type Cell,
  type CellEffect,
  type LifecycleState,
  legalTransitions,
  lifecycleCell,
  loadLifecycle,
} from '../spec-lifecycle.js';
import type { Action, HistoryEvent, Manifest, Verdict } from '../types.js';
import { describeExit, describeSpec, exitMatches } from './exit.js';
import { controlTaken, exitOf, hasProbe, notes, probe, reportsStates, teardownAt } from './facts.js';
import type { RequirementId } from './verdict.js';
import { info, unobservable, verdict } from './verdict.js';

/** Where a case holds the subject: a state of the table, told apart where the table's row is one. */
export type HeldState = 'starting' | 'starting-bound' | 'started' | 'reloading' | 'stopping' | 'fast-stopping';

/** The table's row for a held state. */
export const ROW_OF: Readonly<Record<HeldState, LifecycleState>> = {
  starting: 'STARTING',
  'starting-bound': 'STARTING',
  started: 'STARTED',
  reloading: 'RELOADING',
  stopping: 'STOPPING',
  'fast-stopping': 'STOPPING',
};

/** One delivery of a request, as the case notes it (`cell-send`). */
export interface CellSend {
  launch: number;
  held: HeldState;
  request: BusRequest;
  /** a signal name, or `control` */
  path: string;
  /** send stamp (ns, decimal) */
  ns: string;
  /** the newest configuration generation written before the send (reload requests) */
  newest?: number;
  /** the HTTP status a control request was answered with, and when (ns) */
  status?: number;
  answeredNs?: string;
  /** the control request failed (refused, reset...) */
  error?: string;
}

/** The action a signal has in a state: the repeat map applies during a stop (spec 4.2). */
export function actionIn(m: Manifest, sig: string, row: LifecycleState): Action | undefined {
  const repeat = loadLifecycle().signalMap.repeatAppliesIn.includes(row) ? m.signalsRepeat[sig] : undefined;
  return repeat ?? m.signals[sig];
}

/** The signal a requirement is named after (`SIG.TERM.GRACEFUL` -> the TERM signal), or null. */
export function namedSignal(id: string): string | null {
  const m = /^SIG\.([A-Z0-9]+)\./.exec(id);
  return m && m[1] !== 'MAP' ? `SIG${m[1]}` : null;
}

const big = (ns: string | bigint): bigint => BigInt(ns);

/** The probe's acknowledgement of a send: the `signal` event, or the `request` of a control request. */
function ackOfSend(events: readonly HistoryEvent[], send: CellSend): HistoryEvent | undefined {
  return events.find(
    (e) =>
      e.source === 'probe' &&
      (e.launch ?? 0) === send.launch &&
      big(e.ns) >= big(send.ns) &&
      (send.path === 'control'
        ? e.data.ev === 'request' && e.data.source === 'control' && e.data.action === send.request
        : e.data.ev === 'signal' && e.data.sig === send.path),
  );
}

/** The state a launch was in at `ns` (the table's initial state before any report). */
export function stateAt(events: readonly HistoryEvent[], launch: number, ns: bigint): LifecycleState {
  let state = loadLifecycle().initial;
  for (const e of probe(events, 'state', launch)) {
    if (big(e.ns) > ns) break;
    state = e.data.state as LifecycleState;
  }
  return state;
}

/**
 * BUS.STATES on one launch: every reported transition is one of the table's (the initial state may go
 * unreported), and a launch that exited on its own went through EXITING.
 */
export function verifyStateTrace(events: readonly HistoryEvent[], launch = 0): Verdict {
  const legal = legalTransitions();
  const t = loadLifecycle();
  const states = probe(events, 'state', launch).map((e) => e.data.state as LifecycleState);
  const bad: string[] = [];
  let prev: LifecycleState | null = null;
  for (const s of states) {
    const ok = prev === null ? s === t.initial || legal[t.initial].includes(s) : legal[prev].includes(s);
    if (!ok) bad.push(`${prev ?? '(start)'} -> ${s}`);
    prev = s;
  }
  const x = exitOf(events, launch);
  const endOk = x === null || x.signal !== null || states.at(-1) === 'EXITING';
  return verdict(
    'BUS.STATES',
    bad.length === 0 && endOk,
    'every reported transition is one of the lifecycle table (spec/lifecycle.json), and an exit follows EXITING',
    `launch ${launch}: ${states.join(' -> ') || '(no state reported)'}${bad.length ? `; not in the table: ${bad.join(', ')}` : ''}${endOk ? '' : `; exited (${describeExit(x)}) without EXITING`}`,
  );
}

/** What followed one send on its launch. */
interface Observed {
  send: CellSend;
  /** the newest configuration written to the launch before its last delivery */
  newest?: number;
  ack: bigint | null;
  /** the state at the acknowledgement (null without a probe or an acknowledgement) */
  state: LifecycleState | null;
  after(ev: string): HistoryEvent[];
  exit: ReturnType<typeof exitOf>;
  probe: boolean;
}

function observe(events: readonly HistoryEvent[], m: Manifest, send: CellSend): Observed {
  const withProbe = hasProbe(m);
  const ackEvent = withProbe ? ackOfSend(events, send) : undefined;
  // a control request the subject answered without a `request` event (ignored): the answer acknowledges it
  const answered = send.path === 'control' && send.status !== undefined && send.answeredNs !== undefined;
  const ack = ackEvent ? big(ackEvent.ns) : withProbe && answered ? big(send.answeredNs!) : null;
  const from = ack ?? big(send.ns);
  const until = teardownAt(events); // what follows the harness's teardown is not the subject's doing
  const gens = (notes(events, 'cell-send') as unknown as CellSend[])
    .filter((x) => x.launch === send.launch && x.newest !== undefined)
    .map((x) => x.newest!);
  return {
    send,
    ...(gens.length ? { newest: Math.max(...gens) } : {}),
    ack,
    state: ack === null ? null : stateAt(events, send.launch, ack),
    after: (ev) =>
      probe(events, ev, send.launch).filter((e) => big(e.ns) >= from && (until === null || big(e.ns) < until)),
    exit: exitOf(events, send.launch),
    probe: withProbe,
  };
}

interface Check {
  ok: boolean;
  detail: string;
  actual: string;
}

const gen = (e: HistoryEvent | undefined): number | null => (e ? Number(e.data.generation) : null);

function stopCode(m: Manifest, stop: 'graceful' | 'fast') {
  return stop === 'fast' ? m.exitCodes.fastStop : m.exitCodes.graceful;
}

function exitCheck(o: Observed, m: Manifest, stop: 'graceful' | 'fast', sig?: string): Check {
  const want = stopCode(m, stop);
  return {
    ok: exitMatches(o.exit, want, sig),
    detail: `the ${stop} stop ends with ${describeSpec(want)}`,
    actual: describeExit(o.exit),
  };
}

function all(...checks: Check[]): Check {
  return {
    ok: checks.every((c) => c.ok),
    detail: checks.map((c) => c.detail).join('; '),
    actual: checks.map((c) => c.actual).join('; '),
  };
}

function any(checks: Check[]): Check {
  const hit = checks.find((c) => c.ok);
  return (
    hit ?? {
      ok: false,
      detail: checks.map((c) => c.detail).join(', or '),
      actual: checks.map((c) => c.actual).join(' | '),
    }
  );
}

function reloadsAfter(o: Observed): string {
  const done = o.after('reload-done').map((e) => gen(e));
  return `${o.after('reload-begin').length} reload(s) began after it${done.length ? ` (loaded generation ${done.join(', ')})` : ''}`;
}

/** The running stop of a held STOPPING: its kind (a fast-stopping case holds a fast one). */
function heldStop(held: HeldState): 'graceful' | 'fast' {
  return held === 'fast-stopping' ? 'fast' : 'graceful';
}

/** Whether one effect of the cell is what followed the send. */
function effectCheck(
  o: Observed,
  m: Manifest,
  row: LifecycleState,
  e: CellEffect,
  events: readonly HistoryEvent[],
): Check {
  const sig = o.send.path === 'control' ? undefined : o.send.path;
  const newest = o.send.newest;
  switch (e.kind) {
    case 'transition': {
      if (e.to === 'STOPPING') {
        const stopping = o.after('state').filter((x) => x.data.state === 'STOPPING').length;
        const reloads = o.after('reload-begin').length + o.after('restart-begin').length;
        const observed: Check = o.probe
          ? {
              ok: stopping >= 1 && reloads === 0,
              detail: 'STOPPING follows, and no reload or restart begins after it',
              actual: `${stopping} STOPPING transition(s), ${reloads} reload/restart(s) after it`,
            }
          : { ok: true, detail: '', actual: '' };
        const checks = [exitCheck(o, m, e.stop ?? 'graceful', sig)];
        if (o.probe) checks.unshift(observed);
        return all(...checks);
      }
      if (e.to === 'RELOADING' && o.send.request === 'reload') {
        if (!o.probe) return { ok: o.exit === null, detail: 'the subject keeps running', actual: describeExit(o.exit) };
        const done = o.after('reload-done')[0];
        return {
          ok: o.after('reload-begin').length >= 1 && (newest === undefined || (gen(done) ?? 0) >= newest),
          detail: `a reload begins and loads the newest configuration${newest === undefined ? '' : ` (generation ${newest})`}`,
          actual: reloadsAfter(o),
        };
      }
      return restartCheck(o);
    }
    case 'carried-out':
      return o.send.request === 'restart' ? restartCheck(o) : reopenCheck(o);
    case 'recorded': {
      if (o.send.request === 'reopen-logs') return reopenCheck(o);
      if (o.send.request === 'restart') return restartCheck(o);
      if (e.until === 'reload-end') {
        // a restart deferred until the reload ends: nothing of it before the reload is over
        return restartCheck(o);
      }
      // reload recorded in STARTING: carried out once after STARTED (or covered by the read at its end)
      const started = o.after('state').find((x) => x.data.state === 'STARTED');
      const reloadsAfterStart = started
        ? probe(events, 'reload-begin', o.send.launch).filter((x) => big(x.ns) >= big(started.ns)).length
        : 0;
      // requests of the same launch acknowledged once STARTED ask for reloads of their own
      const own = (notes(events, 'cell-send') as unknown as CellSend[]).filter((x) => {
        if (x.launch !== o.send.launch) return false;
        const a = ackOfSend(events, x);
        return a !== undefined && stateAt(events, x.launch, big(a.ns)) !== 'STARTING';
      }).length;
      const served = notes(events, 'served').find((n) => n.launch === o.send.launch);
      const servedGen = served?.generation == null ? null : Number(served.generation);
      return {
        ok: started !== undefined && reloadsAfterStart <= 1 + own && (o.newest === undefined || servedGen === o.newest),
        detail: `STARTED is reached, at most one reload runs after it${own ? ` (plus ${own} asked for once STARTED)` : ''}, and the newest configuration${o.newest === undefined ? '' : ` (generation ${o.newest})`} is the one served`,
        actual: `${started ? 'STARTED' : 'never STARTED'}; ${reloadsAfterStart} reload(s) after STARTED; serving generation ${servedGen ?? '(not read)'}`,
      };
    }
    case 'coalesced': {
      const hold = notes(events, 'hold').find((n) => n.launch === o.send.launch);
      const holdNs = hold ? big(String(hold.ackNs ?? hold.ns)) : big(o.send.ns);
      const begins = probe(events, 'reload-begin', o.send.launch).filter((x) => big(x.ns) >= holdNs);
      const dones = probe(events, 'reload-done', o.send.launch).filter((x) => big(x.ns) >= holdNs);
      const last = dones.at(-1);
      return {
        ok: begins.length === 2 && (o.newest === undefined || gen(last) === o.newest),
        detail: `the running reload and exactly one follow-up reload run, ending on the newest configuration written before the last request${o.newest === undefined ? '' : ` (generation ${o.newest})`}`,
        actual: `${begins.length} reload(s) from the held one on; loaded generation ${dones.map((x) => gen(x)).join(', ') || '(none)'}`,
      };
    }
    case 'refused':
      return {
        ok: o.after('restart-begin').length === 0,
        detail: 'the restart is refused',
        actual: `${o.after('restart-begin').length} restart(s) began`,
      };
    case 'escalate':
      return exitCheck(o, m, 'fast', undefined);
    case 'ignored': {
      const reloads = o.after('reload-begin').length;
      const restarts = o.after('restart-begin').length;
      const stopping = probe(events, 'state', o.send.launch).filter((x) => x.data.state === 'STOPPING').length;
      const persisted = probe(events, 'persisted', o.send.launch).length;
      const reopened = o.after('reopen-logs').length;
      const acted = o.send.request === 'reopen-logs' ? reopened : 0;
      const checks: Check[] = [
        {
          ok: reloads === 0 && restarts === 0 && stopping <= 1 && persisted <= 1 && acted === 0,
          detail: 'nothing follows: no reload, no restart, no second STOPPING, at most one persist',
          actual: `${reloads} reload(s), ${restarts} restart(s), ${stopping} STOPPING, ${persisted} persist(s)${o.send.request === 'reopen-logs' ? `, ${reopened} reopen(s)` : ''}`,
        },
      ];
      if (row === 'STOPPING') checks.push(exitCheck(o, m, heldStop(o.send.held), undefined));
      if (!o.probe) checks.shift();
      return all(...checks);
    }
  }
}

function reopenCheck(o: Observed): Check {
  if (!o.probe) return { ok: o.exit === null, detail: 'the subject keeps running', actual: describeExit(o.exit) };
  const n = o.after('reopen-logs').length;
  return {
    ok: n >= 1,
    detail: 'the logs are reopened (probe `reopen-logs`)',
    actual: `${n} reopen-logs event(s) after it`,
  };
}

function restartCheck(o: Observed): Check {
  const n = o.after('restart-done').length;
  return {
    ok: n >= 1,
    detail: 'the restart completes (probe `restart-done`)',
    actual: `${n} restart-done event(s) after it`,
  };
}

/** The cell's effect: any one of its effects. */
function cellCheck(o: Observed, m: Manifest, row: LifecycleState, cell: Cell, events: readonly HistoryEvent[]): Check {
  return any(cell.effects.map((e) => effectCheck(o, m, row, e, events)));
}

/** Requirement-specific observations on top of the cell's effect. */
function requirementCheck(
  id: RequirementId,
  o: Observed,
  m: Manifest,
  base: Check,
  events: readonly HistoryEvent[],
): Check {
  switch (id) {
    case 'START.STOP_NO_LISTENER': {
      const opened = [...o.after('listening'), ...o.after('ready')];
      return {
        ok: opened.length === 0,
        detail: 'no listener is opened and readiness is not announced after the stop request',
        actual: `${opened.length} listening/ready event(s) after it`,
      };
    }
    case 'START.STOP_PERSISTS': {
      const stop = o.send.request === 'fast-stop' ? 'fast' : 'graceful';
      const checks = [exitCheck(o, m, stop, o.send.path === 'control' ? undefined : o.send.path)];
      if (m.capabilities.durableStore && o.probe) {
        const n = probe(events, 'persisted', o.send.launch).length;
        checks.push({ ok: n >= 1, detail: 'the store is persisted', actual: `${n} persisted event(s)` });
      }
      return all(...checks);
    }
    case 'RELOAD.OBSERVABLE': {
      // the probe's reload-begin, or notify's RELOADING=1 (a state event)
      const begin =
        o.after('reload-begin').length + o.after('state').filter((e) => e.data.state === 'RELOADING').length;
      const end = o.after('reload-done').length + o.after('reload-failed').length;
      return {
        ok: begin >= 1 && end >= 1,
        detail: 'the reload reports its start and its outcome (probe `reload-begin`, `reload-done`/`reload-failed`)',
        actual: `${begin} begin, ${end} outcome event(s)`,
      };
    }
    default:
      return base;
  }
}

/** Requirements a send is judged under, with its cell. */
function cellRequirements(send: Pick<CellSend, 'held' | 'request' | 'path'>, row: LifecycleState): RequirementId[] {
  const cell = lifecycleCell(row, send.request);
  return (cell.requirements as RequirementId[]).filter((id) => {
    const named = namedSignal(id);
    return named === null || named === send.path;
  });
}

function label(o: Observed, row: LifecycleState): string {
  return `${row} x ${o.send.request} through ${o.send.path}`;
}

/**
 * Every verdict the `cell-send` notes of a history call for (see the top of this file). `judge` limits
 * the result to the requirements the case declares it judges.
 */
export function verifyLifecycleCells(
  events: readonly HistoryEvent[],
  m: Manifest,
  judge: ReadonlySet<string>,
): Verdict[] {
  const out: Verdict[] = [];
  const sends = notes(events, 'cell-send') as unknown as CellSend[];
  // every launch the case drove, including one whose state was held but that exited before any send
  const launches = new Set<number>(notes(events, 'hold').map((h) => Number(h.launch)));
  for (const send of sends) {
    launches.add(send.launch);
    const o = observe(events, m, send);
    const heldRow = ROW_OF[send.held];
    // the row that applies: where the probe says the request was acknowledged (a bound-but-not-ready send
    // may land in STARTED); without a probe, the held one
    let row: LifecycleState = heldRow;
    if (o.state !== null) {
      if (send.held === 'starting-bound' && (o.state === 'STARTING' || o.state === 'STARTED')) row = o.state;
      else if (o.state !== heldRow) {
        out.push(
          ...notExercised(
            o,
            heldRow,
            judge,
            `acknowledged in ${o.state}, not in ${heldRow}: this delivery is not judged`,
          ),
        );
        continue;
      }
    }
    const killed =
      o.exit !== null &&
      o.exit.signal !== null &&
      !(m.exitCodes.fastStop === 'signal' && (send.request === 'fast-stop' || send.held === 'fast-stopping'));
    if (send.held === 'starting-bound' && judge.has('START.HANDLERS_BEFORE_READY')) {
      // a handler was installed: the signal did not meet its default action (with a probe: it was
      // acknowledged). What the subject then did is the cell's requirements' to judge, not this one's.
      const handled = !killed && (!o.probe || o.ack !== null);
      out.push(
        verdict(
          'START.HANDLERS_BEFORE_READY',
          handled,
          `${send.path} (${send.request}), sent once the listener accepted connections and before readiness, meets a handler: it does not end the subject by its default action${o.probe ? ' and is acknowledged' : ''}`,
          killed
            ? `the subject died by ${o.exit?.signal} (${o.ack === null ? 'no acknowledgement' : `acknowledged in ${o.state}`})`
            : `${o.ack === null ? (o.probe ? 'never acknowledged' : 'sent; not killed by it') : `acknowledged in ${o.state}`}; ${describeExit(o.exit)}`,
        ),
      );
    }
    // black box: whether the request landed in STARTING or STARTED is unknown; only the handler requirement speaks
    if (send.held === 'starting-bound' && !o.probe) continue;
    if (killed || (o.probe && o.ack === null)) {
      // no acknowledgement: the request never reached the subject's bus; only the handler requirement
      // above and the always-on crash check speak about it
      if (!killed && o.probe && send.held !== 'starting-bound') {
        out.push(...notExercised(o, heldRow, judge, 'never acknowledged (probe `signal`/`request`)'));
      }
      continue;
    }
    const cell = lifecycleCell(row, send.request);
    const base = cellCheck(o, m, row, cell, events);
    for (const id of cellRequirements(send, row)) {
      if (!judge.has(id)) continue;
      if (id === 'RELOAD.OBSERVABLE' && !reportsStates(m)) {
        // a black box reports nothing about a reload: not observable, never a failure (protocol section 7);
        // a notify server can (RELOADING=1, READY=1) and is judged
        out.push(unobservable(id, `${label(o, row)}: the reload reports its start and its outcome`, ['probe']));
        continue;
      }
      const c = requirementCheck(id, o, m, base, events);
      out.push(verdict(id, c.ok, `${label(o, row)} (${cell.prose}): ${c.detail}`, c.actual));
    }
    if (row !== 'STARTING' && row !== 'RELOADING') {
      const generic: RequirementId = send.path === 'control' ? 'CONTROL.EQUIVALENT' : 'SIG.MAP.DECLARED';
      if (judge.has(generic)) {
        const answer = send.path === 'control' ? controlAnswer(o, cell) : null;
        const c0 = answer ? all(base, answer) : base;
        const c =
          send.path === 'control' && send.request === 'reload' && row === 'STARTED'
            ? all(c0, controlReloadAnswer(o))
            : c0;
        out.push(verdict(generic, c.ok, `${label(o, row)} (${cell.prose}): ${c.detail}`, c.actual));
      }
    }
  }
  if (hasProbe(m) && judge.has('BUS.STATES'))
    for (const l of [...launches].sort()) out.push(verifyStateTrace(events, l));
  return out;
}

/**
 * CONTROL.EQUIVALENT: the control channel takes the request as the declared signal is taken (`controlTaken`),
 * whatever a concurrent delivery through that signal then caused. No answer is not judged here (a stop may
 * close the channel first).
 */
function controlAnswer(o: Observed, cell: Cell): Check | null {
  const status = o.send.status;
  if (status === undefined) return null;
  // a reload or restart the state makes the subject ignore (a stop under way) is answered 409: a 2xx would
  // tell the caller it was carried out (protocol section 10: a restart "409 during a stop")
  const refusedHere =
    (o.send.request === 'reload' || o.send.request === 'restart') && cell.effects.every((e) => e.kind === 'ignored');
  if (refusedHere)
    return {
      ok: status === 409,
      detail: `POST /control/${o.send.request}, which the subject ignores here, is answered 409`,
      actual: `answered ${status}`,
    };
  return {
    ok: controlTaken(status),
    detail: `POST /control/${o.send.request} is taken (2xx, or 409 where the request is refused)`,
    actual: `answered ${status}`,
  };
}

/** CONTROL.EQUIVALENT: a control-channel reload answers once the reload is over. */
function controlReloadAnswer(o: Observed): Check {
  const done = o.after('reload-done')[0] ?? o.after('reload-failed')[0];
  const at = o.send.answeredNs;
  return {
    ok: done !== undefined && at !== undefined && big(at) >= big(done.ns),
    detail: 'the control reload answers once the reload is over',
    actual:
      at === undefined
        ? `no answer (${o.send.error ?? 'none'})`
        : `answered ${o.send.status} ${done && big(at) >= big(done.ns) ? 'after' : 'before'} the reload ended`,
  };
}

/**
 * A delivery that did not land in the held state (or was never acknowledged) does not test its cell: it
 * is reported as information under the cell's requirements, never as a pass.
 */
function notExercised(o: Observed, row: LifecycleState, judge: ReadonlySet<string>, why: string): Verdict[] {
  return cellRequirements(o.send, row)
    .filter((id) => judge.has(id))
    .map((id) => info(id, `${label(o, row)}: not exercised by this delivery`, why));
}
