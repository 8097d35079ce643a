/**
 * A small fixed-size pool of worker threads for `/cpu` jobs.
 *
 * Why our own and not piscina: it is ~100 lines, has no dependency, and the stop sequence needs
 * exactly two things a general pool hides: terminate the workers whose jobs outlive the stop
 * deadline (`terminateAll`), and give every worker to the bus bridge so a worker thread can ask
 * the process bus for an action (`onWorker`, see `../worker-bus-bridge.ts`).
 *
 * A job's AbortSignal (the client went away) terminates its worker; a new one is started on
 * demand. Workers are created lazily up to `size`; jobs beyond that queue. `warm()` starts the
 * first one ahead of any job and resolves once its script runs (the server says ready only then:
 * a thread still opening its event loop would be counted by a leak check as a new resource).
 *
 * At a stop, `retire()` ends the workers as early as possible and all at once: an idle worker is
 * terminated at once (its thread tears down in parallel with the rest of the stop), a busy one
 * as soon as its job is done. A job that still arrives (a request in flight during the drain)
 * gets a worker as before. So by the time the process exits no thread is left to be joined.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { CpuDoneMessage, CpuJobMessage, CpuReadyMessage } from './cpu-worker.js';

export class PoolClosedError extends Error {
  constructor(message = 'the CPU pool was terminated') {
    super(message);
    this.name = 'PoolClosedError';
  }
}

interface Job {
  id: number;
  ms: number;
  resolve: () => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  /** Its script has run (`cpu-ready`): it takes jobs and holds every resource it will hold. */
  ready: Promise<void>;
}

export interface CpuPoolOptions {
  size: number;
  /** The worker script (default: `cpu-worker.js` next to this file, `.ts` when run from source). */
  workerUrl?: URL;
  /** Called with each new worker (the bus bridge subscribes to its messages). */
  onWorker?: (worker: Worker) => void;
  /** Reports unexpected worker errors. */
  onError?: (err: Error) => void;
}

export class CpuPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  /** `retire()` was called: no warm-up, and a worker ends as soon as it has nothing to do. */
  private retiring = false;
  /** Threads started and not yet exited (including the ones being terminated). */
  private alive = 0;
  private goneWaiters: Array<() => void> = [];
  private readonly workerUrl: URL;

  constructor(private readonly opts: CpuPoolOptions) {
    this.workerUrl = opts.workerUrl ?? siblingScript('cpu-worker');
  }

  /** Jobs running or queued. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.job !== undefined).length;
  }

  /**
   * Starts one worker ahead of the first job (thread start-up takes some 20-40 ms). Resolves once
   * a worker's script runs; rejects if it exits or fails first.
   */
  warm(): Promise<void> {
    if (this.closed || this.retiring) return Promise.resolve();
    const slot = this.slots[0] ?? this.spawn();
    return slot.ready;
  }

  /**
   * The stop: idle workers are terminated now, busy ones when their job is done (jobs that still
   * come get a worker, which ends the same way). Idempotent.
   */
  retire(): void {
    this.retiring = true;
    for (const slot of [...this.slots]) if (slot.job === undefined) this.end(slot);
  }

  /** Worker threads started and not yet exited. */
  get threads(): number {
    return this.alive;
  }

  /** Resolves once no worker thread is alive. */
  whenNoThreads(): Promise<void> {
    if (this.alive === 0) return Promise.resolve();
    return new Promise((resolve) => this.goneWaiters.push(resolve));
  }

  /** Runs `ms` milliseconds of CPU work on a worker thread. */
  run(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    if (signal?.aborted) return Promise.reject(new PoolClosedError('aborted'));
    return new Promise<void>((resolve, reject) => {
      const job: Job = { id: this.nextId++, ms, resolve, reject, signal };
      signal?.addEventListener('abort', () => this.cancel(job), { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Terminates every worker; running and queued jobs reject. Returns how many jobs were cut. */
  terminateAll(): number {
    this.closed = true;
    let cut = 0;
    for (const job of this.queue.splice(0)) {
      job.reject(new PoolClosedError());
      cut++;
    }
    for (const slot of this.slots.splice(0)) {
      if (slot.job !== undefined) {
        slot.job.reject(new PoolClosedError());
        slot.job = undefined;
        cut++;
      }
      void slot.worker.terminate();
    }
    return cut;
  }

  /** Removes an idle worker from the pool and terminates its thread. */
  private end(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.worker.terminate();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined) {
        if (this.slots.length >= this.opts.size) return;
        slot = this.spawn();
      }
      const job = this.queue.shift()!;
      slot.job = job;
      const msg: CpuJobMessage = { type: 'cpu', id: job.id, ms: job.ms };
      slot.worker.postMessage(msg);
    }
  }

  private spawn(): Slot {
    const worker = startWorker(this.workerUrl);
    let online!: () => void;
    let failed!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      online = resolve;
      failed = reject;
    });
    ready.catch(() => {}); // observed by warm()'s caller when there is one
    const slot: Slot = { worker, job: undefined, ready };
    this.slots.push(slot);
    this.alive++;
    worker.on('message', (msg: CpuDoneMessage | CpuReadyMessage) => {
      if (msg?.type === 'cpu-ready') return online();
      if (msg?.type !== 'cpu-done' || slot.job?.id !== msg.id) return;
      const job = slot.job;
      slot.job = undefined;
      job.resolve();
      this.dispatch();
      if (this.retiring && slot.job === undefined) this.end(slot);
    });
    worker.on('error', (err) => {
      failed(err);
      this.opts.onError?.(err);
    });
    worker.on('exit', (code) => {
      failed(new Error(`the CPU worker exited (code ${code}) before it was ready`));
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (slot.job !== undefined) {
        slot.job.reject(new PoolClosedError('the CPU worker exited'));
        slot.job = undefined;
      }
      this.alive--;
      if (this.alive === 0) for (const wake of this.goneWaiters.splice(0)) wake();
      if (!this.closed) this.dispatch();
    });
    this.opts.onWorker?.(worker);
    return slot;
  }

  /** The client went away: drop the queued job, or stop its worker. */
  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(new PoolClosedError('aborted'));
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (slot === undefined) return;
    slot.job = undefined;
    job.reject(new PoolClosedError('aborted'));
    this.slots.splice(this.slots.indexOf(slot), 1);
    void slot.worker.terminate();
    this.dispatch();
  }
}

/**
 * A script next to this module: `name.js` when running compiled (dist/), `name.ts` when running
 * the TypeScript source (`node --import tsx reference/src/main.ts`).
 */
export function siblingScript(name: string, base: string = import.meta.url): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, base);
}

/**
 * Starts a worker thread on `script`. A `.ts` script means we run from source under tsx; Node 20
 * does not carry tsx's loader into worker threads (neither inherited nor via `execArgv`), so the
 * worker registers it itself before importing the script.
 */
export function startWorker(script: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!script.pathname.endsWith('.ts')) return new Worker(script, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
