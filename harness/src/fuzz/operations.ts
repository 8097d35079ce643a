/**
 * The fuzzer's operation vocabulary: what a command is, as plain JSON data (`CmdSpec`), so a shrunk
 * sequence can be saved and replayed without fast-check; `applicable()`, its precondition on the
 * model; and `commandArbitrary()`, the generator of the commands a manifest makes possible. Pure: no
 * process, no I/O. `execute.ts` carries a command out against the real subject.
 *
 * | op                   | what it does                                                                      |
 * |----------------------|-----------------------------------------------------------------------------------|
 * | `signal`             | send a declared or harmless signal; wait for the acknowledgement of a handled one  |
 * | `hold`               | `GET /hold?ms=N`, in flight once its headers arrived                              |
 * | `cpu`                | `GET /cpu?ms=N`, in flight once its headers arrived                               |
 * | `put`                | `PUT /kv/k<n>`, in flight once a later request on another connection was served   |
 * | `fifo-read`          | `GET /fifo`, in flight once the subject opened the FIFO for reading               |
 * | `fifo-write`         | write the line the blocked read waits for                                         |
 * | `reload`             | write a valid or an invalid configuration, send the reload signal                 |
 * | `restart`            | send the restart signal (subjects declaring `restart`), wait until ready again    |
 * | `await-requests`     | wait for every request in flight; read back the acknowledged writes               |
 * | `await-reload`       | wait until the reloads settled (STARTED again); check the generation served       |
 * | `connect-after-stop` | during a stop a new connection is refused (after `stop-accepting`) or served,    |
 * |                      | never accepted then reset                                                         |
 * | `control`            | a bus request on the control channel (stop, fast-stop, reload, reopen-logs)       |
 */
import fc from 'fast-check';
import { canDeliver } from '../launch/signals.js';
import { type FuzzModel, fuzzSignals, isRunning, type ModelSpec, signalOf } from './model.js';

export type CmdSpec =
  | { op: 'signal'; sig: string }
  | { op: 'hold'; ms: number }
  | { op: 'cpu'; ms: number }
  | { op: 'put' }
  | { op: 'fifo-read' }
  | { op: 'fifo-write' }
  | { op: 'reload'; valid: boolean }
  | { op: 'restart' }
  | { op: 'await-requests' }
  | { op: 'await-reload' }
  | { op: 'connect-after-stop' }
  | { op: 'control'; action: ControlAction; valid?: boolean };

/** Bus requests the control channel carries (subject-protocol.md section 10). */
export type ControlAction = 'stop' | 'fast-stop' | 'reload' | 'reopen-logs';
const CONTROL_ACTIONS: readonly string[] = ['stop', 'fast-stop', 'reload', 'reopen-logs'];

const OPS = new Set([
  'signal',
  'hold',
  'cpu',
  'put',
  'fifo-read',
  'fifo-write',
  'reload',
  'restart',
  'await-requests',
  'await-reload',
  'connect-after-stop',
  'control',
]);

/**
 * Shortest `hold`/`cpu` duration. Shrinking drives durations to it, so it is long enough for a
 * shrunk counterexample to keep its request in flight across the next command on a loaded machine.
 */
const MIN_REQUEST_MS = 50;

/** Most requests in flight at once. */
const MAX_IN_FLIGHT = 6;

/** Validate JSON data as a command (corpus files). */
export function isCmdSpec(x: unknown): x is CmdSpec {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  if (typeof c.op !== 'string' || !OPS.has(c.op)) return false;
  if (c.op === 'signal') return typeof c.sig === 'string' && /^SIG[A-Z0-9]+$/.test(c.sig);
  if (c.op === 'hold' || c.op === 'cpu') return Number.isInteger(c.ms) && (c.ms as number) >= 0;
  if (c.op === 'reload') return typeof c.valid === 'boolean';
  if (c.op === 'control') {
    return (
      typeof c.action === 'string' &&
      CONTROL_ACTIONS.includes(c.action) &&
      (c.action === 'reload' ? typeof c.valid === 'boolean' : c.valid === undefined)
    );
  }
  return true;
}

export function describeCmd(c: CmdSpec): string {
  switch (c.op) {
    case 'signal':
      return c.sig;
    case 'hold':
    case 'cpu':
      return `${c.op}(${c.ms})`;
    case 'reload':
      return `reload(${c.valid ? 'valid' : 'invalid'})`;
    case 'control':
      return `control(${c.action}${c.valid === undefined ? '' : c.valid ? ', valid' : ', invalid'})`;
    default:
      return c.op;
  }
}

