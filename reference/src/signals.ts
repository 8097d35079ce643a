/**
 * The signal plugin: the only module of the reference server that knows OS signals. It turns
 * each delivered signal into a bus request (`stop`, `fast-stop`, `reload`, ...) and nothing else.
 *
 * Install it first (`main.ts` does, before importing anything heavy): until a listener exists,
 * SIGTERM/SIGINT/SIGHUP kill a Node process outright (edge case E01). Signals that arrive before
 * the bus exists are recorded in order and replayed when `attach(bus)` is called.
 *
 * At handler entry the plugin stamps `process.hrtime.bigint()` and writes the probe `signal`
 * event synchronously: that is the harness's latency measurement point. Node runs signal
 * listeners on the main thread when its event loop is free, which is why the server keeps CPU
 * work and blocking reads off the main thread.
 *
 * The default map and the repeat map are read from the specification (spec/lifecycle.json, sections
 * 4.1 and 4.2; `spec-lifecycle.ts`); today they say:
 *
 * | signal  | action        | a delivery during a stop        |
 * |---------|---------------|---------------------------------|
 * | SIGTERM | stop          | stop (idempotent)               |
 * | SIGINT  | stop          | fast-stop                       |
 * | SIGQUIT | fast-stop     |                                 |
 * | SIGHUP  | reload        | (ignored by the bus: a stop dominates) |
 * | SIGUSR1 | reopen-logs   | (replaces Node's "start the inspector on SIGUSR1") |
 * | SIGUSR2 | restart       | (`--workers N`: a new generation of workers; one process: the bus logs and ignores it) |
 * | SIGPIPE | ignore        | Node already sets SIG_IGN at startup; no listener is installed |
 *
 * In the supervised mode this plugin runs in the supervisor only. Its worker processes install
 * listeners that do nothing (`supervised/worker-main.ts`): a signal sent to the process group reaches
 * them too, and the supervisor, which got the same signal, decides. The supervisor passes an `onEntry`
 * hook to `attach`: it runs after the stamp and before the probe event is written, so a stop reaches
 * the workers' IPC channels before anyone can read the `signal` event and act on it (a request the
 * harness sends after that event then finds its worker already stopping: `/ready` 503,
 * `Connection: close`).
 *
 * On Windows only console events exist (spec PLATFORM.WINDOWS): SIGINT (Ctrl+C) and SIGBREAK
 * (Ctrl+Break) map to stop, and a second one during a stop to fast-stop; SIGHUP (the console was
 * closed; Windows ends the process seconds later, whatever it is doing) maps to fast-stop, so the
 * persist step runs before that. The authenticated control channel (`control.ts`) is the other way in
 * there, and the one a service manager or the harness uses.
 */
import type { Probe } from './probe.js';
import { type SpecSignalMap, specLifecycle } from './spec-lifecycle.js';

/** The action names, as in `bus.ts`, repeated here so this module imports nothing heavy. */
export type SignalAction = 'stop' | 'fast-stop' | 'reload' | 'restart' | 'reopen-logs';

/** What the plugin needs from the bus: a structural type, so the bus module is not loaded early. */
export interface SignalTarget {
  readonly stopRequested: boolean;
  request(action: SignalAction, source: 'signal'): unknown;
}

export type SignalMap = Readonly<Record<string, SignalAction>>;

const SPEC_MAPS = specLifecycle().signalMap;
/** The signals of a spec map that have an action (the `ignore` ones get no listener). */
const withAction = (m: SpecSignalMap): SignalMap =>
  Object.fromEntries(Object.entries(m).filter(([, action]) => action !== 'ignore')) as SignalMap;

/** The default map (spec section 4.1), less its `ignore` entries. */
export const POSIX_MAP: SignalMap = withAction(SPEC_MAPS.default);

/** The action of a delivery while a stop is under way, whatever started the stop (spec section 4.2). */
export const POSIX_REPEAT_MAP: SignalMap = withAction(SPEC_MAPS.repeat);

