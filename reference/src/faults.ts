/**
 * Test-only faults (`SIGCERT_FAULT`, capability `faultInjection`) that prove the bus is robust
 * (requirement BUS.SUBSCRIBER_FAILURE): one extra `stop` subscriber, after the drain, that
 * throws or never finishes. The server must still persist and exit:
 *
 * - `stop-subscriber-throws`: the error is logged, the stop goes on; exit 0.
 * - `stop-subscriber-hangs`: the bus abandons it when the stop deadline expires; persist runs;
 *   exit 3 (the deadline expired).
 */
import type { Bus } from './bus.js';
import type { Fault } from './settings.js';

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
