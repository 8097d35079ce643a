/**
 * The process bus: the one place that knows the lifecycle of the process and the one owner of
 * its exit. Everything else talks to it in application terms.
 *
 * ## States
 *
 * ```
 *   STARTING ──(start channel done)──> STARTED <──(reloads done)── RELOADING
 *      │                                  │ └──(reload)──────────────> │
 *      │ stop / fast-stop                 │ stop / fast-stop           │ stop / fast-stop
 *      └──────────────────────────> STOPPING <─────────────────────────┘
 *                                         │ (drain done, or aborted)
 *                                      EXITING ──> exit(code)
 * ```
 *
 * Every transition is published to `onState` listeners (synchronously) and as a probe `state`
 * event. Readiness is a pure function of the state: ready while STARTED or RELOADING.
 *
 * ## Requests
 *
 * `request(action, source)` is how anything asks for a change: the signal plugin (`signals.ts`,
 * source `signal`), the control channel (`control`), application code (`app`), and worker threads
 * by message (`thread`, see `worker-bus-bridge.ts`). The bus does not know what a signal is.
 * An accepted request is announced as a probe `request` event; an ignored one is only logged.
 *
 * | request       | STARTING                      | STARTED / RELOADING             | STOPPING                 | EXITING |
 * |---------------|-------------------------------|---------------------------------|--------------------------|---------|
 * | `stop`        | abort startup, stop, exit 0   | graceful stop                   | ignored (idempotent)     | ignored |
 * | `fast-stop`   | abort startup, fast stop      | fast stop                       | escalates a graceful stop| ignored |
 * | `reload`      | deferred: one reload after    | run; while one runs, coalesced  | ignored (stop dominates) | ignored |
 * |               | STARTED (reads the latest     | into exactly one follow-up      |                          |         |
 * |               | file), dropped if a stop comes|                                 |                          |         |
 * | `reopen-logs` | deferred until STARTED        | run                             | run (logs still matter)  | ignored |
 * | `restart`     | deferred: one restart after   | run (from RELOADING: once the   | ignored (stop dominates) | ignored |
 * |               | STARTED, dropped if a stop    | reload ended); while one runs,  |                          |         |
 * |               | comes                         | coalesced into one follow-up    |                          |         |
 *
 * `restart` is ignored in every state when nothing subscribed to the `restart` channel (the
 * single-process server does not restart; the supervisor of `supervised/` does). A restart does not
 * change the state: the old generation of workers drains while the process stays STARTED.
 *
 * ## Channels
 *
 * Work hangs off channels as ordered subscribers (`subscribe(channel, name, fn, { order })`,
 * lower order first). Every subscriber call has a deadline; one that throws or misses its deadline
 * is logged and the channel moves on: a broken subscriber never blocks the exit.
 *
 * - `start`     startup steps, run in order while STARTING. Their `ctx.signal` aborts when a stop is
 *               requested; the bus then runs no further start subscriber (so no listener opens after
 *               a stop request). A start subscriber that fails is fatal: exit 1.
 * - `started`   after the STARTED transition (announce readiness).
 * - `reload`, `reopen-logs`, `restart`: the actions of those names. A reload or restart fails when
 *               any subscriber fails; later subscribers are then skipped. A `restart` subscriber's
 *               `ctx.signal` aborts when a stop is requested.
 * - `stop`      the graceful stop steps, in order (pre-drain delay, close listeners, drain).
 * - `abort`     runs when the stop deadline expired or a fast stop was asked for: close what is left.
 * - `persist`   always runs, on every stop path: the durable state. A failure means exit 5.
 * - `exit`      last: remove the pidfile, close the log.
 *
 * ## The stop sequence
 *
 * One per process, whatever asks for it and however often. On the first stop request the state
 * becomes STOPPING (readiness fails at once) and the grace timer (`graceMs`) starts. Then:
 * 1. wait for a running startup step to finish (a startup that was interrupted opens nothing more);
 * 2. run `stop` unless the stop is fast; the grace timer or a fast-stop request cuts it short
 *    (the bus stops waiting; a hung subscriber is abandoned);
 * 3. if cut short or fast: run `abort`;
 * 4. EXITING; run `persist`; probe `exiting {code}`; run `exit`; call `exit(code)`.
 *
 * Exit codes: 0 graceful, 1 fatal (startup failed, uncaught error), 3 the grace deadline expired,
 * 4 fast stop, 5 persist failed (overrides 0, 3 and 4).
 *
 * Time and exit are injected (`clock`, `exit`) so every rule above is tested in-process.
 */
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import { legalTransitions } from './spec-lifecycle.js';

