/**
 * The lifecycle table (spec/lifecycle.json), loaded once: the states, the bus requests, the effect of
 * each request in each state, the transitions a subject makes by itself, and the default signal and
 * repeat maps. The harness reads the spec as data; nothing here restates it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './launch/paths.js';
import type { Action } from './types.js';

export type LifecycleState = 'STARTING' | 'STARTED' | 'RELOADING' | 'STOPPING' | 'EXITING';
export type BusRequest = 'stop' | 'fast-stop' | 'reload' | 'restart' | 'reopen-logs';
export type EffectKind = 'transition' | 'carried-out' | 'recorded' | 'coalesced' | 'refused' | 'escalate' | 'ignored';

export interface CellEffect {
  kind: EffectKind;
  /** transition: the new state */
  to?: LifecycleState;
  /** transition to STOPPING: the kind of stop */
  stop?: 'graceful' | 'fast';
  /** recorded: when it is carried out */
  until?: 'STARTED' | 'logs-open' | 'reload-end';
  /** recorded: carried out once however often it was requested */
  once?: boolean;
}

export interface Cell {
  /** the cell's text in section 3.3 */
  prose: string;
  /** what the request does; several: the subject may do any one of them */
  effects: readonly CellEffect[];
  opensNoListener?: true;
  dropsRecorded?: true;
  maySkip?: string;
  requirements: readonly string[];
}

export interface InternalTransition {
  on: 'startup-done' | 'startup-failed' | 'reload-done' | 'reload-failed' | 'drain-over' | 'deadline' | 'exit';
  /** null: the process is gone */
  to: LifecycleState | null;
  status?: number;
}

export interface LifecycleTable {
  specVersion: string;
  states: ReadonlyArray<{ name: LifecycleState; meaning: string; ready: boolean; stopInProgress: boolean }>;
  initial: LifecycleState;
  requests: ReadonlyArray<{ name: BusRequest; meaning: string; capability?: 'reload' | 'restart' }>;
  sources: readonly string[];
  table: Readonly<Record<LifecycleState, Readonly<Record<BusRequest, Cell>>>>;
  internal: Readonly<Record<LifecycleState, { prose: string; transitions: readonly InternalTransition[] }>>;
  signalMap: {
    default: Readonly<Record<string, Action>>;
    repeat: Readonly<Record<string, Action>>;
    repeatAppliesIn: readonly LifecycleState[];
    notMapped: readonly string[];
    windows: Readonly<Record<string, Action>>;
    windowsRepeat: Readonly<Record<string, Action>>;
  };
}

export const LIFECYCLE_STATES: readonly LifecycleState[] = ['STARTING', 'STARTED', 'RELOADING', 'STOPPING', 'EXITING'];
export const BUS_REQUESTS: readonly BusRequest[] = ['stop', 'fast-stop', 'reload', 'restart', 'reopen-logs'];

function lifecyclePath(): string {
  return path.join(repoRoot(), 'spec', 'lifecycle.json');
}

let cached: LifecycleTable | null = null;

/** spec/lifecycle.json, parsed, checked for the parts code relies on, and frozen. */
export function loadLifecycle(): LifecycleTable {
  if (cached === null) {
    const data = JSON.parse(readFileSync(lifecyclePath(), 'utf8')) as LifecycleTable;
    for (const state of LIFECYCLE_STATES) {
      for (const request of BUS_REQUESTS) {
        if (!data.table?.[state]?.[request]?.effects?.length) {
          throw new Error(`spec/lifecycle.json: no effect for ${request} in ${state}`);
        }
      }
      if (data.internal?.[state] === undefined) throw new Error(`spec/lifecycle.json: no internal row for ${state}`);
    }
    if (data.signalMap?.default === undefined || data.signalMap.repeat === undefined) {
      throw new Error('spec/lifecycle.json: no default signal map or repeat map');
    }
    cached = deepFreeze(data);
  }
  return cached;
}

/** The effect of `request` in `state`. */
export function lifecycleCell(state: LifecycleState, request: BusRequest): Cell {
  return loadLifecycle().table[state][request];
}

/** Every legal transition: the request cells' and the subject's own (last column), per state. */
export function legalTransitions(): Readonly<Record<LifecycleState, readonly LifecycleState[]>> {
  const t = loadLifecycle();
  const out = {} as Record<LifecycleState, LifecycleState[]>;
  for (const state of LIFECYCLE_STATES) {
    const to = new Set<LifecycleState>();
    for (const request of BUS_REQUESTS) {
      for (const e of t.table[state][request].effects) if (e.kind === 'transition' && e.to !== undefined) to.add(e.to);
    }
    for (const i of t.internal[state].transitions) if (i.to !== null) to.add(i.to);
    out[state] = LIFECYCLE_STATES.filter((s) => to.has(s));
  }
  return out;
}

/** The default signal map (section 4.1). */
export function defaultSignalMap(): Readonly<Record<string, Action>> {
  return loadLifecycle().signalMap.default;
}

/** The default repeat map (section 4.2). */
export function defaultRepeatMap(): Readonly<Record<string, Action>> {
  return loadLifecycle().signalMap.repeat;
}

/** Whether a signal arriving in `state` takes its action from the repeat map. */
export function repeatMapApplies(state: LifecycleState): boolean {
  return loadLifecycle().signalMap.repeatAppliesIn.includes(state);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
