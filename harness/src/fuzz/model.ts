/**
 * The fuzzer's model of a subject's observable lifecycle, derived from its manifest alone: the
 * declared signal map (`signals`, `signalsRepeat`), the exit codes, the grace period and the
 * capabilities. Pure data and pure functions; the commands (execute.ts) update it as they drive the
 * real process, and the checks compare what the process did with what the model allows.
 *
 * ## Lifecycle
 *
 * ```
 *   STARTED ──reload──> RELOADING ──(awaited: settled)──> STARTED
 *      │                    │
 *      └──stop/fast-stop────┴──> STOPPING ──> EXITED
 * ```
 *
 * RELOADING here means "a reload may be running": the model cannot know when a reload ends, so it
 * leaves RELOADING only when a command waited for the outcome (`await-reload`).
 *
 * ## What a signal does (after the declared map, and the repeat map during a stop)
 *
 * The effect of each bus request in each state is the lifecycle table, spec/lifecycle.json (spec
 * section 3.3), read through `spec-lifecycle.ts`; `requestEffect()` turns a cell into the model's
 * effect. The model's STARTED and RELOADING are the table's rows of those names; its STOPPING is the
 * table's STOPPING (EXITING cannot be told apart between steps: the exit status checks account for a
 * request that came too late, see below). Where a cell allows several effects, the model takes the
 * one it can check: `restart` is a restart; `reopen-logs` during a stop is carried out. A `fast-stop`
 * during a stop that is already fast changes nothing. A column whose capability the manifest does
 * not declare is not graded: `restart` is then ignored; `reload` keeps the table's effect, which
 * allows both outcomes. A signal that is `ignore` or not in the declared map
 * (SIGWINCH, SIGURG, SIGCHLD) does nothing.
 *
 * The repeat map applies to every delivery that arrives while a stop is in progress, whatever
 * started that stop (spec section 4.2; the default: a SIGINT during a stop is a fast stop). Every
 * command waits for the acknowledgement (probe `signal` event) of a handled signal before the next
 * one, so two deliveries never merge into one.
 *
 * A bus request through the control channel (`POST /control/<action>`) does what its action does in
 * the table; the repeat map does not apply to it.
 *
 * ## Requests and writes
 *
 * - While STARTED or RELOADING every request completes (a reload never refuses or resets).
 * - A request in flight when a graceful stop is requested completes, byte-exact, unless the stop
 *   deadline expires first (predicted from the request's own duration, with a margin either side in
 *   which both outcomes are accepted). After a fast stop, an escalation or the deadline, a request in
 *   flight may be aborted, never answered wrongly.
 * - A write acknowledged with 201 is readable (GET) while the subject runs and after a restart on the
 *   same state directory, whatever happened in between (reloads, any stop).
 * - After the listeners closed (probe `stop-accepting`) a new connection is refused, never reset.
 *
 * ## Exit status
 *
 * Graceful stop: `exitCodes.graceful` (always 0). Deadline expired: `exitCodes.deadline`. Fast stop, or
 * an escalation acknowledged before the drain completed (`drained` with `forced: false`):
 * `exitCodes.fastStop` (`"signal"`: death by a signal); acknowledged between the completed drain and
 * EXITING: either; after EXITING: too late to count. Death by any other signal is a violation.
 *
 * ## Observed states
 *
 * Probe `state` events follow STARTING → STARTED ⇄ RELOADING → STOPPING → EXITING, each `from` the
 * previous state; STOPPING only after an acknowledged stop request, RELOADING only after an
 * acknowledged reload request; no `reload-begin` after STOPPING; one `persisted`, one `exiting`.
 * Between steps the last state is the model's (RELOADING allows STARTED: the reload may have ended).
 */
import type { ProbeEvent } from '../launch/probe.js';
import {
  type BusRequest,
  type LifecycleState,
  legalTransitions,
  lifecycleCell,
  loadLifecycle,
  repeatMapApplies,
} from '../spec-lifecycle.js';
import type { Action, ExitCodeSpec, Manifest } from '../types.js';
import { Violation } from './violations.js';

/** Signals outside every map (SIG.HARMLESS): a subject must not react to them. */
export const HARMLESS_SIGNALS: readonly string[] = loadLifecycle().signalMap.notMapped;

