/**
 * Test helper: in-process fakes for the bus's injected dependencies (clock, exit, probe, log).
 */
import { Bus, type BusOptions } from '../../../reference/src/bus.js';
import type { Clock } from '../../../reference/src/clock.js';
import type { Logger } from '../../../reference/src/log.js';

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  private t = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = target;
    await settle();
  }
}

/** Lets every pending promise chain run (several macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  info(msg: string): void {
    this.lines.push(`info ${msg}`);
  }
  warn(msg: string): void {
    this.lines.push(`warn ${msg}`);
  }
  error(msg: string): void {
    this.lines.push(`error ${msg}`);
  }
}

/** A promise opened by hand: subscribers wait on it to hold the bus in a state. */
export class Gate {
  readonly opened: Promise<void>;
  open!: () => void;
  constructor() {
    this.opened = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }
}

export interface TestBus {
  bus: Bus;
  clock: FakeClock;
  exits: number[];
  events: Array<{ ev: string } & Record<string, unknown>>;
  log: MemoryLogger;
  /** Names of `state` events, e.g. ['STARTED', 'STOPPING', 'EXITING']. */
  states(): string[];
}

export function makeBus(opts: Partial<BusOptions> = {}): TestBus {
  const clock = new FakeClock();
  const exits: number[] = [];
  const events: Array<{ ev: string } & Record<string, unknown>> = [];
  const log = new MemoryLogger();
  const bus = new Bus({
    graceMs: 1000,
    clock,
    log,
    emit: (ev, fields) => events.push({ ev, ...fields }),
    exit: (code) => exits.push(code),
    ...opts,
  });
  return {
    bus,
    clock,
    exits,
    events,
    log,
    states: () => events.filter((e) => e.ev === 'state').map((e) => String(e.state)),
  };
}
