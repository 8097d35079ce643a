/**
 * The HTTP side of the stop sequence, as bus subscribers (wired in `server.ts`):
 *
 * | channel | step             | what it does                                                        |
 * |---------|------------------|---------------------------------------------------------------------|
 * | (state) | stop requested   | readiness fails (`/ready` 503) and `Connection: close` starts, both driven by the bus state |
 * | stop    | `preDrainDelay`  | keeps accepting and serving for `SIGCERT_PREDRAIN_MS` (edge case E05) |
 * | stop    | `stopAccepting`  | closes the listeners (probe `stop-accepting`), ends idle connections with FIN, ends the CPU threads once idle |
 * | stop    | `drain`          | waits for requests and store writes in flight (probe `drained`)     |
 * | abort   | `abort`          | deadline or fast stop: closes the listeners if still open, destroys every connection, terminates CPU jobs, cancels FIFO reads (probe `drained {forced: true}`) |
 *
 * The stop deadline itself is the bus's timer on the main event loop, which stays free because CPU
 * work and blocking reads run elsewhere: nothing a request does can hold it up (edge case E12).
 */
import { type Clock, pause } from '../clock.js';
import type { CpuPool } from '../cpu/pool.js';
import type { DurableState } from '../durable.js';
import type { FifoReader } from '../fifo.js';
import type { Logger } from '../log.js';
import type { Probe, Trace } from '../probe.js';
import type { ConnectionTracker } from './connections.js';
import type { Listeners } from './listeners.js';

export interface DrainParts {
  listeners: Listeners;
  tracker: ConnectionTracker;
  cpu: CpuPool;
  fifo: FifoReader | undefined;
  durable: DurableState;
  probe: Probe;
  log: Logger;
  clock: Clock;
  predrainMs: number;
  /** Stop breakdown stamps (`SIGCERT_TRACE=1`). */
  trace?: Trace;
}

export class Drain {
  private drainedAnnounced = false;
  private acceptingStopped = false;

  constructor(private readonly p: DrainParts) {}

  /** Pre-drain delay: only when listeners are open (a stop during startup has nothing to delay). */
  preDrainDelay(signal: AbortSignal): Promise<void> | undefined {
    if (this.p.predrainMs <= 0 || !this.p.listeners.anyServiceOpen) return undefined;
    this.p.log.info(`pre-drain delay: accepting and serving for ${this.p.predrainMs} ms more`);
    return pause(this.p.clock, this.p.predrainMs, signal);
  }

  /**
   * Closes the service listeners, then ends every idle connection with FIN, then starts ending the
   * CPU threads (idle ones at once, busy ones after their job), so that their teardown runs in
   * parallel with the drain and `process.exit` has no thread left to join. The listeners go
   * first: every step before them delays the moment new connections are refused.
   */
  stopAccepting(): void {
    if (this.acceptingStopped) return;
    this.acceptingStopped = true;
    this.p.listeners.stopAccepting();
    this.p.probe.emit('stop-accepting', {});
    const idle = this.p.tracker.closeIdle();
    this.p.trace?.(`idle keep-alives ended (${idle})`);
    this.p.cpu.retire();
    this.p.log.info(
      `listeners closed; ${idle} idle connection(s) ended, ${this.p.tracker.requestsInFlight} request(s) in flight`,
    );
  }

  /** Waits until no request and no store write is in flight. */
  async drain(): Promise<void> {
    await this.p.tracker.whenIdle();
    await this.p.durable.whenIdle();
    this.announce(false, 0);
  }

  /** The deadline expired or a fast stop was asked for: end everything now. */
  abort(): void {
    this.stopAccepting();
    const aborted = this.p.tracker.destroyAll();
    const jobs = this.p.cpu.terminateAll();
    this.p.fifo?.cancelAll();
    this.p.log.warn(`aborted ${aborted} request(s) in flight (${jobs} CPU job(s) terminated)`);
    this.announce(true, aborted);
  }

  private announce(forced: boolean, aborted: number): void {
    if (this.drainedAnnounced) return;
    this.drainedAnnounced = true;
    this.p.probe.emit('drained', { forced, aborted });
  }
}