export type Lifecycle = 'STARTED' | 'RELOADING' | 'STOPPING' | 'EXITED';

/** The parts of a manifest the model reads. */
export interface ModelSpec {
  name: string;
  signals: Record<string, Action>;
  signalsRepeat: Record<string, Action>;
  exitCodes: { graceful: ExitCodeSpec; deadline: ExitCodeSpec; fastStop: ExitCodeSpec };
  gracePeriodMs: number;
  probe: boolean;
  endpoints: boolean;
  durable: boolean;
  reload: boolean;
  restart: boolean;
  fifo: boolean;
  /** the control channel (port `admin`): bus requests with source `control` */
  control: boolean;
}

export function modelSpec(m: Manifest, platform: NodeJS.Platform = process.platform): ModelSpec {
  const c = m.capabilities;
  return {
    name: m.name,
    signals: { ...m.signals },
    signalsRepeat: { ...m.signalsRepeat },
    exitCodes: { ...m.exitCodes },
    gracePeriodMs: m.gracePeriodMs,
    probe: c.probe === true,
    endpoints: m.endpoints.includes('hold') && m.endpoints.includes('config'),
    durable: c.durableStore === true && m.endpoints.includes('kv'),
    reload: c.reload === true,
    restart: c.restart === true,
    fifo: m.endpoints.includes('fifo') && platform !== 'win32',
    control: c.controlChannel === true && m.ports.includes('admin'),
  };
}

export interface StopState {
  kind: 'graceful' | 'fast';
  /** a graceful stop that a fast-stop request cut short */
  escalated: boolean;
}

export interface ConfigModel {
  /** the generation the next valid configuration file gets */
  nextGeneration: number;
  /** the file as it is now */
  file: { valid: boolean; generation: number | null };
  /** generations the subject may serve once every reload requested so far has finished */
  settled: number[];
  /** valid generations written since the last settle point (a coalesced reload may have read any) */
  sinceSettle: number[];
  /** a reload was requested since the last settle point */
  reloadRequested: boolean;
}

export interface FuzzModel {
  readonly spec: ModelSpec;
  lifecycle: Lifecycle;
  stop: StopState | null;
  /** deliveries per signal */
  deliveries: Record<string, number>;
  /** requests the commands started and no command has awaited yet */
  inFlight: { hold: number; cpu: number; put: number; fifoReading: boolean; fifoUnwritten: boolean };
  /** next key index for PUT /kv/k<n> */
  nextKey: number;
  config: ConfigModel;
}

export function initialModel(spec: ModelSpec): FuzzModel {
  return {
    spec,
    lifecycle: 'STARTED',
    stop: null,
    deliveries: {},
    inFlight: { hold: 0, cpu: 0, put: 0, fifoReading: false, fifoUnwritten: false },
    nextKey: 1,
    config: {
      nextGeneration: 2,
      file: { valid: true, generation: 1 },
      settled: [1],
      sinceSettle: [],
      reloadRequested: false,
    },
  };
}

export const isRunning = (m: FuzzModel): boolean => m.lifecycle === 'STARTED' || m.lifecycle === 'RELOADING';

/** The first signal the declared map gives for `action`. */
export function signalOf(spec: ModelSpec, action: Action): string | null {
  for (const [sig, a] of Object.entries(spec.signals)) if (a === action) return sig;
  return null;
}

/** Signals the fuzzer sends: every declared one, plus the harmless ones. */
export function fuzzSignals(spec: ModelSpec): string[] {
  const out = Object.keys(spec.signals).filter((s) => s !== 'SIGKILL' && s !== 'SIGSTOP');
  for (const s of HARMLESS_SIGNALS) if (!out.includes(s)) out.push(s);
  return out;
}

// ---------------------------------------------------------------------------------------------
// signals

export type Effect = 'stop' | 'fast-stop' | 'escalate' | 'reload' | 'restart' | 'reopen-logs' | 'ignored';

export interface SignalOutcome {
  sig: string;
  /** the declared action (null: not in the map) */
  declared: Action | null;
  /** the action of this delivery (the repeat map applied) */
  action: Action | null;
  effect: Effect;
  /** a handler must acknowledge it (probe `signal` event) */
  needsAck: boolean;
  why: string;
}