export type State = 'STARTING' | 'STARTED' | 'RELOADING' | 'STOPPING' | 'EXITING';
export type Action = 'stop' | 'fast-stop' | 'reload' | 'restart' | 'reopen-logs';
export type Source = 'signal' | 'control' | 'app' | 'thread';
export type Channel =
  | 'start'
  | 'started'
  | 'reload'
  | 'reopen-logs'
  | 'restart'
  | 'stop'
  | 'abort'
  | 'persist'
  | 'exit';
/** Why the process is stopping; decides the exit code. */
export type StopReason = 'graceful' | 'deadline' | 'fast' | 'fatal';

export const ACTIONS: readonly Action[] = ['stop', 'fast-stop', 'reload', 'restart', 'reopen-logs'];

export function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

export const EXIT_CODES = { graceful: 0, fatal: 1, deadline: 3, fast: 4, persistFailed: 5 } as const;

/** The legal transitions: the specification's lifecycle table (spec/lifecycle.json, section 3.3). */
const TRANSITIONS = legalTransitions() as Readonly<Record<State, readonly State[]>>;

/** Default deadline of one subscriber call, per channel (`stop` defaults to the grace period). */
const DEFAULT_DEADLINES: Record<Exclude<Channel, 'stop'>, number> = {
  start: 30_000,
  started: 5_000,
  reload: 10_000,
  'reopen-logs': 5_000,
  restart: 10_000,
  abort: 2_000,
  persist: 3_000,
  exit: 1_000,
};

export interface ChannelContext {
  /** `start`: aborts when a stop is requested. `stop`: aborts when the stop is cut short. */
  readonly signal: AbortSignal;
  /** Why the process stops (meaningful in `stop`, `abort`, `persist`, `exit`). */
  readonly reason: StopReason;
}

export type Subscriber = (ctx: ChannelContext) => unknown;

export interface SubscribeOptions {
  /** Lower runs first; equal orders run in subscription order. Default 50. */
  order?: number;
  /** Deadline of this subscriber's call in ms (default per channel). */
  deadlineMs?: number;
}

/** What became of a request. `accepted`: a stop is under way. `done`: the action ran and succeeded. */
export type Outcome =
  | { status: 'accepted' }
  | { status: 'done' }
  | { status: 'failed'; error: string }
  | { status: 'ignored'; reason: string };

export interface BusOptions {
  /** The stop deadline, from the stop request to the forced end of the drain. */
  graceMs: number;
  /** Ends the process. Called exactly once, last. */
  exit: (code: number) => void;
  clock: Clock;
  log: Logger;
  /** Probe events (`state`, `request`, `exiting`). */
  emit?: (ev: string, fields: Record<string, unknown>) => void;
  /** Per-channel default subscriber deadlines, overriding the built-in ones. */
  deadlines?: Partial<Record<Channel, number>>;
  /**
   * Stamps for the stop breakdown (`SIGCERT_TRACE=1`, `bench/stop-breakdown.ts`): called with
   * `channel/name` and `begin` or `end` around every subscriber call, after each transition and
   * after a stop request was announced. Absent: nothing is stamped.
   */
  trace?: (step: string, phase?: 'begin' | 'end') => void;
}

interface Subscription {
  channel: Channel;
  name: string;
  fn: Subscriber;
  order: number;
  seq: number;
  deadlineMs: number | undefined;
}

type Waiter = (outcome: Outcome) => void;

