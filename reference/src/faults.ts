/**
 * Test-only faults (`SIGCERT_FAULT`, capability `faultInjection`) that prove the bus is robust
 * (requirement BUS.SUBSCRIBER_FAILURE): one extra `stop` subscriber, after the drain, that
 * throws or never finishes. The server must still persist and exit:
 *
 * - `stop-subscriber-throws`: the error is logged, the stop goes on; exit 0.
 * - `stop-subscriber-hangs`: the bus abandons it when the stop deadline expires; persist runs;
 *   exit 3 (the deadline expired).
 *
 * And one that proves the persist step waits for the writes in flight (DURABLE.INDEX_ON_STOP,
 * capability `slowStore`):
 *
 * - `slow-store`: the store writes one put at a time and acknowledges each `SLOW_STORE_MS` after it
 *   reached the log, as on a slow disk without group commit, so concurrent puts queue behind the one in
 *   flight and a stop always finds writes pending, one already in the log; the index it persists must
 *   still cover all of them.
 */
import type { Bus } from './bus.js';
import type { Fault } from './settings.js';

/** The extra time of each store batch under `slow-store`. */
export const SLOW_STORE_MS = 10;

/** The store's extra time per batch for `fault` (0 unless `slow-store`). */
export function storeDelayMs(fault: Fault | undefined): number {
  return fault === 'slow-store' ? SLOW_STORE_MS : 0;
}

export function injectFault(bus: Bus, fault: Fault | undefined): void {
  if (fault === 'stop-subscriber-throws') {
    bus.subscribe(
      'stop',
      'fault:throws',
      () => {
        throw new Error('injected fault: this stop subscriber throws');
      },
      { order: 90 },
    );
  } else if (fault === 'stop-subscriber-hangs') {
    bus.subscribe('stop', 'fault:hangs', () => new Promise<never>(() => {}), { order: 90 });
  }
}