/** What delivering `sig` now does, without changing the model. */
export function signalOutcome(m: FuzzModel, sig: string): SignalOutcome {
  const declared = m.spec.signals[sig] ?? null;
  const repeat = repeatMapApplies(tableState(m)) ? m.spec.signalsRepeat[sig] : undefined;
  const needsAck = m.spec.probe && declared !== null && declared !== 'ignore';
  const via = repeat !== undefined ? ' (during a stop: repeat map)' : '';
  if (repeat === undefined && declared === null) {
    return {
      sig,
      declared,
      action: null,
      effect: 'ignored',
      needsAck,
      why: `${sig} is not in the declared map: it must change nothing`,
    };
  }
  return outcomeOf(m, sig, declared, repeat ?? declared, needsAck, via);
}

/** What a bus request (control channel, source `control`) for `action` does now. */
function requestOutcome(m: FuzzModel, action: Action): SignalOutcome {
  return outcomeOf(m, `control ${action}`, action, action, false, '');
}

/** The row of the lifecycle table the model is in. */
function tableState(m: FuzzModel): LifecycleState {
  return m.lifecycle === 'EXITED' ? 'EXITING' : m.lifecycle;
}

/** The model's effect of bus request `request` now: the table's cell, as the model can check it. */
function requestEffect(m: FuzzModel, request: BusRequest): Effect {
  // A column that needs a capability the manifest does not declare is not graded: a restart then
  // changes nothing the model checks, and a reload keeps its effect, which allows both outcomes
  // (RELOADING means a reload may be running; the declared map says the signal asks for one).
  const capability = loadLifecycle().requests.find((r) => r.name === request)?.capability;
  if (capability === 'restart' && !m.spec.restart) return 'ignored';
  const effects = lifecycleCell(tableState(m), request).effects;
  const kinds = new Set(effects.map((e) => e.kind));
  const toStopping = effects.find((e) => e.kind === 'transition' && e.to === 'STOPPING');
  if (toStopping !== undefined) return toStopping.stop === 'fast' ? 'fast-stop' : 'stop';
  if (kinds.has('escalate'))
    return m.stop !== null && m.stop.kind === 'graceful' && !m.stop.escalated ? 'escalate' : 'ignored';
  if (kinds.has('ignored') && !kinds.has('carried-out')) return 'ignored';
  // carried out, coalesced, recorded or a transition within the running states: the request runs
  return request === 'stop' || request === 'fast-stop' ? 'ignored' : request;
}

const EFFECT_WORDS: Record<Effect, string> = {
  stop: 'stop',
  'fast-stop': 'fast stop',
  escalate: 'fast stop during a graceful stop: escalates',
  reload: 'reload',
  restart: 'restart',
  'reopen-logs': 'reopen logs',
  ignored: 'ignored',
};

function outcomeOf(
  m: FuzzModel,
  who: string,
  declared: Action | null,
  action: Action | null,
  needsAck: boolean,
  via: string,
): SignalOutcome {
  const out = (effect: Effect, why: string): SignalOutcome => ({ sig: who, declared, action, effect, needsAck, why });
  if (action === null) return out('ignored', `${who}: no action`);
  if (action === 'ignore') return out('ignored', `${who} is declared ignored`);
  const effect = requestEffect(m, action);
  const cell = lifecycleCell(tableState(m), action);
  return out(effect, `${who} → ${action} in ${tableState(m)}${via}: ${EFFECT_WORDS[effect]} (table: ${cell.prose})`);
}

/** Apply a bus request (control channel) to the model. */
export function applyRequest(m: FuzzModel, action: Action): SignalOutcome {
  const o = requestOutcome(m, action);
  applyEffect(m, o);
  return o;
}

/** Deliver `sig` to the model: counts the delivery and applies its effect. */
export function applySignal(m: FuzzModel, sig: string): SignalOutcome {
  const o = signalOutcome(m, sig);
  m.deliveries[sig] = (m.deliveries[sig] ?? 0) + 1;
  applyEffect(m, o);
  return o;
}

