/**
 * The CPU pool's start and end: `warm()` resolves only once a worker's script runs (the server says
 * ready only then, issue 18: a thread still opening its event loop was counted by the leak check),
 * and `retire()` ends idle workers at once and busy ones when their job is done (a stop ends the
 * threads in parallel with its drain, so `process.exit` has none left to join).
 *
 * The worker script is a fixture that does no work and moves only when told (`gated-cpu-worker.mjs`):
 * every step below waits on an event, never on time.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuPool, PoolClosedError } from '../../reference/src/cpu/pool.js';

const GATED = new URL('./fixtures/gated-cpu-worker.mjs', import.meta.url);
const pools: CpuPool[] = [];

function gatedPool(size = 1): { pool: CpuPool; workers: Worker[]; online: (i: number) => Promise<void> } {
  const workers: Worker[] = [];
  const onlines: Promise<void>[] = [];
  const pool = new CpuPool({
    size,
    workerUrl: GATED,
    onWorker: (w) => {
      workers.push(w);
      onlines.push(new Promise((resolve) => w.once('online', () => resolve())));
    },
  });
  pools.push(pool);
  return { pool, workers, online: (i) => onlines[i]! };
}

/** Settles with 'pending' if `p` has not settled once the already-queued events ran. */
async function state(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  const marker = Symbol('pending');
  const first = await Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<typeof marker>((resolve) => setImmediate(() => resolve(marker))),
  ]);
  return first === marker ? 'pending' : first;
}

afterEach(async () => {
  for (const pool of pools.splice(0)) {
    pool.terminateAll();
    await pool.whenNoThreads();
  }
});

describe('CpuPool.warm()', () => {
  it('resolves only once the worker script runs, not when the thread is merely online', async () => {
    const { pool, workers, online } = gatedPool();
    const warm = pool.warm();
    await online(0); // the thread runs JavaScript, but its script has not said it is ready
    expect(await state(warm)).toBe('pending');
    workers[0]!.postMessage({ type: 'go' });
    await warm;
    expect(pool.threads).toBe(1);
    expect(pool.warm()).toBe(warm); // the same worker: no second thread
    expect(pool.threads).toBe(1);
  });

  it('rejects when the worker exits before it is ready', async () => {
    const { pool, workers, online } = gatedPool();
    const warm = pool.warm();
    await online(0);
    workers[0]!.postMessage({ type: 'exit' });
    await expect(warm).rejects.toThrow(/exited .* before it was ready/);
    await pool.whenNoThreads();
  });
});

describe('CpuPool.retire()', () => {
  it('ends an idle worker at once', async () => {
    const { pool, workers } = gatedPool();
    const warm = pool.warm();
    workers[0]!.postMessage({ type: 'go' });
    await warm;
    pool.retire();
    await pool.whenNoThreads();
    expect(pool.threads).toBe(0);
  });

  it('lets a running job finish, then ends its worker; a job that comes later still runs', async () => {
    const { pool, workers } = gatedPool();
    const warm = pool.warm();
    workers[0]!.postMessage({ type: 'go' });
    await warm;
    const job = pool.run(1000);
    pool.retire();
    expect(pool.threads).toBe(1); // busy: not terminated
    workers[0]!.postMessage({ type: 'finish' });
    await job;
    await pool.whenNoThreads();

    // A request in flight during the drain may still need a worker: it gets one, which ends after.
    const late = pool.run(0);
    await late;
    await pool.whenNoThreads();
    expect(workers).toHaveLength(2);
  });

  it('does not warm up after a retire; terminateAll still cuts running jobs', async () => {
    const { pool, workers } = gatedPool();
    pool.retire();
    await pool.warm();
    expect(workers).toHaveLength(0);
    const job = pool.run(1000);
    expect(pool.terminateAll()).toBe(1);
    await expect(job).rejects.toBeInstanceOf(PoolClosedError);
    await pool.whenNoThreads();
  });
});