export const WINDOWS_MAP: SignalMap = { SIGINT: 'stop', SIGBREAK: 'stop', SIGHUP: 'fast-stop' };
export const WINDOWS_REPEAT_MAP: SignalMap = { SIGINT: 'fast-stop', SIGBREAK: 'fast-stop' };

/** Left at the disposition Node gives them (SIG_IGN), listed in the `handlers` probe event. */
const IGNORED_POSIX = Object.keys(SPEC_MAPS.default).filter((sig) => SPEC_MAPS.default[sig] === 'ignore');

export interface SignalPluginOptions {
  probe: Probe;
  platform?: NodeJS.Platform;
  /** Signal -> action (default: the platform's map above). */
  map?: SignalMap;
  /** Signal -> action of a repeated delivery during a stop (default: the platform's). */
  repeatMap?: SignalMap;
  /** Where log lines go before the logger exists (default: stderr via `console.error`). */
  note?: (msg: string) => void;
}

export interface SignalPlugin {
  /**
   * Hands the bus over and replays the signals recorded so far, in arrival order. `onEntry` (the
   * supervisor's) is called for every delivery from now on with the signal's action, after the stamp
   * and before the probe event; it must be tiny and must not write probe events.
   */
  attach(
    target: SignalTarget,
    note?: (msg: string) => void,
    onEntry?: (sig: string, action: SignalAction) => void,
  ): void;
  /** The signals with a listener. */
  readonly signals: readonly string[];
  /** Removes the listeners (tests only: a server never gives its handlers up). */
  uninstall(): void;
}

/** Installs the listeners and announces them (`handlers` probe event). Call it first. */
export function installSignalHandlers(options: SignalPluginOptions): SignalPlugin {
  const { probe } = options;
  const windows = (options.platform ?? process.platform) === 'win32';
  const map = options.map ?? (windows ? WINDOWS_MAP : POSIX_MAP);
  const repeatMap = options.repeatMap ?? (windows ? WINDOWS_REPEAT_MAP : POSIX_REPEAT_MAP);
  let note = options.note ?? ((msg: string) => console.error(msg));
  let target: SignalTarget | undefined;
  let onEntry: ((sig: string, action: SignalAction) => void) | undefined;
  const early: string[] = [];
  const deliveries = new Map<string, number>();

  const actionOf = (sig: string): SignalAction | undefined => {
    const repeat = target?.stopRequested ? repeatMap[sig] : undefined;
    return repeat ?? map[sig];
  };

  const dispatch = (sig: string, count: number) => {
    if (target === undefined) return;
    const action = actionOf(sig);
    if (action === undefined) return;
    note(`${sig} received${count > 1 ? ` (delivery ${count})` : ''}: ${action}`);
    target.request(action, 'signal');
  };

  const onSignal = (sig: NodeJS.Signals) => {
    const t = process.hrtime.bigint(); // first: the latency measurement point
    if (target === undefined) {
      probe.emitAt(t, 'signal', { sig });
      early.push(sig);
      return;
    }
    const count = (deliveries.get(sig) ?? 0) + 1;
    deliveries.set(sig, count);
    const action = onEntry === undefined ? undefined : actionOf(sig);
    if (action !== undefined) onEntry?.(sig, action);
    probe.emitAt(t, 'signal', { sig });
    dispatch(sig, count);
  };

  const names = Object.keys(map);
  for (const sig of names) process.on(sig as NodeJS.Signals, onSignal);
  probe.emit('handlers', { signals: names, ignored: windows ? [] : IGNORED_POSIX });

  return {
    signals: names,
    attach(bus, logNote, entryHook) {
      if (logNote !== undefined) note = logNote;
      onEntry = entryHook;
      target = bus;
      for (const sig of early.splice(0)) {
        const count = (deliveries.get(sig) ?? 0) + 1;
        deliveries.set(sig, count);
        note(`replaying ${sig}, received during startup`);
        dispatch(sig, count);
      }
    },
    uninstall() {
      for (const sig of names) process.off(sig as NodeJS.Signals, onSignal);
    },
  };
}