interface StopRun {
  reason: StopReason;
  /** Set once EXITING: nothing can change the exit code any more. */
  frozen: boolean;
  cancelDeadline: () => void;
  /** Aborted when the graceful part is cut short (deadline, fast stop, fatal error). */
  cut: AbortController;
}

export class Bus {
  private current: State = 'STARTING';
  private readonly subs: Subscription[] = [];
  private seq = 0;
  private readonly stateListeners: Array<(to: State, from: State) => void> = [];
  /** Aborted by the first stop request: the `start` and `restart` subscribers' `ctx.signal`. */
  private readonly stopAbort = new AbortController();
  private startRun: Promise<void> | undefined;
  private stopRun: StopRun | undefined;
  private exited = false;
  private reloading = false;
  private followUp: Waiter[] | undefined;
  private deferredReload: Waiter[] | undefined;
  private deferredReopen: Waiter[] | undefined;
  private reopenChain: Promise<unknown> = Promise.resolve();
  /** Resolves when no reload runs (a restart asked for during a reload waits for it). */
  private reloadsIdle: Promise<void> = Promise.resolve();
  private restarting = false;
  private restartFollowUp: Waiter[] | undefined;
  private deferredRestart: Waiter[] | undefined;

  constructor(private readonly opts: BusOptions) {}

  get state(): State {
    return this.current;
  }

  /** Readiness: true while STARTED or RELOADING (a reload never fails readiness). */
  get ready(): boolean {
    return this.current === 'STARTED' || this.current === 'RELOADING';
  }

  /** True from the first stop request on (sticky). */
  get stopRequested(): boolean {
    return this.stopRun !== undefined;
  }

  /** Why the process stops, once it does. */
  get stopReason(): StopReason | undefined {
    return this.stopRun?.reason;
  }

  /** Called synchronously on every transition, before the probe event. Errors are logged. */
  onState(listener: (to: State, from: State) => void): void {
    this.stateListeners.push(listener);
  }

  /** Whether anything carries out `action` (stop and fast-stop always; the others need a subscriber). */
  supports(action: Action): boolean {
    return action === 'stop' || action === 'fast-stop' || this.has(action);
  }

  subscribe(channel: Channel, name: string, fn: Subscriber, options: SubscribeOptions = {}): void {
    this.subs.push({ channel, name, fn, order: options.order ?? 50, seq: this.seq++, deadlineMs: options.deadlineMs });
  }

  /** Asks for `action`. Resolves when a reload, reopen or restart finished; at once for stops. */
  request(action: Action, source: Source = 'app'): Promise<Outcome> {
    switch (action) {
      case 'stop':
        return Promise.resolve(this.requestStop('graceful', source));
      case 'fast-stop':
        return Promise.resolve(this.requestStop('fast', source));
      case 'reload':
        return this.requestReload(source);
      case 'reopen-logs':
        return this.requestReopen(source);
      case 'restart':
        return this.requestRestart(source);
    }
  }

  /** A fatal error (failed startup, uncaught exception): stop at once, persist, exit 1. */
  fail(error: unknown): void {
    const err = toError(error);
    this.opts.log.error(`fatal: ${err.stack ?? err.message}`);
    if (this.stopRun === undefined) this.beginStop('fatal');
    else this.escalate('fatal');
  }

  /**
   * Runs the `start` channel, then (unless a stop came in) enters STARTED, runs `started` and
   * replays the requests deferred during STARTING. Idempotent.
   */
  start(): Promise<void> {
    this.startRun ??= this.runStart();
    return this.startRun;
  }

  // -------------------------------------------------------------------------------------------
  // requests

  private requestStop(kind: 'graceful' | 'fast', source: Source): Outcome {
    const action: Action = kind === 'fast' ? 'fast-stop' : 'stop';
    const run = this.stopRun;
    if (run !== undefined) {
      if (kind === 'fast' && run.reason === 'graceful' && !run.frozen) {
        this.announce(action, source);
        this.opts.log.warn(`${action} from ${source}: escalating the graceful stop`);
        this.escalate('fast');
        return { status: 'accepted' };
      }
      const why = run.frozen ? 'already exiting' : 'a stop is already under way';
      this.opts.log.info(`${action} from ${source} ignored: ${why}`);
      return { status: 'ignored', reason: why };
    }
    this.announce(action, source);
    this.opts.trace?.(`request ${action}`);
    this.beginStop(kind);
    return { status: 'accepted' };
  }

