/**
 * The lifecycle table as data (spec/lifecycle.json): valid against its schema, equal to the prose of
 * the specification (sections 3.1, 3.3, 4.1, 4.2), read by the harness (default maps, fuzz model),
 * and obeyed by the reference bus in every cell, driven in-process with an injected clock. The zoo
 * base is checked against the same cells by test/reference/lifecycle-zoo.test.ts (real processes).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { applyRequest, initialModel, type ModelSpec } from '../../harness/src/fuzz/model.js';
import { loadRegistry } from '../../harness/src/spec.js';
import {
  BUS_REQUESTS,
  type BusRequest,
  type Cell,
  type CellEffect,
  LIFECYCLE_STATES,
  type LifecycleState,
  legalTransitions,
  loadLifecycle,
} from '../../harness/src/spec-lifecycle.js';
import { DEFAULT_SIGNAL_MAP, DEFAULT_SIGNAL_REPEAT } from '../../harness/src/types.js';
import type { Outcome } from '../../reference/src/bus.js';
import { POSIX_MAP, POSIX_REPEAT_MAP } from '../../reference/src/signals.js';
import { legalTransitions as referenceTransitions } from '../../reference/src/spec-lifecycle.js';
import { Gate, makeBus, settle, type TestBus } from '../reference/helpers/fakes.js';

const root = path.resolve(import.meta.dirname, '../..');
const lifecycleJson: unknown = JSON.parse(readFileSync(path.join(root, 'spec/lifecycle.json'), 'utf8'));
const schema: unknown = JSON.parse(readFileSync(path.join(root, 'spec/schema/lifecycle.schema.json'), 'utf8'));
const prose = readFileSync(path.join(root, 'spec/clean-signal-handling.md'), 'utf8');
const table = loadLifecycle();

// ---------------------------------------------------------------------------------------------
// the data itself

describe('spec/lifecycle.json against its schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(schema as object);

  it('is valid', () => {
    const ok = validate(lifecycleJson);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects broken tables (the schema is not vacuous)', () => {
    // biome-ignore lint/suspicious/noExplicitAny: surgery on a copy of the JSON
    const clone = (): any => JSON.parse(JSON.stringify(lifecycleJson));
    const broken: unknown[] = [];
    let t = clone();
    delete t.table.STOPPING['fast-stop'];
    broken.push(t);
    t = clone();
    t.table.STARTED.stop.effects = [{ kind: 'transition', to: 'STOPPING' }]; // a stop without its kind
    broken.push(t);
    t = clone();
    t.table.STARTED.reload.effects = [{ kind: 'recorded' }]; // recorded until when?
    broken.push(t);
    t = clone();
    t.table.EXITING.stop.effects = [{ kind: 'ignored', to: 'STARTED' }];
    broken.push(t);
    t = clone();
    t.table.EXITING.stop.effects = [];
    broken.push(t);
    t = clone();
    t.signalMap.default.SIGTERM = 'terminate';
    broken.push(t);
    t = clone();
    t.states.push({ name: 'PAUSED', meaning: 'x', ready: false, stopInProgress: false });
    broken.push(t);
    for (const b of broken) expect(validate(b)).toBe(false);
  });

  it('has the registry version, and cites only requirements the registry declares', () => {
    const registry = loadRegistry();
    expect(table.specVersion).toBe(registry.specVersion);
    const ids = new Set(registry.requirements.map((r) => r.id));
    for (const state of LIFECYCLE_STATES) {
      for (const request of BUS_REQUESTS) {
        for (const id of table.table[state][request].requirements) expect(ids, `${state}/${request}`).toContain(id);
      }
    }
  });

  it('lists the states and requests in the order code relies on', () => {
    expect(table.states.map((s) => s.name)).toEqual(LIFECYCLE_STATES);
    expect(table.requests.map((r) => r.name)).toEqual(BUS_REQUESTS);
    expect(table.initial).toBe('STARTING');
    // the repeat map applies exactly where a stop is in progress
    expect(table.signalMap.repeatAppliesIn).toEqual(table.states.filter((s) => s.stopInProgress).map((s) => s.name));
  });

  it('derives the legal transitions (request cells and the last column)', () => {
    expect(legalTransitions()).toEqual({
      STARTING: ['STARTED', 'STOPPING', 'EXITING'],
      STARTED: ['RELOADING', 'STOPPING'],
      RELOADING: ['STARTED', 'STOPPING'],
      STOPPING: ['EXITING'],
      EXITING: [],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// the prose

/** The rows of the first Markdown table after `heading`, as trimmed cells (header first). */
function proseTable(heading: string): string[][] {
  const start = prose.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const lines = prose.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    if (/^\|[\s:-]+\|/.test(line) && !/[a-z]/i.test(line)) continue; // the separator row
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const unquote = (s: string) => s.replace(/^`|`$/g, '');

/** The effect kinds a cell's words name (the vocabulary of section 3.3's legend). */
function kindsInProse(text: string): Set<string> {
  const kinds = new Set<string>();
  if (/^→ `[A-Z]+`/.test(text)) kinds.add('transition');
  if (/or a new generation starts/.test(text)) kinds.add('carried-out');
  if (/^stays/.test(text)) kinds.add('carried-out');
  if (/may be carried out/.test(text)) kinds.add('ignored');
  if (/^recorded|deferred|^carried out once/.test(text)) kinds.add('recorded');
  if (/coalesced/.test(text)) kinds.add('coalesced');
  if (/refused/.test(text)) kinds.add('refused');
  if (/becomes fast/.test(text)) kinds.add('escalate');
  if (/^ignored/.test(text)) kinds.add('ignored');
  return kinds;
}

describe('the prose and the data say the same', () => {
  it('section 3.3 cites the file', () => {
    const section = prose.slice(prose.indexOf('### 3.3 Transition table'), prose.indexOf('### 3.4'));
    expect(section).toContain('(lifecycle.json)');
  });

  it('section 3.1: the states and their meanings', () => {
    const [header, ...rows] = proseTable('### 3.1 States');
    expect(header).toEqual(['state', 'meaning']);
    expect(rows.map(([state, meaning]) => ({ name: unquote(state ?? ''), meaning }))).toEqual(
      table.states.map(({ name, meaning }) => ({ name, meaning })),
    );
  });

  it('section 3.3: every cell verbatim, rows and columns in order', () => {
    const [header, ...rows] = proseTable('### 3.3 Transition table');
    expect(header?.slice(1, 6).map(unquote)).toEqual(BUS_REQUESTS);
    expect(header?.[6]).toBe('startup done / work done');
    expect(rows.map((r) => unquote(r[0] ?? ''))).toEqual(LIFECYCLE_STATES);
    for (const row of rows) {
      const state = unquote(row[0] ?? '') as LifecycleState;
      BUS_REQUESTS.forEach((request, i) => {
        expect(row[i + 1], `${state} / ${request}`).toBe(table.table[state][request].prose);
      });
      expect(row[6], `${state} / startup done / work done`).toBe(table.internal[state].prose);
    }
  });

  it("section 3.3: each cell's effects are the ones its words name", () => {
    for (const state of LIFECYCLE_STATES) {
      for (const request of BUS_REQUESTS) {
        const cell = table.table[state][request];
        const kinds = new Set(cell.effects.map((e) => e.kind));
        expect(kinds, `${state} / ${request}: "${cell.prose}"`).toEqual(kindsInProse(cell.prose));
        const arrow = /^→ `([A-Z]+)`/.exec(cell.prose);
        if (arrow !== null) {
          const t = cell.effects.find((e) => e.kind === 'transition');
          expect(t?.to, `${state} / ${request}`).toBe(arrow[1]);
          if (t?.to === 'STOPPING') expect(t.stop).toBe(/\(fast\)/.test(cell.prose) ? 'fast' : 'graceful');
        }
      }
      // the last column: every state named after an arrow is a target, and nothing else
      const named = [...table.internal[state].prose.matchAll(/→ `([A-Z]+)`/g)].map((m) => m[1]);
      const targets = table.internal[state].transitions.map((t) => t.to).filter((t) => t !== null);
      expect(new Set(targets), state).toEqual(new Set(named));
    }
  });

  it('section 4.1: the default map', () => {
    const [header, ...rows] = proseTable('### 4.1 The default map');
    expect(header?.slice(0, 2)).toEqual(['signal', 'action']);
    const map: Record<string, string> = {};
    const repeat: Record<string, string> = {};
    for (const [sig = '', action = ''] of rows) {
      const name = /^`(SIG[A-Z0-9]+)`( during a stop)?$/.exec(sig);
      expect(name, sig).not.toBeNull();
      (name?.[2] ? repeat : map)[name?.[1] ?? ''] = /^`([a-z-]+)`/.exec(action)?.[1] ?? action;
    }
    expect(map).toEqual(table.signalMap.default);
    expect(repeat).toEqual(table.signalMap.repeat);
    for (const sig of table.signalMap.notMapped) expect(prose).toContain(`\`${sig}\``);
  });

  it('section 4.2: the default repeat map, applying whatever started the stop', () => {
    const section = prose.slice(prose.indexOf('### 4.2 Declared maps'), prose.indexOf('<a id="sig-map-declared">'));
    const m = /\(`signalsRepeat`, default `(\{[^`]+\})`\)/.exec(section);
    expect(JSON.parse(m?.[1] ?? 'null')).toEqual(table.signalMap.repeat);
    expect(section).toContain('while a stop is already in progress (state `STOPPING` or `EXITING`)');
    expect(table.signalMap.repeatAppliesIn).toEqual(['STOPPING', 'EXITING']);
  });
});

// ---------------------------------------------------------------------------------------------
// the harness reads it

describe('the harness reads the table', () => {
  it('the default maps are the spec data', () => {
    expect(DEFAULT_SIGNAL_MAP).toEqual(table.signalMap.default);
    expect(DEFAULT_SIGNAL_REPEAT).toEqual(table.signalMap.repeat);
    expect(Object.isFrozen(DEFAULT_SIGNAL_MAP)).toBe(true);
  });

  it('the fuzz model gives each bus request the effect of its cell', () => {
    const spec: ModelSpec = {
      name: 'cells',
      signals: { ...DEFAULT_SIGNAL_MAP },
      signalsRepeat: { ...DEFAULT_SIGNAL_REPEAT },
      exitCodes: { graceful: 0, deadline: 3, fastStop: 4 },
      gracePeriodMs: 1000,
      probe: true,
      endpoints: true,
      durable: false,
      reload: true,
      restart: true,
      fifo: false,
      control: true,
    };
    // the model's situations: its lifecycle (STARTED, RELOADING, STOPPING) and the kind of stop
    const situations: Array<{ row: LifecycleState; enter: BusRequest[] }> = [
      { row: 'STARTED', enter: [] },
      { row: 'RELOADING', enter: ['reload'] },
      { row: 'STOPPING', enter: ['stop'] },
      { row: 'STOPPING', enter: ['fast-stop'] },
    ];
    for (const { row, enter } of situations) {
      for (const request of BUS_REQUESTS) {
        const m = initialModel(spec);
        for (const r of enter) applyRequest(m, r);
        const fastAlready = m.stop?.kind === 'fast';
        const o = applyRequest(m, request);
        const kinds = table.table[row][request].effects.map((e) => e.kind);
        const label = `${row}${enter.length ? ` (${enter.join(', ')})` : ''} / ${request}: ${o.effect}`;
        const allowed = kinds.flatMap((k): string[] => {
          switch (k) {
            case 'transition': {
              const t = table.table[row][request].effects.find((e) => e.kind === 'transition');
              return t?.to === 'STOPPING' ? [t.stop === 'fast' ? 'fast-stop' : 'stop'] : [request];
            }
            case 'escalate':
              return [fastAlready ? 'ignored' : 'escalate'];
            case 'ignored':
            case 'refused':
              return ['ignored'];
            default:
              return [request];
          }
        });
        expect(allowed, label).toContain(o.effect);
      }
    }
  });

  it('a column whose capability the manifest does not declare is not graded', () => {
    const m = initialModel({
      name: 'no-restart',
      signals: {},
      signalsRepeat: {},
      exitCodes: { graceful: 0, deadline: 3, fastStop: 4 },
      gracePeriodMs: 1000,
      probe: true,
      endpoints: false,
      durable: false,
      reload: false,
      restart: false,
      fifo: false,
      control: false,
    });
    expect(applyRequest(m, 'restart').effect).toBe('ignored');
    expect(m.lifecycle).toBe('STARTED');
    // the lenient reading: a reload may be running (RELOADING also allows STARTED)
    expect(applyRequest(m, 'reload').effect).toBe('reload');
  });
});

// ---------------------------------------------------------------------------------------------
// the reference reads it, and its bus obeys every cell

describe('the reference reads the table', () => {
  it('its default map and repeat map are the spec data (less the `ignore` entries: no listener)', () => {
    const withAction = (m: Readonly<Record<string, string>>) =>
      Object.fromEntries(Object.entries(m).filter(([, a]) => a !== 'ignore'));
    expect(POSIX_MAP).toEqual(withAction(table.signalMap.default));
    expect(POSIX_REPEAT_MAP).toEqual(withAction(table.signalMap.repeat));
  });

  it('its bus allows exactly the legal transitions', () => {
    const sorted = (t: Readonly<Record<string, readonly string[]>>) =>
      Object.fromEntries(Object.entries(t).map(([k, v]) => [k, [...v].sort()]));
    expect(sorted(referenceTransitions())).toEqual(sorted(legalTransitions()));
  });
});

type Held = 'start' | 'reload' | 'stop' | 'abort' | 'persist';

interface Rig extends TestBus {
  /** subscriber calls in order: init, listen, ready, reload, reopen, restart, stop, abort, persist, exit */
  calls: string[];
  gates: Record<Held, Gate>;
}

/** A bus with one subscriber per channel; the `held` ones wait for their gate. */
function rig(held: Held[], startHeld: 'before-listen' | 'after-listen' = 'before-listen'): Rig {
  const t = makeBus();
  const calls: string[] = [];
  const gates: Record<Held, Gate> = {
    start: new Gate(),
    reload: new Gate(),
    stop: new Gate(),
    abort: new Gate(),
    persist: new Gate(),
  };
  const step = (name: string, gate?: Held) => async () => {
    calls.push(name);
    if (gate !== undefined && held.includes(gate)) await gates[gate].opened;
  };
  t.bus.subscribe('start', 'init', step('init', 'start'), { order: startHeld === 'before-listen' ? 10 : 30 });
  t.bus.subscribe('start', 'listen', step('listen'), { order: 20 });
  t.bus.subscribe('started', 'ready', step('ready'));
  t.bus.subscribe('reload', 'config', step('reload', 'reload'));
  t.bus.subscribe('reopen-logs', 'log', step('reopen'));
  t.bus.subscribe('restart', 'generation', step('restart'));
  t.bus.subscribe('stop', 'drain', step('stop', 'stop'));
  t.bus.subscribe('abort', 'destroy', step('abort', 'abort'));
  t.bus.subscribe('persist', 'index', step('persist', 'persist'));
  t.bus.subscribe('exit', 'pidfile', step('exit'));
  return { ...t, calls, gates };
}

/** How the bus is brought into a row of the table and held there, and what lets it go on. */
interface Situation {
  row: LifecycleState;
  name: string;
  enter(): Promise<Rig>;
  /** the event that ends the hold: startup done, reload done, drain over, persisted */
  release(r: Rig): void;
  /** what a request recorded in this situation waits for */
  waitsFor?: 'STARTED' | 'reload-end';
}

const SITUATIONS: Situation[] = [
  {
    row: 'STARTING',
    name: 'STARTING (a start step running)',
    async enter() {
      const r = rig(['start']);
      void r.bus.start();
      await settle();
      return r;
    },
    release: (r) => r.gates.start.open(),
    waitsFor: 'STARTED',
  },
  {
    row: 'STARTING',
    name: 'STARTING (listeners bound, a later start step running)',
    async enter() {
      const r = rig(['start'], 'after-listen');
      void r.bus.start();
      await settle();
      expect(r.calls).toContain('listen');
      return r;
    },
    release: (r) => r.gates.start.open(),
    waitsFor: 'STARTED',
  },
  {
    row: 'STARTED',
    name: 'STARTED',
    async enter() {
      const r = rig([]);
      await r.bus.start();
      return r;
    },
    release: () => {},
  },
  {
    row: 'RELOADING',
    name: 'RELOADING (a reload running)',
    async enter() {
      const r = rig(['reload']);
      await r.bus.start();
      void r.bus.request('reload', 'app');
      await settle();
      return r;
    },
    release: (r) => r.gates.reload.open(),
    waitsFor: 'reload-end',
  },
  {
    row: 'STOPPING',
    name: 'STOPPING (graceful, draining)',
    async enter() {
      const r = rig(['stop']);
      await r.bus.start();
      void r.bus.request('stop', 'app');
      await settle();
      return r;
    },
    release: (r) => r.gates.stop.open(),
  },
  {
    row: 'STOPPING',
    name: 'STOPPING (fast, aborting)',
    async enter() {
      const r = rig(['abort']);
      await r.bus.start();
      void r.bus.request('fast-stop', 'app');
      await settle();
      return r;
    },
    release: (r) => r.gates.abort.open(),
  },
  {
    row: 'EXITING',
    name: 'EXITING (persisting)',
    async enter() {
      const r = rig(['persist']);
      await r.bus.start();
      void r.bus.request('stop', 'app');
      await settle();
      return r;
    },
    release: (r) => r.gates.persist.open(),
  },
];

function situation(name: string): Situation {
  const s = SITUATIONS.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no situation ${name}`);
  return s;
}

const CALL_OF: Partial<Record<BusRequest, string>> = { reload: 'reload', restart: 'restart', 'reopen-logs': 'reopen' };
const count = (calls: readonly string[], name: string | undefined) => calls.filter((c) => c === name).length;

interface Observed {
  effect: CellEffect;
  /** runs of the request's channel after the hold ended, for two requests made during it */
  laterRuns: number;
  nowRuns: number;
  /** the first request's outcome, once settled */
  outcome: Outcome | undefined;
  rig: Rig;
  /** subscriber calls before the first request */
  callsBefore: number;
}

/** Makes `request` twice in `situation`, ends the hold, and says what the bus did. */
async function observe(situation: Situation, request: BusRequest): Promise<Observed> {
  const r = await situation.enter();
  expect(r.bus.state, situation.name).toBe(situation.row);
  const call = CALL_OF[request];
  const before = { state: r.bus.state, reason: r.bus.stopReason, runs: count(r.calls, call) };
  const callsBefore = r.calls.length;
  const got: { outcome?: Outcome } = {};
  void r.bus.request(request, 'app').then((o) => {
    got.outcome = o;
  });
  // the state changes synchronously with the request; the channels run a moment later
  const after = { state: r.bus.state, reason: r.bus.stopReason };
  await settle();
  const runsAfterFirst = count(r.calls, call);
  const twice = request === 'stop' || request === 'fast-stop' ? 0 : 1;
  if (twice) void r.bus.request(request, 'app');
  await settle();
  const nowRuns = count(r.calls, call) - before.runs;
  situation.release(r);
  await r.clock.advance(0);
  const laterRuns = count(r.calls, call) - before.runs - nowRuns;

  let effect: CellEffect;
  if (after.state !== before.state) {
    effect =
      after.state === 'STOPPING'
        ? { kind: 'transition', to: 'STOPPING', stop: after.reason === 'graceful' ? 'graceful' : 'fast' }
        : { kind: 'transition', to: after.state };
  } else if (request === 'stop' || request === 'fast-stop') {
    const fast = (reason: string | undefined) => reason === 'fast';
    effect =
      after.state === 'STOPPING' && request === 'fast-stop' && fast(after.reason)
        ? { kind: 'escalate' }
        : { kind: 'ignored' };
    if (before.reason !== after.reason && !(before.reason === 'graceful' && fast(after.reason))) {
      throw new Error(`${request} changed the stop from ${before.reason} to ${after.reason}`);
    }
  } else if (runsAfterFirst > before.runs) {
    effect = { kind: 'carried-out' };
  } else if (laterRuns > 0 && situation.row === 'RELOADING' && request === 'reload') {
    effect = { kind: 'coalesced' };
  } else if (laterRuns > 0) {
    effect = { kind: 'recorded', until: situation.waitsFor ?? 'STARTED', once: laterRuns === 1 };
  } else {
    effect = { kind: got.outcome?.status === 'failed' ? 'refused' : 'ignored' };
  }
  return { effect, laterRuns, nowRuns, outcome: got.outcome, rig: r, callsBefore };
}

/** Whether an observed effect is one the cell allows. */
function allowed(cell: Cell, o: Observed): boolean {
  return cell.effects.some((e) => {
    if (e.kind !== o.effect.kind) return false;
    switch (e.kind) {
      case 'transition':
        return e.to === o.effect.to && e.stop === o.effect.stop;
      case 'recorded':
        // logs are open by STARTED: a request carried out after STARTED was carried out once they were
        return (
          (e.until === o.effect.until || (e.until === 'logs-open' && o.effect.until === 'STARTED')) &&
          (e.once !== true || o.laterRuns === 1)
        );
      case 'coalesced':
        return o.laterRuns === 1; // two requests during one run: exactly one follow-up
      case 'carried-out':
        return o.nowRuns >= 1 && o.nowRuns + o.laterRuns === 2; // both requests carried out
      default:
        return o.nowRuns === 0 && o.laterRuns === 0;
    }
  });
}

describe('the reference bus obeys every cell', () => {
  for (const situation of SITUATIONS) {
    for (const request of BUS_REQUESTS) {
      const cell = table.table[situation.row][request];
      it(`${situation.name} / ${request}: ${cell.prose}`, async () => {
        const o = await observe(situation, request);
        expect(
          allowed(cell, o),
          `observed ${JSON.stringify(o.effect)} (runs now ${o.nowRuns}, later ${o.laterRuns})`,
        ).toBe(true);
        const r = o.rig;
        if (cell.opensNoListener) {
          // no listener opens after the request (closing one already open is the server's stop step)
          expect(r.calls.slice(o.callsBefore)).not.toContain('listen');
          expect(r.calls).not.toContain('ready');
          expect(r.states()).not.toContain('STARTED');
        }
        // every observed transition is legal, one stop sequence at most
        const legal = legalTransitions();
        let from: LifecycleState = 'STARTING';
        for (const to of r.states() as LifecycleState[]) {
          expect(legal[from], `${from} -> ${to}`).toContain(to);
          from = to;
        }
        expect(count(r.calls, 'persist')).toBeLessThanOrEqual(1);
        expect(r.exits.length).toBeLessThanOrEqual(1);
      });
    }
  }

  it('STARTING: a stop drops what was recorded (reload, restart); no listener opens', async () => {
    for (const stop of ['stop', 'fast-stop'] as const) {
      const s = situation('STARTING (a start step running)');
      const r = await s.enter();
      void r.bus.request('reload', 'app');
      void r.bus.request('restart', 'app');
      await settle();
      void r.bus.request(stop, 'app');
      s.release(r);
      await r.clock.advance(0);
      expect(r.calls.filter((c) => c === 'reload' || c === 'restart' || c === 'listen' || c === 'ready')).toEqual([]);
      expect(r.exits).toEqual([stop === 'stop' ? 0 : 4]);
    }
  });

  it('RELOADING: a stop drops the queued reload and the deferred restart; the state never goes back to STARTED', async () => {
    for (const stop of ['stop', 'fast-stop'] as const) {
      const s = situation('RELOADING (a reload running)');
      const r = await s.enter();
      void r.bus.request('reload', 'app');
      void r.bus.request('restart', 'app');
      await settle();
      void r.bus.request(stop, 'app');
      s.release(r);
      await r.clock.advance(0);
      expect(count(r.calls, 'reload')).toBe(1);
      expect(count(r.calls, 'restart')).toBe(0);
      expect(r.states()).toEqual(['STARTED', 'RELOADING', 'STOPPING', 'EXITING']);
    }
  });
});

describe('the reference bus makes the transitions of the last column', () => {
  it('STARTING: startup done → STARTED', async () => {
    const r = rig([]);
    await r.bus.start();
    expect(r.states()).toEqual(['STARTED']);
  });

  it('STARTING: a fatal startup error → EXITING (status 1)', async () => {
    const t = table.internal.STARTING.transitions.find((x) => x.on === 'startup-failed');
    const r = rig([]);
    r.bus.subscribe(
      'start',
      'store',
      () => {
        throw new Error('no disk');
      },
      { order: 15 },
    );
    await r.bus.start();
    await r.clock.advance(0);
    expect(r.states()).toEqual([t?.to]);
    expect(r.exits).toEqual([t?.status]);
    expect(r.calls).not.toContain('listen');
  });

  it('RELOADING: reload done or failed → STARTED', async () => {
    for (const fails of [false, true]) {
      const r = rig([]);
      if (fails)
        r.bus.subscribe('reload', 'broken', () => {
          throw new Error('invalid configuration');
        });
      await r.bus.start();
      const outcome = await r.bus.request('reload', 'app');
      expect(outcome.status).toBe(fails ? 'failed' : 'done');
      expect(r.states()).toEqual(['STARTED', 'RELOADING', 'STARTED']);
    }
  });

  it('STOPPING: drain over → EXITING (0); deadline → EXITING (3); EXITING: process exit', async () => {
    const drained = rig([]);
    await drained.bus.start();
    await drained.bus.request('stop', 'app');
    await drained.clock.advance(0);
    expect(drained.states()).toEqual(['STARTED', 'STOPPING', 'EXITING']);
    expect(drained.exits).toEqual([0]);

    const late = rig(['stop']);
    await late.bus.start();
    await late.bus.request('stop', 'app');
    await late.clock.advance(999);
    expect(late.bus.state).toBe('STOPPING');
    await late.clock.advance(1);
    expect(late.states()).toEqual(['STARTED', 'STOPPING', 'EXITING']);
    expect(late.exits).toEqual([3]);
  });
});
