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
 *
 * Only while a job runs: an idle worker gains nothing from nice 19, and its teardown at a stop
 * (which `process.exit` waits for) would then run at nice 19 too, starved for milliseconds on a
 * busy machine. Going back to nice 0 needs privilege (CAP_SYS_NICE or RLIMIT_NICE); without it
 * the worker stays at 19 after its first job, as it always did.
 */
const NICE = process.platform === 'linux' && process.env.SIGCERT_CPU_NICE !== '0';
let lowered = false;

function setOwnPriority(nice: number): boolean {
  try {
    setPriority(nice);
    return true;
  } catch {
    return false; // not permitted: keep the current priority
  }
}

const port = parentPort;
if (port !== null) {
  port.on('message', (msg: CpuJobMessage) => {
    if (msg?.type !== 'cpu') return;
    if (NICE && !lowered) lowered = setOwnPriority(19);
    const done: CpuDoneMessage = { type: 'cpu-done', id: msg.id, result: burn(msg.ms) };
    if (lowered && setOwnPriority(0)) lowered = false;
    port.postMessage(done);
  });
  const ready: CpuReadyMessage = { type: 'cpu-ready' };
  port.postMessage(ready);
}
