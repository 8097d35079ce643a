/**
 * Time, injected. The bus and the stop sequence never call `setTimeout` or read the clock
 * directly: they take a `Clock`, so tests can drive time by hand (`test/reference/bus.test.ts`).
 */

export interface Clock {
  /** Milliseconds on a monotonic scale (only differences mean anything). */
  now(): number;
  /**
   * Calls `fn` once after `ms` milliseconds; returns a function that cancels it. Real timers are
   * ref'd on purpose: a pending deadline must keep the event loop alive (an empty loop would
   * end the process with status 0 and skip the persist step).
   */
  setTimer(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.setTimer(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
