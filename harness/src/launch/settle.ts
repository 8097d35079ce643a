/**
 * Resource counts that do not race: a count is taken only once it has settled, i.e. the same value was
 * read in `samples` consecutive samples `intervalMs` apart. A transient socket, or a thread that is still
 * starting right after readiness, changes the count while it is being sampled and so delays the reading
 * until it stops changing (or the deadline passes: then `stable` is false and the last value is returned).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface SettleOptions {
  /** consecutive equal samples required; default 8 */
  samples?: number;
  /** between two samples; default 50 ms */
  intervalMs?: number;
  /** give up after this long; default 5,000 ms */
  withinMs?: number;
}

export interface Settled<T> {
  value: T;
  /** false when the value was still changing at the deadline */
  stable: boolean;
  /** how many samples were taken */
  samples: number;
  /** how long the sampling took, ms */
  ms: number;
}

/** Sample `read` until it returns the same value (by JSON) `samples` times in a row, or `withinMs` passes. */
export async function settle<T>(read: () => T | Promise<T>, opts: SettleOptions = {}): Promise<Settled<T>> {
  const need = opts.samples ?? 8;
  const interval = opts.intervalMs ?? 50;
  const started = Date.now();
  const deadline = started + (opts.withinMs ?? 5_000);
  let value = await read();
  let key = JSON.stringify(value);
  let same = 1;
  let taken = 1;
  while (same < need) {
    if (Date.now() >= deadline) return { value, stable: false, samples: taken, ms: Date.now() - started };
    await delay(interval); // the sampling interval of a bounded wait
    const next = await read();
    taken++;
    const k = JSON.stringify(next);
    same = k === key ? same + 1 : 1;
    value = next;
    key = k;
  }
  return { value, stable: true, samples: taken, ms: Date.now() - started };
}

/** Open file descriptors and threads of one Linux process (/proc), or null when it is gone. */
export function fdAndThreadCounts(pid: number): { fds: number; threads: number } | null {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
    return { fds, threads };
  } catch {
    return null;
  }
}
