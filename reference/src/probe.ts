/**
 * The probe channel (subject protocol section 8): newline-delimited JSON events on the file
 * descriptor named by `SIGCERT_PROBE_FD`, written synchronously so an event is on its way to the
 * harness before the next line of our code runs. Logs never go here.
 *
 * Each event is `{ "ev": name, "t": monotonic ns as a decimal string, "pid": n, ...fields }`.
 * `t` comes from `process.hrtime.bigint()` (CLOCK_MONOTONIC on Linux), the clock the harness
 * reads before it calls `kill()`, so `signal.t - sendTime` is the handler latency.
 *
 * This module is imported by `signals.ts`, which runs before anything else: keep it tiny and
 * free of heavy imports.
 */
import { writeSync } from 'node:fs';

export type ProbeFields = Record<string, unknown>;

export interface Probe {
  /** True when events go somewhere (a probe fd was given and still works). */
  readonly enabled: boolean;
  /** Stamps now and writes the event. */
  emit(ev: string, fields?: ProbeFields): void;
  /** Writes an event with a stamp taken earlier (the signal handler stamps on entry). */
  emitAt(t: bigint, ev: string, fields?: ProbeFields): void;
  /** Writes anything still queued (only a non-blocking fd ever queues); call before exiting. */
  flushSync(): void;
}

/** A probe writing to `fd`. A full non-blocking pipe queues lines; a closed one disables the probe. */
export class FdProbe implements Probe {
  private backlog: Buffer[] = [];
  private broken = false;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly fd: number) {}

  get enabled(): boolean {
    return !this.broken;
  }

  emit(ev: string, fields?: ProbeFields): void {
    this.emitAt(process.hrtime.bigint(), ev, fields);
  }

  emitAt(t: bigint, ev: string, fields?: ProbeFields): void {
    if (this.broken) return;
    const line = `${JSON.stringify({ ev, t: t.toString(), pid: process.pid, ...fields })}\n`;
    const buf = Buffer.from(line);
    if (this.backlog.length > 0) {
      this.backlog.push(buf); // keep the order: never overtake queued lines
      return;
    }
    this.writeOut(buf);
  }

  flushSync(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const giveUpAt = performance.now() + 1000;
    while (this.backlog.length > 0 && !this.broken && performance.now() < giveUpAt) {
      this.writeOut(this.backlog.shift()!, true); // on EAGAIN the rest goes back to the front
    }
  }

  /** Writes `buf`; on EAGAIN queues the rest. Returns false when it queued (or gave up). */
  private writeOut(buf: Buffer, front = false): boolean {
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINTR') continue;
        if (code === 'EAGAIN') {
          const rest = buf.subarray(off);
          if (front) this.backlog.unshift(rest);
          else this.backlog.push(rest);
          this.scheduleFlush();
          return false;
        }
        // EPIPE, EBADF, ...: the harness went away. Probing is best effort; the server goes on.
        this.broken = true;
        this.backlog = [];
        return false;
      }
    }
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      while (this.backlog.length > 0 && !this.broken) {
        if (!this.writeOut(this.backlog.shift()!, true)) return; // queued again, timer re-armed
      }
    }, 1);
    this.flushTimer.unref();
  }
}

/**
 * Stamps for the stop breakdown: a `trace {step, phase, cpuUs}` event each, where `cpuUs` is the
 * process's CPU time so far (user + system, microseconds): unlike the wall clock it does not grow
 * while other processes hold the CPU, so a step's cost can be read on a busy machine too.
 */
export type Trace = (step: string, phase?: 'begin' | 'end') => void;

/** `SIGCERT_TRACE=1`: a trace that writes probe events; otherwise undefined (nothing is stamped). */
export function traceTo(probe: Probe, enabled: boolean): Trace | undefined {
  if (!enabled || !probe.enabled) return undefined;
  return (step, phase) => {
    const t = process.hrtime.bigint();
    const { user, system } = process.cpuUsage();
    probe.emitAt(t, 'trace', { step, ...(phase === undefined ? {} : { phase }), cpuUs: user + system });
  };
}

/** The probe when no fd was given: every call is a no-op. */
export const noProbe: Probe = {
  enabled: false,
  emit() {},
  emitAt() {},
  flushSync() {},
};

/** The probe named by `SIGCERT_PROBE_FD`, or `noProbe` when it is absent or not a descriptor number. */
export function probeFromEnv(env: NodeJS.ProcessEnv = process.env): Probe {
  const raw = env.SIGCERT_PROBE_FD;
  if (raw === undefined || !/^\d+$/.test(raw)) return noProbe;
  return new FdProbe(Number(raw));
}
