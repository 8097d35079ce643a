/**
 * The process bus, in-process: every (state, request) pair, and the rules of the stop sequence.
 * Time and exit are fakes (`helpers/fakes.ts`), so deadlines are exact and nothing exits.
 */
import { describe, expect, it } from 'vitest';
import type { Action, ChannelContext, State } from '../../reference/src/bus.js';
import { Gate, makeBus, settle, type TestBus } from './helpers/fakes.js';

type Held = 'start' | 'reload' | 'stop' | 'persist';

interface Rig extends TestBus {
  /** Subscriber calls in order: `start:a`, `start:listen`, `ready`, `reload`, `reopen`, `stop`, `abort`, `persist`, `exit`. */
  calls: string[];
  gates: Record<Held, Gate>;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A bus with one subscriber per channel; the `held` ones wait for their gate. */
function rig(held: Held[] = []): Rig {
  const t = makeBus();
  const calls: string[] = [];
  const gates: Record<Held, Gate> = { start: new Gate(), reload: new Gate(), stop: new Gate(), persist: new Gate() };
  const hold = (name: Held) => (held.includes(name) ? gates[name].opened : undefined);
  t.bus.subscribe(
    'start',
    'a',
    async (ctx: ChannelContext) => {
      calls.push('start:a');
      if (held.includes('start')) await Promise.race([gates.start.opened, aborted(ctx.signal)]);
    },
    { order: 10 },
  );
  t.bus.subscribe('start', 'listen', () => calls.push('start:listen'), { order: 20 });
  t.bus.subscribe('started', 'ready', () => calls.push('ready'));
  t.bus.subscribe('reload', 'config', async () => {
    calls.push('reload');
    await hold('reload');
  });
  t.bus.subscribe('reopen-logs', 'log', () => calls.push('reopen'));
  t.bus.subscribe('stop', 'drain', async () => {
    calls.push('stop');
    await hold('stop');
  });
  t.bus.subscribe('abort', 'destroy', () => calls.push('abort'));
  t.bus.subscribe('persist', 'index', async () => {
    calls.push('persist');
    await hold('persist');
  });
  t.bus.subscribe('exit', 'pidfile', () => calls.push('exit'));
  return { ...t, calls, gates };
}

/** A rig brought into `state` (held there by a gate). */
async function rigIn(state: State): Promise<Rig> {
  switch (state) {
    case 'STARTING': {
      const r = rig(['start']);
      void r.bus.start();
      await settle();
      return r;
    }
    case 'STARTED': {
      const r = rig();
      await r.bus.start();
      return r;
    }
    case 'RELOADING': {
      const r = rig(['reload']);
      await r.bus.start();
      void r.bus.request('reload', 'signal');
      await settle();
      return r;
    }
    case 'STOPPING': {
      const r = rig(['stop']);
      await r.bus.start();
      void r.bus.request('stop', 'signal');
      await settle();
      return r;
    }
    case 'EXITING': {
      const r = rig(['persist']);
      await r.bus.start();
      void r.bus.request('stop', 'signal');
      await settle();
      return r;
    }
  }
}

const count = (calls: string[], name: string) => calls.filter((c) => c === name).length;
const requests = (r: Rig) => r.events.filter((e) => e.ev === 'request').map((e) => `${e.action}/${e.source}`);

describe('bus: getting into each state', () => {
  it.each(['STARTING', 'STARTED', 'RELOADING', 'STOPPING', 'EXITING'] as State[])('%s', async (state) => {
    const r = await rigIn(state);
    expect(r.bus.state).toBe(state);
    expect(r.bus.ready).toBe(state === 'STARTED' || state === 'RELOADING');
  });
});

describe('bus: requests during STARTING', () => {
  it('stop aborts startup: no later start step runs, persist still runs, exit 0', async () => {
    const r = await rigIn('STARTING');
    const outcome = await r.bus.request('stop', 'signal');
    expect(outcome).toEqual({ status: 'accepted' });
    expect(r.bus.state).toBe('STOPPING');
    expect(r.bus.ready).toBe(false);
    await r.clock.advance(0);
    expect(r.calls).not.toContain('start:listen');
    expect(r.calls).not.toContain('ready');
    expect(count(r.calls, 'persist')).toBe(1);
    expect(r.exits).toEqual([0]);
    expect(r.states()).toEqual(['STOPPING', 'EXITING']);
  });

  it('fast-stop aborts startup and exits 4 after persisting', async () => {
    const r = await rigIn('STARTING');
    await r.bus.request('fast-stop', 'control');
    await r.clock.advance(0);
    expect(r.calls).not.toContain('start:listen');
    expect(r.calls).not.toContain('stop');
    expect(r.calls).toContain('abort');
    expect(count(r.calls, 'persist')).toBe(1);
    expect(r.exits).toEqual([4]);
  });

  it('reload is deferred: exactly one reload runs once STARTED, and its requester gets the outcome', async () => {
    const r = await rigIn('STARTING');
    const first = r.bus.request('reload', 'signal');
    const second = r.bus.request('reload', 'signal');
    await settle();
    expect(r.calls).not.toContain('reload');
    expect(r.bus.state).toBe('STARTING');
    r.gates.start.open();
    await expect(first).resolves.toEqual({ status: 'done' });
    await expect(second).resolves.toEqual({ status: 'done' });
    expect(count(r.calls, 'reload')).toBe(1);
    expect(r.calls.indexOf('ready')).toBeLessThan(r.calls.indexOf('reload'));
    expect(r.bus.state).toBe('STARTED');
    expect(r.events.find((e) => e.ev === 'request')).toMatchObject({ action: 'reload', deferred: true });
  });

  it('a deferred reload is dropped when a stop follows', async () => {
    const r = await rigIn('STARTING');
    const reload = r.bus.request('reload', 'signal');
    void r.bus.request('stop', 'signal');
    await expect(reload).resolves.toMatchObject({ status: 'ignored' });
    await r.clock.advance(0);
    expect(r.calls).not.toContain('reload');
    expect(r.exits).toEqual([0]);
  });

  it('reopen-logs is deferred until STARTED', async () => {
    const r = await rigIn('STARTING');
    const reopen = r.bus.request('reopen-logs', 'signal');
    await settle();
    expect(r.calls).not.toContain('reopen');
    r.gates.start.open();
    await expect(reopen).resolves.toEqual({ status: 'done' });
    expect(count(r.calls, 'reopen')).toBe(1);
  });

  it('restart is ignored (nothing subscribes to it) and startup goes on', async () => {
    const r = await rigIn('STARTING');
    await expect(r.bus.request('restart', 'signal')).resolves.toMatchObject({ status: 'ignored' });
    r.gates.start.open();
    await r.bus.start();
    expect(r.bus.state).toBe('STARTED');
    expect(requests(r)).toEqual([]);
  });
});

describe('bus: requests while STARTED', () => {
  it('stop: STOPPING, stop steps, EXITING, persist once, exit 0', async () => {
    const r = await rigIn('STARTED');
    await r.bus.request('stop', 'signal');
    await r.clock.advance(0);
    expect(r.calls).toEqual(['start:a', 'start:listen', 'ready', 'stop', 'persist', 'exit']);
    expect(r.states()).toEqual(['STARTED', 'STOPPING', 'EXITING']);
    expect(r.exits).toEqual([0]);
    const order = r.events.map((e) => e.ev);
    expect(order.indexOf('request')).toBeLessThan(order.lastIndexOf('state'));
    expect(r.events.at(-1)).toMatchObject({ ev: 'exiting', code: 0 });
  });

  it('fast-stop: no graceful steps, abort, persist, exit 4', async () => {
    const r = await rigIn('STARTED');
    await r.bus.request('fast-stop', 'signal');
    await r.clock.advance(0);
    expect(r.calls.slice(3)).toEqual(['abort', 'persist', 'exit']);
    expect(r.exits).toEqual([4]);
  });

  it('reload: RELOADING then STARTED, outcome done', async () => {
    const r = await rigIn('STARTED');
    await expect(r.bus.request('reload', 'control')).resolves.toEqual({ status: 'done' });
    expect(r.states()).toEqual(['STARTED', 'RELOADING', 'STARTED']);
    expect(requests(r)).toEqual(['reload/control']);
  });

  it('restart: ignored, nothing changes', async () => {
    const r = await rigIn('STARTED');
    await expect(r.bus.request('restart', 'signal')).resolves.toEqual({
      status: 'ignored',
      reason: 'restart is not supported',
    });
    expect(r.bus.state).toBe('STARTED');
  });

  it('reopen-logs: runs, state unchanged', async () => {
    const r = await rigIn('STARTED');
    await expect(r.bus.request('reopen-logs', 'signal')).resolves.toEqual({ status: 'done' });
    expect(r.calls).toContain('reopen');
    expect(r.states()).toEqual(['STARTED']);
  });
});

describe('bus: requests while RELOADING', () => {
  it('stop dominates: STOPPING at once, the running reload ends without going back to STARTED', async () => {
    const r = await rigIn('RELOADING');
    await r.bus.request('stop', 'signal');
    expect(r.bus.state).toBe('STOPPING');
    r.gates.reload.open();
    await r.clock.advance(0);
    expect(r.states()).toEqual(['STARTED', 'RELOADING', 'STOPPING', 'EXITING']);
    expect(r.exits).toEqual([0]);
  });

  it('fast-stop: exit 4', async () => {
    const r = await rigIn('RELOADING');
    await r.bus.request('fast-stop', 'signal');
    r.gates.reload.open();
    await r.clock.advance(0);
    expect(r.exits).toEqual([4]);
  });

  it('reload storm: coalesced into exactly one follow-up; readiness holds throughout', async () => {
    const r = await rigIn('RELOADING');
    const storm = Array.from({ length: 10 }, () => r.bus.request('reload', 'signal'));
    await settle();
    expect(count(r.calls, 'reload')).toBe(1);
    expect(r.bus.ready).toBe(true);
    r.gates.reload.open();
    const outcomes = await Promise.all(storm);
    expect(outcomes.every((o) => o.status === 'done')).toBe(true);
    expect(count(r.calls, 'reload')).toBe(2);
    expect(r.states()).toEqual(['STARTED', 'RELOADING', 'STARTED']);
  });

  it('a follow-up reload is dropped when a stop arrives meanwhile', async () => {
    const r = await rigIn('RELOADING');
    const followUp = r.bus.request('reload', 'signal');
    void r.bus.request('stop', 'signal');
    r.gates.reload.open();
    await expect(followUp).resolves.toMatchObject({ status: 'ignored' });
    await r.clock.advance(0);
    expect(count(r.calls, 'reload')).toBe(1);
  });

  it('restart: ignored', async () => {
    const r = await rigIn('RELOADING');
    await expect(r.bus.request('restart', 'signal')).resolves.toMatchObject({ status: 'ignored' });
    expect(r.bus.state).toBe('RELOADING');
  });

  it('reopen-logs: runs beside the reload', async () => {
    const r = await rigIn('RELOADING');
    await expect(r.bus.request('reopen-logs', 'signal')).resolves.toEqual({ status: 'done' });
    expect(r.bus.state).toBe('RELOADING');
  });
});

describe('bus: requests while STOPPING', () => {
  it('stop again: ignored; one stop sequence, one persist', async () => {
    const r = await rigIn('STOPPING');
    await expect(r.bus.request('stop', 'signal')).resolves.toMatchObject({ status: 'ignored' });
    await expect(r.bus.request('stop', 'control')).resolves.toMatchObject({ status: 'ignored' });
    r.gates.stop.open();
    await r.clock.advance(0);
    expect(count(r.calls, 'stop')).toBe(1);
    expect(count(r.calls, 'persist')).toBe(1);
    expect(r.exits).toEqual([0]);
    expect(requests(r)).toEqual(['stop/signal']);
  });

  it('fast-stop escalates: the hung graceful step is abandoned, abort runs, exit 4', async () => {
    const r = await rigIn('STOPPING');
    await expect(r.bus.request('fast-stop', 'signal')).resolves.toEqual({ status: 'accepted' });
    await r.clock.advance(0);
    expect(r.calls.slice(-3)).toEqual(['abort', 'persist', 'exit']);
    expect(r.exits).toEqual([4]);
  });

  it('reload: ignored (a pending stop dominates)', async () => {
    const r = await rigIn('STOPPING');
    await expect(r.bus.request('reload', 'signal')).resolves.toEqual({
      status: 'ignored',
      reason: 'a stop is under way',
    });
    r.gates.stop.open();
    await r.clock.advance(0);
    expect(r.calls).not.toContain('reload');
    expect(r.exits).toEqual([0]);
  });

  it('restart: ignored', async () => {
    const r = await rigIn('STOPPING');
    await expect(r.bus.request('restart', 'signal')).resolves.toMatchObject({ status: 'ignored' });
  });

  it('reopen-logs: still runs (logs matter during a long drain)', async () => {
    const r = await rigIn('STOPPING');
    await expect(r.bus.request('reopen-logs', 'signal')).resolves.toEqual({ status: 'done' });
  });
});

describe('bus: requests while EXITING', () => {
  it.each(['stop', 'fast-stop', 'reload', 'restart', 'reopen-logs'] as Action[])('%s: ignored', async (action) => {
    const r = await rigIn('EXITING');
    await expect(r.bus.request(action, 'signal')).resolves.toMatchObject({ status: 'ignored' });
    r.gates.persist.open();
    await r.clock.advance(0);
    expect(r.exits).toEqual([0]);
    expect(r.calls).not.toContain('abort');
    expect(r.calls).not.toContain('reload');
    expect(r.calls).not.toContain('reopen');
  });
});

describe('bus: the stop deadline and broken subscribers', () => {
  it('the deadline cuts a hung drain: abort, persist, exit 3, at exactly graceMs', async () => {
    const r = await rigIn('STOPPING');
    await r.clock.advance(999);
    expect(r.exits).toEqual([]);
    expect(r.calls).not.toContain('abort');
    await r.clock.advance(1);
    expect(r.calls.slice(-3)).toEqual(['abort', 'persist', 'exit']);
    expect(r.exits).toEqual([3]);
  });

  it('a fast-stop after the deadline fired changes nothing (exit 3); a deadline after a fast-stop neither (exit 4)', async () => {
    const a = rig(['stop', 'persist']);
    await a.bus.start();
    void a.bus.request('stop', 'signal');
    await a.clock.advance(1000);
    await a.bus.request('fast-stop', 'signal');
    a.gates.persist.open();
    await a.clock.advance(0);
    expect(a.exits).toEqual([3]);

    const b = await rigIn('STOPPING');
    await b.bus.request('fast-stop', 'signal');
    await b.clock.advance(5000);
    expect(b.exits).toEqual([4]);
  });

  it('a throwing stop subscriber is logged; the next steps run; exit 0', async () => {
    const r = rig();
    r.bus.subscribe(
      'stop',
      'broken',
      () => {
        throw new Error('boom');
      },
      { order: 1 },
    );
    await r.bus.start();
    void r.bus.request('stop', 'app');
    await r.clock.advance(0);
    expect(r.calls).toContain('stop');
    expect(r.log.lines.some((l) => l.startsWith('error') && l.includes('broken') && l.includes('boom'))).toBe(true);
    expect(r.exits).toEqual([0]);
  });

  it('a hung subscriber is abandoned at its own deadline and the channel goes on', async () => {
    const r = rig();
    r.bus.subscribe('stop', 'hangs', () => new Promise(() => {}), { order: 1, deadlineMs: 200 });
    await r.bus.start();
    void r.bus.request('stop', 'app');
    await r.clock.advance(199);
    expect(r.calls).not.toContain('stop');
    await r.clock.advance(1);
    expect(r.calls).toContain('stop');
    expect(r.exits).toEqual([0]);
    expect(r.log.lines.some((l) => l.includes('hangs') && l.includes('deadline'))).toBe(true);
  });

  it('a hung persist subscriber cannot block the exit; a failed persist exits 5', async () => {
    const r = rig(['persist']);
    await r.bus.start();
    void r.bus.request('stop', 'app');
    await r.clock.advance(2999);
    expect(r.exits).toEqual([]);
    await r.clock.advance(1);
    expect(r.exits).toEqual([5]);
    expect(r.events.at(-1)).toMatchObject({ ev: 'exiting', code: 5 });
  });

  it('a failing start step is fatal: later steps skipped, persist runs, exit 1', async () => {
    const r = rig();
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
    expect(r.calls).not.toContain('start:listen');
    expect(r.calls).toContain('persist');
    expect(r.exits).toEqual([1]);
  });

  it('fail() while STARTED stops at once and exits 1', async () => {
    const r = await rigIn('STARTED');
    r.bus.fail(new Error('uncaught'));
    await r.clock.advance(0);
    expect(r.calls.slice(-3)).toEqual(['abort', 'persist', 'exit']);
    expect(r.exits).toEqual([1]);
  });

  it('exit is called exactly once, last, after the exit channel', async () => {
    const r = await rigIn('STARTED');
    void r.bus.request('stop', 'signal');
    void r.bus.request('fast-stop', 'signal');
    void r.bus.request('stop', 'control');
    await r.clock.advance(10_000);
    expect(r.exits).toHaveLength(1);
    expect(r.calls.at(-1)).toBe('exit');
  });

  it('state listeners see every transition synchronously; a throwing one is logged', async () => {
    const r = rig();
    const seen: string[] = [];
    r.bus.onState((to, from) => seen.push(`${from}->${to}`));
    r.bus.onState(() => {
      throw new Error('listener broke');
    });
    await r.bus.start();
    void r.bus.request('stop', 'signal');
    expect(seen).toEqual(['STARTING->STARTED', 'STARTED->STOPPING']);
    await r.clock.advance(0);
    expect(seen.at(-1)).toBe('STOPPING->EXITING');
    expect(r.log.lines.some((l) => l.includes('listener broke'))).toBe(true);
    expect(r.exits).toEqual([0]);
  });
});