  private requestReload(source: Source): Promise<Outcome> {
    if (this.stopRun !== undefined) return Promise.resolve(this.ignore('reload', source, 'a stop is under way'));
    if (!this.has('reload')) return Promise.resolve(this.ignore('reload', source, 'reload is not supported'));
    return new Promise<Outcome>((resolve) => {
      if (this.current === 'STARTING') {
        this.announce('reload', source, { deferred: true });
        this.deferredReload = append(this.deferredReload, resolve);
        return;
      }
      if (this.reloading) {
        this.announce('reload', source, { coalesced: true });
        this.followUp = append(this.followUp, resolve);
        return;
      }
      this.announce('reload', source);
      void this.runReloads([resolve]);
    });
  }

  private requestReopen(source: Source): Promise<Outcome> {
    if (this.current === 'EXITING') return Promise.resolve(this.ignore('reopen-logs', source, 'exiting'));
    if (this.current === 'STARTING') {
      this.announce('reopen-logs', source, { deferred: true });
      return new Promise((resolve) => {
        this.deferredReopen = append(this.deferredReopen, resolve);
      });
    }
    this.announce('reopen-logs', source);
    return this.runReopen();
  }

  private requestRestart(source: Source): Promise<Outcome> {
    if (!this.has('restart')) return Promise.resolve(this.ignore('restart', source, 'restart is not supported'));
    if (this.stopRun !== undefined) return Promise.resolve(this.ignore('restart', source, 'a stop is under way'));
    return new Promise<Outcome>((resolve) => {
      if (this.current === 'STARTING') {
        this.announce('restart', source, { deferred: true });
        this.deferredRestart = append(this.deferredRestart, resolve);
        return;
      }
      if (this.restarting) {
        this.announce('restart', source, { coalesced: true });
        this.restartFollowUp = append(this.restartFollowUp, resolve);
        return;
      }
      this.announce('restart', source);
      void this.runRestarts([resolve]);
    });
  }

  // -------------------------------------------------------------------------------------------
  // startup

  private async runStart(): Promise<void> {
    const ctx: ChannelContext = { signal: this.stopAbort.signal, reason: 'graceful' };
    for (const sub of this.subscribers('start')) {
      if (this.stopRun !== undefined) return;
      const error = await this.invoke(sub, ctx);
      if (error !== undefined) {
        if (this.stopRun === undefined) this.fail(new Error(`startup step ${sub.name} failed: ${error.message}`));
        return;
      }
    }
    if (this.stopRun !== undefined) return;
    this.transition('STARTED');
    await this.runChannel('started', ctx);
    this.replayDeferred();
  }

  private replayDeferred(): void {
    const reopen = this.deferredReopen;
    this.deferredReopen = undefined;
    if (reopen !== undefined) {
      void this.runReopen().then((outcome) => {
        for (const w of reopen) w(outcome);
      });
    }
    const reload = this.deferredReload;
    this.deferredReload = undefined;
    if (reload !== undefined && this.stopRun === undefined) {
      this.opts.log.info('running the reload requested during startup');
      void this.runReloads(reload);
    }
    const restart = this.deferredRestart;
    this.deferredRestart = undefined;
    if (restart !== undefined && this.stopRun === undefined) {
      this.opts.log.info('running the restart requested during startup');
      void this.runRestarts(restart);
    }
  }

  // -------------------------------------------------------------------------------------------
  // reload and reopen-logs

