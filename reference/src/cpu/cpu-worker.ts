/**
 * The CPU worker thread: runs `/cpu` jobs off the main thread, so the main event loop stays free
 * to run signal listeners (a Node signal listener runs only when the main thread's JavaScript
 * stack is empty; a 1-second loop there would delay SIGTERM by up to a second, edge case E26).
 *
 * Protocol (see `pool.ts`): out `{ type: 'cpu-ready' }` once, when it listens; then in
 * `{ type: 'cpu', id, ms }`, out `{ type: 'cpu-done', id }`.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';

export interface CpuJobMessage {
  type: 'cpu';
  id: number;
  ms: number;
}

/** Sent once, when the script has run and listens for jobs. */
export interface CpuReadyMessage {
  type: 'cpu-ready';
}

export interface CpuDoneMessage {
  type: 'cpu-done';
  id: number;
  /** A checksum of the work, so it cannot be optimised away. */
  result: number;
}

/** Busy work for `ms` milliseconds of wall time. */
export function burn(ms: number): number {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  let x = 0x9e3779b9;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 1000; i++) x = (Math.imul(x, 0x85ebca6b) ^ (x >>> 13)) >>> 0;
  }
  return x;
}

/**
 * On Linux the nice value belongs to the thread, and `setPriority(19)` (pid 0: the caller) lowers
 * only this worker: the main thread, which runs signal listeners and I/O, then always wins the
 * CPU from CPU work. Elsewhere (macOS) it would lower the whole process, so it is Linux only.
 */
function lowerOwnPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(19);
  } catch {
    // not permitted: run at normal priority
  }
}

const port = parentPort;
if (port !== null) {
  if (process.env.SIGCERT_CPU_NICE !== '0') lowerOwnPriority();
  port.on('message', (msg: CpuJobMessage) => {
    if (msg?.type !== 'cpu') return;
    const done: CpuDoneMessage = { type: 'cpu-done', id: msg.id, result: burn(msg.ms) };
    port.postMessage(done);
  });
  const ready: CpuReadyMessage = { type: 'cpu-ready' };
  port.postMessage(ready);
}