function applyEffect(m: FuzzModel, o: SignalOutcome): void {
  switch (o.effect) {
    case 'stop':
      m.stop = { kind: 'graceful', escalated: false };
      m.lifecycle = 'STOPPING';
      break;
    case 'fast-stop':
      m.stop = { kind: 'fast', escalated: false };
      m.lifecycle = 'STOPPING';
      break;
    case 'escalate':
      if (m.stop) m.stop.escalated = true;
      break;
    case 'reload':
      m.lifecycle = 'RELOADING';
      m.config.reloadRequested = true;
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// configuration

/** The file the next `reload` command writes, and the model's record of it. */
export function writeConfigModel(m: FuzzModel, valid: boolean): { valid: boolean; generation: number } {
  const generation = m.config.nextGeneration++;
  m.config.file = { valid, generation: valid ? generation : null };
  if (valid) m.config.sinceSettle.push(generation);
  return { valid, generation };
}

/** Every reload requested so far has finished: the generations the subject may now serve. */
export function settleReloads(m: FuzzModel): number[] {
  const c = m.config;
  if (c.reloadRequested) {
    c.settled =
      c.file.valid && c.file.generation !== null
        ? [c.file.generation]
        : [...new Set([...c.settled, ...c.sinceSettle])].sort((a, b) => a - b);
  }
  c.sinceSettle = [];
  c.reloadRequested = false;
  if (m.lifecycle === 'RELOADING') m.lifecycle = 'STARTED';
  return c.settled;
}

// ---------------------------------------------------------------------------------------------
// exit status

export interface StopTimeline {
  kind: 'graceful' | 'fast';
  /** acknowledgement of the stop (subject monotonic clock, ns) */
  stopNs: bigint;
  /** acknowledgement of the signal that escalated a graceful stop */
  escalationNs?: bigint;
  /** an escalation was asked for and answered, but when (or whether) it took effect is unknown */
  escalationUncertain?: boolean;
  /** probe `drained` with `forced: false` after the stop: the graceful drain completed */
  drainedNs?: bigint;
  /** the first of state EXITING and `exiting` after the stop: the exit status is decided */
  frozenNs?: bigint;
  /** when the last request in flight at the stop could complete (null: none in flight; -1n: never) */
  needNs: bigint | null;
  gracePeriodMs: number;
  /** either outcome is accepted this close to the deadline */
  marginMs: number;
}

export interface ExitExpectation {
  codes: ExitCodeSpec[];
  /** requests in flight at the stop may be aborted */
  mayAbort: boolean;
  why: string;
}

const MS = 1_000_000n;

export function expectedExit(spec: ModelSpec, t: StopTimeline): ExitExpectation {
  const codes = spec.exitCodes;
  if (t.kind === 'fast') return { codes: [codes.fastStop], mayAbort: true, why: 'fast stop' };
  const deadlineNs = t.stopNs + BigInt(t.gracePeriodMs) * MS;
  const margin = BigInt(t.marginMs) * MS;
  let graceful: 'yes' | 'no' | 'maybe';
  let why: string;
  if (t.needNs === null) {
    graceful = 'yes';
    why = 'graceful stop, nothing in flight';
  } else if (t.needNs === -1n) {
    graceful = 'no';
    why = 'graceful stop, a request in flight never completes (a FIFO line never written)';
  } else {
    const need = Number(t.needNs - t.stopNs) / 1e6;
    if (t.needNs < deadlineNs - margin) graceful = 'yes';
    else if (t.needNs > deadlineNs + margin) graceful = 'no';
    else graceful = 'maybe';
    why = `graceful stop, requests in flight need ${need.toFixed(0)} ms of the ${t.gracePeriodMs} ms grace period`;
  }
  const out: ExitExpectation = {
    codes:
      graceful === 'yes' ? [codes.graceful] : graceful === 'no' ? [codes.deadline] : [codes.graceful, codes.deadline],
    mayAbort: graceful !== 'yes',
    why,
  };
  if (t.escalationNs !== undefined) {
    // Acknowledged before the drain completed: the stop is fast. Between the completed drain and the
    // exit decision (EXITING): either. After: too late to change anything.
    const e = t.escalationNs;
    if (graceful !== 'yes' && e > deadlineNs + margin) {
      out.why += '; the escalation came after the deadline';
      return out;
    }
    const drained = t.drainedNs ?? t.frozenNs;
    if (drained === undefined || e < drained) {
      out.codes = graceful === 'yes' || e < deadlineNs - margin ? [codes.fastStop] : [...out.codes, codes.fastStop];
      out.mayAbort = true;
      out.why += '; escalated to a fast stop before the drain completed';
    } else if (t.frozenNs === undefined || e < t.frozenNs) {
      out.codes = [...out.codes, codes.fastStop];
      out.why += '; escalated after the drain completed, before the exit was decided (either outcome)';
    } else {
      out.why += '; the escalation came after the exit was decided (too late to count)';
    }
  }
  if (t.escalationNs === undefined && t.escalationUncertain === true) {
    out.codes = [...out.codes, codes.fastStop];
    out.mayAbort = true;
    out.why += '; a fast stop was asked for at an unknown moment (either outcome)';
  }
  out.codes = [...new Set(out.codes)];
  return out;
}

export function exitMatches(codes: readonly ExitCodeSpec[], exit: { code: number | null; signal: string | null }) {
  return codes.some((c) => (c === 'signal' ? exit.signal !== null : exit.signal === null && exit.code === c));
}

// ---------------------------------------------------------------------------------------------
// observed states

/** The legal transitions of the lifecycle table (spec/lifecycle.json). */
const TRANSITIONS: Readonly<Record<string, readonly string[]>> = legalTransitions();

export interface TraceContext {
  /** acknowledgements of signals the model says start a stop */
  stopAcks: readonly bigint[];
  /** acknowledgements of signals the model says start a reload */
  reloadAcks: readonly bigint[];
}

const stamp = (e: ProbeEvent): bigint => {
  try {
    return BigInt(e.t);
  } catch {
    return 0n;
  }
};

/**
 * Checks the probe trace against the lifecycle: legal transitions only, each `from` the previous
 * state, no STOPPING or RELOADING nothing asked for, no reload beginning after the stop, one stop
 * sequence. Returns the first violation, or null.
 */
export function checkTrace(events: readonly ProbeEvent[], ctx: TraceContext): Violation | null {
  let current = 'STARTING';
  let seenState = false;
  let stoppingNs: bigint | null = null;
  let persisted = 0;
  let exiting = 0;
  for (const e of events) {
    const t = stamp(e);
    if (e.ev === 'state') {
      const to = String(e.state);
      // the initial state may be announced once, with no `from`
      if (!seenState && to === 'STARTING' && (e.from === undefined || e.from === null)) {
        seenState = true;
        continue;
      }
      seenState = true;
      const from = e.from === undefined || e.from === null ? current : String(e.from);
      if (from !== current) {
        return new Violation(
          'state',
          `a transition from ${current}`,
          `${from} → ${to} (the previous state was ${current})`,
        );
      }
      if (!(TRANSITIONS[current] ?? []).includes(to)) {
        return new Violation(
          'state',
          `from ${current} only ${(TRANSITIONS[current] ?? []).join(' or ') || 'nothing'}`,
          `${current} → ${to}`,
        );
      }
      if (to === 'STOPPING' && !ctx.stopAcks.some((a) => a <= t)) {
        return new Violation(
          'state',
          'STOPPING only after a stop request',
          'STOPPING with no stop acknowledged before it',
        );
      }
      if (to === 'RELOADING' && !ctx.reloadAcks.some((a) => a <= t)) {
        return new Violation(
          'state',
          'RELOADING only after a reload request',
          'RELOADING with no reload acknowledged before it',
        );
      }
      if (to === 'STOPPING') stoppingNs = t;
      current = to;
    } else if (e.ev === 'reload-begin' && stoppingNs !== null && t > stoppingNs) {
      return new Violation(
        'reload-after-stop',
        'no reload begins once the stop was requested',
        `reload-begin ${Number(t - stoppingNs) / 1e6} ms after STOPPING`,
      );
    } else if (e.ev === 'persisted' && ++persisted > 1) {
      return new Violation('repeat', 'one stop sequence, one persist', `${persisted} persisted events`);
    } else if (e.ev === 'exiting' && ++exiting > 1) {
      return new Violation('repeat', 'one stop sequence, one exiting event', `${exiting} exiting events`);
    }
  }
  return null;
}

/** The last state the probe reported (STARTING before any). */
export function lastState(events: readonly ProbeEvent[]): string {
  let s = 'STARTING';
  for (const e of events) if (e.ev === 'state') s = String(e.state);
  return s;
}