  /** Runs reloads one at a time; requests made meanwhile share exactly one follow-up run. */
  private async runReloads(first: Waiter[]): Promise<void> {
    this.reloading = true;
    let idle!: () => void;
    this.reloadsIdle = new Promise<void>((resolve) => {
      idle = resolve;
    });
    this.transition('RELOADING');
    let waiters: Waiter[] | undefined = first;
    while (waiters !== undefined) {
      const failures = await this.runChannel('reload', this.context('graceful'), { stopOnError: true });
      const outcome = toOutcome(failures);
      for (const w of waiters) w(outcome);
      waiters = this.followUp;
      this.followUp = undefined;
      if (waiters !== undefined && this.stopRun !== undefined) {
        for (const w of waiters) w({ status: 'ignored', reason: 'a stop is under way' });
        waiters = undefined;
      }
    }
    this.reloading = false;
    if (this.current === 'RELOADING') this.transition('STARTED');
    idle();
  }

  // -------------------------------------------------------------------------------------------
  // restart

  /**
   * Runs restarts one at a time (a restart subscriber returns once the old generation is gone, so
   * at most two generations are ever alive); requests made meanwhile share exactly one follow-up.
   * A restart asked for during a reload starts when the reload ended.
   */
  private async runRestarts(first: Waiter[]): Promise<void> {
    this.restarting = true;
    let waiters: Waiter[] | undefined = first;
    while (waiters !== undefined) {
      if (this.reloading) {
        this.opts.log.info('restart: waiting for the reload to end');
        await this.reloadsIdle;
      }
      let outcome: Outcome;
      if (this.stopRun !== undefined) outcome = { status: 'ignored', reason: 'a stop is under way' };
      else {
        const ctx: ChannelContext = { signal: this.stopAbort.signal, reason: 'graceful' };
        outcome = toOutcome(await this.runChannel('restart', ctx, { stopOnError: true }));
      }
      for (const w of waiters) w(outcome);
      waiters = this.restartFollowUp;
      this.restartFollowUp = undefined;
    }
    this.restarting = false;
  }

  private runReopen(): Promise<Outcome> {
    const run = this.reopenChain.then(() => this.runChannel('reopen-logs', this.context('graceful')));
    this.reopenChain = run;
    return run.then(toOutcome);
  }

  // -------------------------------------------------------------------------------------------
  // the stop sequence

  private beginStop(reason: StopReason): void {
    const run: StopRun = {
      reason,
      frozen: false,
      cut: new AbortController(),
      cancelDeadline: () => {},
    };
    this.stopRun = run;
    this.stopAbort.abort();
    if (reason !== 'graceful') run.cut.abort();
    // A fatal startup error goes from STARTING straight to EXITING (spec section 3.3).
    const toExiting = reason === 'fatal' && this.current === 'STARTING';
    if (!toExiting && this.current !== 'STOPPING' && this.current !== 'EXITING') this.transition('STOPPING');
    run.cancelDeadline = this.opts.clock.setTimer(this.opts.graceMs, () => {
      this.opts.log.warn(`the stop deadline (${this.opts.graceMs} ms) expired`);
      this.escalate('deadline');
    });
    for (const w of [...(this.deferredReload ?? []), ...(this.deferredRestart ?? [])]) {
      w({ status: 'ignored', reason: 'a stop is under way' });
    }
    this.deferredReload = undefined;
    this.deferredRestart = undefined;
    void this.runStop(run);
  }

  /** Cuts the graceful part short. The first escalation decides the exit code. */
  private escalate(reason: Exclude<StopReason, 'graceful'>): void {
    const run = this.stopRun;
    if (run === undefined || run.frozen || run.reason !== 'graceful') return;
    run.reason = reason;
    run.cut.abort();
  }