function awaitable(m: FuzzModel): number {
  const f = m.inFlight;
  return f.hold + f.cpu + f.put + (f.fifoReading && !f.fifoUnwritten ? 1 : 0);
}

function inFlightCount(m: FuzzModel): number {
  const f = m.inFlight;
  return f.hold + f.cpu + f.put + (f.fifoReading ? 1 : 0);
}

/** The precondition: may this command run in the model's current state? */
export function applicable(m: FuzzModel, c: CmdSpec): boolean {
  const s = m.spec;
  const alive = m.lifecycle !== 'EXITED';
  const room = isRunning(m) && inFlightCount(m) < MAX_IN_FLIGHT;
  switch (c.op) {
    case 'signal':
      return alive;
    case 'hold':
    case 'cpu':
      return s.endpoints && room;
    case 'put':
      return s.durable && room;
    case 'fifo-read':
      return s.fifo && room && !m.inFlight.fifoReading;
    case 'fifo-write':
      return alive && m.inFlight.fifoUnwritten;
    case 'reload':
      return alive && s.reload && signalOf(s, 'reload') !== null;
    case 'restart':
      return s.restart && signalOf(s, 'restart') !== null && isRunning(m);
    case 'await-requests':
      return awaitable(m) > 0;
    case 'await-reload':
      return s.probe && m.lifecycle === 'RELOADING';
    case 'connect-after-stop':
      return alive && m.stop !== null && s.endpoints && s.probe;
    case 'control':
      return alive && s.control && (c.action !== 'reload' || s.reload);
  }
}

export interface ArbitraryOptions {
  /** longest `hold`/`cpu` duration; default min(400, grace/4) */
  maxRequestMs?: number;
}

/** The command generator for a subject: only commands its manifest makes possible at all. */
export function commandArbitrary(s: ModelSpec, opts: ArbitraryOptions = {}): fc.Arbitrary<CmdSpec> {
  const maxMs = Math.max(MIN_REQUEST_MS * 2, opts.maxRequestMs ?? Math.min(400, Math.floor(s.gracePeriodMs / 4)));
  const sigs = fuzzSignals(s).filter((sig) => canDeliver(sig));
  const arbs: fc.WeightedArbitrary<CmdSpec>[] = [
    { weight: 8, arbitrary: fc.constantFrom(...sigs).map((sig): CmdSpec => ({ op: 'signal', sig })) },
  ];
  const add = (weight: number, arbitrary: fc.Arbitrary<CmdSpec>) => arbs.push({ weight, arbitrary });
  if (s.endpoints) {
    add(
      3,
      fc.integer({ min: MIN_REQUEST_MS, max: maxMs }).map((ms): CmdSpec => ({ op: 'hold', ms })),
    );
    add(
      1,
      fc.integer({ min: MIN_REQUEST_MS, max: Math.min(maxMs, 200) }).map((ms): CmdSpec => ({ op: 'cpu', ms })),
    );
    if (s.probe) add(1, fc.constant<CmdSpec>({ op: 'connect-after-stop' }));
  }
  if (s.durable) add(3, fc.constant<CmdSpec>({ op: 'put' }));
  if (s.fifo) {
    add(1, fc.constant<CmdSpec>({ op: 'fifo-read' }));
    add(1, fc.constant<CmdSpec>({ op: 'fifo-write' }));
  }
  if (s.reload && signalOf(s, 'reload') !== null) {
    add(
      3,
      fc.boolean().map((valid): CmdSpec => ({ op: 'reload', valid })),
    );
    if (s.probe) add(1, fc.constant<CmdSpec>({ op: 'await-reload' }));
  }
  if (s.restart && signalOf(s, 'restart') !== null) add(1, fc.constant<CmdSpec>({ op: 'restart' }));
  if (s.control) {
    const actions: ControlAction[] = ['stop', 'fast-stop', 'reopen-logs'];
    add(
      2,
      fc.oneof(
        fc.constantFrom(...actions).map((action): CmdSpec => ({ op: 'control', action })),
        ...(s.reload ? [fc.boolean().map((valid): CmdSpec => ({ op: 'control', action: 'reload', valid }))] : []),
      ),
    );
  }
  if (s.endpoints || s.durable) add(2, fc.constant<CmdSpec>({ op: 'await-requests' }));
  return fc.oneof(...arbs);
}
