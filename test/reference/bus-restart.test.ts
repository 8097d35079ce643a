/**
 * The bus's restart rules, in-process (fake clock, fake exit): one restart at a time, requests made
 * meanwhile share one follow-up, a restart waits for a running reload, STARTING defers it, a stop
 * aborts it and drops what was waiting. The supervisor (`supervised/`) relies on them to keep at most
 * two generations alive.
 */
import { describe, expect, it } from 'vitest';
import type { ChannelContext } from '../../reference/src/bus.js';
import { Gate, makeBus, settle } from './helpers/fakes.js';

/** A bus whose restart subscriber waits for a gate per run; `runs` records each call's context. */
function restartRig() {
  const t = makeBus();
  const runs: ChannelContext[] = [];
  const gates: Gate[] = [];
  t.bus.subscribe('restart', 'generation', async (ctx) => {
    runs.push(ctx);
    const gate = new Gate();
    gates.push(gate);
    await gate.opened;
  });
  t.bus.subscribe('stop', 'noop', () => {});
  return { ...t, runs, gates };
}

const requests = (events: Array<{ ev: string } & Record<string, unknown>>) =>
  events.filter((e) => e.ev === 'request' && e.action === 'restart');

describe('bus: restart', () => {
  it('is supported only with a restart subscriber', () => {
    expect(makeBus().bus.supports('restart')).toBe(false);
    expect(restartRig().bus.supports('restart')).toBe(true);
    expect(makeBus().bus.supports('stop')).toBe(true);
  });

  it('runs one at a time; requests made meanwhile share exactly one follow-up', async () => {
    const r = restartRig();
    await r.bus.start();
    const first = r.bus.request('restart', 'signal');
    await settle();
    const second = r.bus.request('restart', 'control');
    const third = r.bus.request('restart', 'thread');
    await settle();
    expect(r.runs).toHaveLength(1);
    expect(requests(r.events).map((e) => e.coalesced ?? false)).toEqual([false, true, true]);
    r.gates[0]!.open();
    await expect(first).resolves.toEqual({ status: 'done' });
    await settle();
    expect(r.runs).toHaveLength(2); // the follow-up, once
    r.gates[1]!.open();
    await expect(Promise.all([second, third])).resolves.toEqual([{ status: 'done' }, { status: 'done' }]);
    await settle();
    expect(r.runs).toHaveLength(2);
    expect(r.states()).toEqual(['STARTED']); // a restart does not change the state
  });

  it('asked for while STARTING: deferred, carried out once after STARTED', async () => {
    const r = restartRig();
    const startGate = new Gate();
    r.bus.subscribe('start', 'slow', () => startGate.opened);
    void r.bus.start();
    const a = r.bus.request('restart', 'signal');
    const b = r.bus.request('restart', 'signal');
    await settle();
    expect(r.runs).toHaveLength(0);
    expect(requests(r.events).every((e) => e.deferred === true)).toBe(true);
    startGate.open();
    await settle();
    expect(r.runs).toHaveLength(1);
    r.gates[0]!.open();
    await expect(Promise.all([a, b])).resolves.toEqual([{ status: 'done' }, { status: 'done' }]);
  });

  it('a stop during STARTING drops a deferred restart', async () => {
    const r = restartRig();
    const startGate = new Gate();
    r.bus.subscribe('start', 'slow', (ctx) =>
      Promise.race([startGate.opened, new Promise((res) => ctx.signal.addEventListener('abort', res))]),
    );
    void r.bus.start();
    const deferred = r.bus.request('restart', 'signal');
    await settle();
    r.bus.request('stop', 'signal');
    await expect(deferred).resolves.toEqual({ status: 'ignored', reason: 'a stop is under way' });
    await r.clock.advance(0);
    expect(r.runs).toHaveLength(0);
  });

  it('waits for a running reload to end', async () => {
    const r = restartRig();
    const reloadGate = new Gate();
    let reloading = false;
    r.bus.subscribe('reload', 'slow', async () => {
      reloading = true;
      await reloadGate.opened;
      reloading = false;
    });
    await r.bus.start();
    const reload = r.bus.request('reload', 'signal');
    await settle();
    const restart = r.bus.request('restart', 'signal');
    await settle();
    expect(reloading).toBe(true);
    expect(r.runs).toHaveLength(0);
    reloadGate.open();
    await reload;
    await settle();
    expect(r.runs).toHaveLength(1);
    r.gates[0]!.open();
    await expect(restart).resolves.toEqual({ status: 'done' });
  });

  it('a stop aborts the running restart, drops its follow-up and ignores later requests', async () => {
    const r = restartRig();
    await r.bus.start();
    const first = r.bus.request('restart', 'signal');
    await settle();
    const followUp = r.bus.request('restart', 'signal');
    expect(r.runs[0]?.signal.aborted).toBe(false);
    r.bus.request('stop', 'signal');
    expect(r.runs[0]?.signal.aborted).toBe(true);
    await expect(r.bus.request('restart', 'control')).resolves.toEqual({
      status: 'ignored',
      reason: 'a stop is under way',
    });
    r.gates[0]!.open();
    await expect(first).resolves.toEqual({ status: 'done' });
    await expect(followUp).resolves.toEqual({ status: 'ignored', reason: 'a stop is under way' });
    expect(r.runs).toHaveLength(1);
    await r.clock.advance(0);
    expect(r.exits).toEqual([0]);
  });

  it('a failing restart subscriber fails the restart and leaves the bus serving', async () => {
    const t = makeBus();
    t.bus.subscribe('restart', 'broken', () => {
      throw new Error('the new generation did not start');
    });
    await t.bus.start();
    await expect(t.bus.request('restart', 'signal')).resolves.toEqual({
      status: 'failed',
      error: 'the new generation did not start',
    });
    expect(t.bus.state).toBe('STARTED');
  });
});