  private async runStop(run: StopRun): Promise<void> {
    const cut = new Promise<void>((resolve) => {
      if (run.cut.signal.aborted) resolve();
      else run.cut.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    if (this.startRun !== undefined && !run.cut.signal.aborted) await Promise.race([this.startRun, cut]);
    if (!run.cut.signal.aborted) await Promise.race([this.runChannel('stop', this.stopContext(run)), cut]);
    if (run.reason !== 'graceful') await this.runChannel('abort', this.stopContext(run));
    run.cancelDeadline();
    run.frozen = true;
    this.transition('EXITING');
    const persistFailures = await this.runChannel('persist', this.stopContext(run));
    let code: number = EXIT_CODES[run.reason];
    if (persistFailures.length > 0 && run.reason !== 'fatal') code = EXIT_CODES.persistFailed;
    this.opts.log.info(`exiting with status ${code} (${run.reason} stop)`);
    this.opts.emit?.('exiting', { code });
    await this.runChannel('exit', this.stopContext(run));
    if (this.exited) return;
    this.exited = true;
    this.opts.exit(code);
  }

  private stopContext(run: StopRun): ChannelContext {
    return { signal: run.cut.signal, reason: run.reason };
  }

  // -------------------------------------------------------------------------------------------
  // plumbing

  private context(reason: StopReason): ChannelContext {
    return { signal: new AbortController().signal, reason };
  }

  private transition(to: State): void {
    const from = this.current;
    if (from === to) return;
    if (!TRANSITIONS[from].includes(to)) throw new Error(`bus: illegal transition ${from} -> ${to}`);
    this.current = to;
    this.opts.log.info(`state ${from} -> ${to}`);
    for (const listener of this.stateListeners) {
      try {
        listener(to, from);
      } catch (err) {
        this.opts.log.error(`state listener failed: ${toError(err).message}`);
      }
    }
    this.opts.emit?.('state', { state: to, from });
    this.opts.trace?.(`state ${to}`);
  }

  private announce(action: Action, source: Source, extra: Record<string, unknown> = {}): void {
    this.opts.log.info(
      `request ${action} from ${source}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}`,
    );
    this.opts.emit?.('request', { action, source, ...extra });
  }

  private ignore(action: Action, source: Source, reason: string): Outcome {
    this.opts.log.info(`${action} from ${source} ignored: ${reason}`);
    return { status: 'ignored', reason };
  }

  private has(channel: Channel): boolean {
    return this.subs.some((s) => s.channel === channel);
  }

  private subscribers(channel: Channel): Subscription[] {
    return this.subs.filter((s) => s.channel === channel).sort((a, b) => a.order - b.order || a.seq - b.seq);
  }

  /** Runs a channel's subscribers in order; returns the failures (already logged). */
  private async runChannel(channel: Channel, ctx: ChannelContext, opts: { stopOnError?: boolean } = {}) {
    const failures: Error[] = [];
    for (const sub of this.subscribers(channel)) {
      const error = await this.invoke(sub, ctx);
      if (error === undefined) continue;
      failures.push(error);
      if (opts.stopOnError) break;
    }
    return failures;
  }

  /** Calls one subscriber under its deadline. Resolves with its error, or undefined; never rejects. */
  private invoke(sub: Subscription, ctx: ChannelContext): Promise<Error | undefined> {
    const ms =
      sub.deadlineMs ??
      this.opts.deadlines?.[sub.channel] ??
      (sub.channel === 'stop' ? this.opts.graceMs : DEFAULT_DEADLINES[sub.channel]);
    const trace = this.opts.trace;
    trace?.(`${sub.channel}/${sub.name}`, 'begin');
    return new Promise((resolve) => {
      let settled = false;
      const settle = (error: Error | undefined) => {
        if (settled) return;
        settled = true;
        cancel();
        trace?.(`${sub.channel}/${sub.name}`, 'end');
        if (error !== undefined) this.opts.log.error(`${sub.channel} subscriber ${sub.name}: ${error.message}`);
        resolve(error);
      };
      const cancel = this.opts.clock.setTimer(ms, () =>
        settle(new Error(`did not finish within its ${ms} ms deadline; abandoned`)),
      );
      try {
        Promise.resolve(sub.fn(ctx)).then(
          () => settle(undefined),
          (err: unknown) => settle(toError(err)),
        );
      } catch (err) {
        settle(toError(err));
      }
    });
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** `list` with `item` added (a new list when there was none: "none" means "not requested"). */
function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

function toOutcome(failures: Error[]): Outcome {
  const first = failures[0];
  return first === undefined ? { status: 'done' } : { status: 'failed', error: first.message };
}
