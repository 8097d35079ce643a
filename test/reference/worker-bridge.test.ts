/**
 * A worker thread asks the process bus for an action by message (it never sees signals and never
 * owns the exit): the main thread forwards it with source `thread`.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../reference/src/bus.js';
import { bridgeWorkerToBus, isBusRequestMessage } from '../../reference/src/worker-bus-bridge.js';
import { makeBus } from './helpers/fakes.js';

/** A worker that posts `messages` and then exits. */
function workerPosting(messages: unknown[]): Worker {
  const code = `
    const { parentPort } = require('node:worker_threads');
    for (const m of ${JSON.stringify(messages)}) parentPort.postMessage(m);
  `;
  return new Worker(code, { eval: true });
}

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

describe('worker thread -> bus requests', () => {
  it('recognises only well-formed bus requests', () => {
    expect(isBusRequestMessage({ type: 'bus-request', action: 'reload' })).toBe(true);
    expect(isBusRequestMessage({ type: 'bus-request', action: 'explode' })).toBe(false);
    expect(isBusRequestMessage({ type: 'cpu-done', id: 1 })).toBe(false);
    expect(isBusRequestMessage(null)).toBe(false);
  });

  it('forwards a reload with source `thread`; malformed messages are reported and ignored', async () => {
    const seen: Array<[Action, string]> = [];
    const warnings: string[] = [];
    const worker = workerPosting([
      { type: 'bus-request', action: 'reload' },
      { type: 'bus-request', action: 'format-disk' },
      { type: 'something-else' },
    ]);
    bridgeWorkerToBus(worker, { request: (action, source) => seen.push([action, source]) }, (m) => warnings.push(m));
    await exited(worker);
    expect(seen).toEqual([['reload', 'thread']]);
    expect(warnings).toHaveLength(1);
  });

  it('through a real bus: the reload runs and the request is announced with source `thread`', async () => {
    const t = makeBus();
    let reloads = 0;
    t.bus.subscribe('reload', 'config', () => {
      reloads++;
    });
    await t.bus.start();
    const worker = workerPosting([{ type: 'bus-request', action: 'reload' }]);
    bridgeWorkerToBus(worker, t.bus);
    await exited(worker);
    await t.clock.advance(0);
    expect(reloads).toBe(1);
    expect(t.events.filter((e) => e.ev === 'request')).toEqual([{ ev: 'request', action: 'reload', source: 'thread' }]);
    expect(t.states()).toEqual(['STARTED', 'RELOADING', 'STARTED']);
  });
});
