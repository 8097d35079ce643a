/**
 * The real side of one fuzzed sequence: the running subject, the requests the commands started, the
 * acknowledged writes, the acknowledgements of the signals that started a stop or a reload. It
 * delivers signals (waiting for each acknowledgement) and runs the checks that follow every step.
 *
 * Synchronisation is always on observations with a deadline: the probe `signal` event of each
 * handled signal, the `state` event after a stop, response headers for a held request, the FIFO
 * writer's open for a blocked read. Nothing sleeps.
 */
import type { FileHandle } from 'node:fs/promises';
import type { HttpConnection, HttpResult } from '../clients/http.js';
import type { History } from '../history.js';
import { type ProbeEvent, type Subject, SubjectExitedError, WaitTimeoutError } from '../launch/index.js';
import type { Manifest } from '../types.js';
import { applySignal, checkTrace, type FuzzModel, lastState, type SignalOutcome } from './model.js';
import { Violation } from './violations.js';

/** Deadlines, in ms (before the timeout scale). */
export interface FuzzTimings {
  /** a handled signal's acknowledgement (probe `signal`) */
  ackMs: number;
  /** the STOPPING transition after a stop's acknowledgement */
  stopStateMs: number;
  /** a reload settles (STARTED again) */
  reloadMs: number;
  /** either outcome is accepted this close to the stop deadline */
  marginMs: number;
  /** what a request may take beyond its own duration */
  requestSlackMs: number;
  /** what the exit may take beyond the grace period */
  exitSlackMs: number;
}

export const DEFAULT_TIMINGS: Readonly<FuzzTimings> = Object.freeze({
  ackMs: 2000,
  stopStateMs: 1000,
  reloadMs: 10_000,
  marginMs: 500,
  requestSlackMs: 5000,
  exitSlackMs: 3000,
});

export function scaleTimings(t: FuzzTimings, scale: number): FuzzTimings {
  const s = (ms: number) => Math.round(ms * scale);
  return {
    ackMs: s(t.ackMs),
    stopStateMs: s(t.stopStateMs),
    reloadMs: s(t.reloadMs),
    marginMs: s(t.marginMs),
    requestSlackMs: s(t.requestSlackMs),
    exitSlackMs: s(t.exitSlackMs),
  };
}

export interface PendingRequest {
  id: number;
  kind: 'hold' | 'cpu' | 'put' | 'fifo';
  label: string;
  expectStatus: number;
  expectBody: string;
  key?: string;
  value?: string;
  /** provably in flight inside the subject from this instant (response headers, barrier, FIFO open) */
  inFlightNs: bigint;
  /** the earliest instant it can complete (-1n: never, a FIFO line not written yet) */
  needNs: bigint;
  conn: HttpConnection;
  done: Promise<HttpResult>;
  result?: HttpResult;
  settledNs?: bigint;
  /** judged: fine, or failed where the stop may excuse it (decided at the end) */
  verdict?: 'ok' | 'failed-after-stop';
  fifo?: { fh: FileHandle | null; line: string; writtenNs?: bigint };
}

const now = (): bigint => process.hrtime.bigint();

/** Probe states a running subject may report for each model lifecycle. */
const STATES_OF: Record<FuzzModel['lifecycle'], readonly string[]> = {
  STARTED: ['STARTED'],
  RELOADING: ['RELOADING', 'STARTED'],
  STOPPING: ['STOPPING', 'EXITING'],
  EXITED: ['STOPPING', 'EXITING'],
};

export class RealRun {
  readonly requests: PendingRequest[] = [];
  /** key -> value of every write acknowledged with 201 */
  readonly acked = new Map<string, string>();
  readonly stopAcks: bigint[] = [];
  readonly reloadAcks: bigint[] = [];
  stopNs: bigint | undefined;
  escalationNs: bigint | undefined;
  /** a fast-stop request was answered but not announced: whether (and when) it took effect is unknown */
  escalationUncertain = false;
  /** the commands run so far, in order */
  readonly executed: unknown[] = [];
  private nextId = 1;

  constructor(
    readonly manifest: Manifest,
    readonly subject: Subject,
    readonly history: History,
    readonly runDir: string,
    readonly timings: FuzzTimings,
    /** a tag unique to this sequence, part of written values */
    readonly tag: string,
  ) {}

  get port(): number {
    const p = this.subject.ports.http;
    if (p === undefined) throw new Error(`${this.manifest.name}: no http port`);
    return p;
  }

  newId(): number {
    return this.nextId++;
  }

  track(req: PendingRequest): PendingRequest {
    this.requests.push(req);
    void req.done.then((r) => {
      req.result = r;
      req.settledNs = now();
      req.conn.close();
    });
    return req;
  }

  /**
   * How long an acknowledgement may take: the grace period (LATENCY.WITHIN_GRACE: "acknowledged
   * within the grace period in every scenario"), and never less than `ackMs`.
   */
  get ackDeadline(): number {
    return Math.max(this.timings.ackMs, this.manifest.gracePeriodMs);
  }

  /** What was in flight, for a violation message. */
  blockedNote(): string {
    const open = this.requests.filter((q) => q.result === undefined).map((q) => q.label);
    return open.length === 0 ? '' : ` (in flight: ${open.join(', ')})`;
  }

  get lastReloadAck(): bigint | undefined {
    return this.reloadAcks[this.reloadAcks.length - 1];
  }

  /**
   * Deliver `sig` and update the model. Waits for the acknowledgement of a handled signal (so the
   * next signal cannot merge with it), and after a stop for the STOPPING transition. Returns null
   * when the subject had already exited (only allowed once a stop was requested).
   */
  async deliver(m: FuzzModel, sig: string): Promise<SignalOutcome | null> {
    const s = this.subject;
    const stoppedBefore = m.stop !== null;
    const wasReloading = m.lifecycle === 'RELOADING';
    let sentNs: bigint;
    try {
      if (s.exited) throw new SubjectExitedError('exited');
      sentNs = s.signal(sig as NodeJS.Signals);
    } catch (e) {
      if (!(e instanceof SubjectExitedError)) throw e;
      if (stoppedBefore) return null;
      throw this.unexpectedExit();
    }
    const o = applySignal(m, sig);
    let ackNs: bigint | undefined;
    if (o.needsAck) {
      try {
        const ack = await s.waitProbe(
          (e) => e.ev === 'signal' && e.sig === sig && stampOf(e) >= sentNs,
          this.ackDeadline,
          `acknowledgement of ${sig}`,
        );
        ackNs = stampOf(ack);
      } catch (e) {
        if (!(e instanceof WaitTimeoutError)) throw e;
        if (s.exited && stoppedBefore) return o; // it was already on its way out
        if (s.exited) throw this.unexpectedExit(sig);
        const stopping = o.effect === 'stop' || o.effect === 'fast-stop' || o.effect === 'escalate';
        throw new Violation(
          'no-ack',
          `the probe acknowledges ${sig} (a handled signal: ${o.why}) within ${this.ackDeadline} ms`,
          `no signal event for ${sig}${this.blockedNote()}`,
          stopping ? 'LATENCY.WITHIN_GRACE' : 'REPEAT.NO_LOSS',
        );
      }
    }
    const at = ackNs ?? sentNs;
    switch (o.effect) {
      case 'stop':
      case 'fast-stop':
        this.stopAcks.push(at);
        this.stopNs = at;
        await this.waitStopping(sig, at, wasReloading);
        break;
      case 'escalate':
        if (ackNs !== undefined) this.escalationNs = ackNs;
        break;
      case 'reload':
        this.reloadAcks.push(at);
        break;
      default:
        break;
    }
    return o;
  }

  /** Wait for STOPPING after a stop's acknowledgement; returns its stamp. */
  async waitStopping(sig: string, ackNs: bigint, wasReloading: boolean): Promise<bigint | undefined> {
    if (!this.manifest.capabilities.probe) return undefined;
    try {
      const e = await this.subject.waitProbe(
        (e) => e.ev === 'state' && e.state === 'STOPPING' && stampOf(e) >= ackNs,
        this.timings.stopStateMs,
        `STOPPING after ${sig}`,
      );
      return stampOf(e);
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      if (this.subject.exited) throw this.unexpectedExit(sig);
      const states = this.subject.probeEvents
        .filter((p) => p.ev === 'state' && stampOf(p) >= ackNs)
        .map((p) => String(p.state));
      throw new Violation(
        'stop-lost',
        `${sig} (acknowledged) starts a stop: STOPPING within ${this.timings.stopStateMs} ms`,
        `no STOPPING; ${wasReloading ? 'a reload was running; ' : ''}states since the acknowledgement: ${states.join(' → ') || 'none'}`,
        wasReloading ? 'REPEAT.STOP_DOMINATES' : 'REPEAT.NO_LOSS',
      );
    }
  }

  unexpectedExit(after?: string): Violation {
    const x = this.subject.exited;
    const how = x === null ? 'exited' : x.signal !== null ? `died by ${x.signal}` : `exited with code ${x.code}`;
    const detail = after === undefined ? '' : ` (after ${after})`;
    if (x?.signal) {
      return new Violation('killed-by-signal', 'no death by a signal while nothing asked for a stop', how + detail);
    }
    return new Violation('unexpected-exit', 'the subject keeps running until a stop is requested', how + detail);
  }

  /** The checks after every step: the probe trace, an exit nothing asked for, settled requests. */
  checkStep(m: FuzzModel): void {
    const v = checkTrace(this.subject.probeEvents, { stopAcks: this.stopAcks, reloadAcks: this.reloadAcks });
    if (v) throw v;
    if (this.subject.exited) {
      if (m.stop === null) throw this.unexpectedExit();
      m.lifecycle = 'EXITED';
    } else if (this.manifest.capabilities.probe) {
      const allowed = STATES_OF[m.lifecycle];
      const last = lastState(this.subject.probeEvents);
      if (!allowed.includes(last)) {
        throw new Violation(
          'state',
          `the state the model is in: ${allowed.join(' or ')}`,
          `the subject reports ${last}`,
        );
      }
    }
    for (const req of this.requests) if (req.result !== undefined && req.verdict === undefined) this.judge(req);
  }

  /** A settled request: fine, a violation now, or a failure only a stop may excuse (decided at the end). */
  private judge(req: PendingRequest): void {
    const r = req.result!;
    const body = r.body.toString('utf8');
    if (r.ok && r.status === req.expectStatus) {
      if (body.trimEnd() !== req.expectBody.trimEnd() && req.kind !== 'put') {
        throw new Violation(
          'in-flight-failed',
          `${req.label} answers ${JSON.stringify(req.expectBody)}`,
          `${r.status} ${JSON.stringify(body.slice(0, 80))}`,
        );
      }
      req.verdict = 'ok';
      if (req.kind === 'put' && req.key !== undefined && req.value !== undefined) this.acked.set(req.key, req.value);
      return;
    }
    if (r.ok && r.status !== undefined && r.status >= 200 && r.status < 300) {
      throw new Violation('in-flight-failed', `${req.label} → ${req.expectStatus}`, `${r.status}`);
    }
    const settled = req.settledNs ?? now();
    if (this.stopNs !== undefined && this.stopNs <= settled) {
      req.verdict = 'failed-after-stop';
      return;
    }
    const what = r.ok ? `status ${r.status}` : `${r.error} (${r.errorMessage ?? ''})`;
    const duringReload = this.reloadAcks.some((a) => a <= settled);
    throw new Violation(
      duringReload ? 'in-flight-failed' : 'request-failed',
      `${req.label} completes while the subject runs (no stop requested)`,
      what,
      duringReload ? 'RELOAD.IN_FLIGHT' : 'SIG.MAP.DECLARED',
    );
  }

  /**
   * Requests in flight when the stop was acknowledged, and the latest instant one of them can
   * complete. CPU work is counted as if it ran one request after the other (a subject may have a
   * single core or a single worker for it).
   */
  needAtStop(): bigint | null {
    const stop = this.stopNs;
    if (stop === undefined) return null;
    let need: bigint | null = null;
    let cpuStart: bigint | null = null;
    let cpuNs = 0n;
    for (const q of this.requests) {
      if (q.inFlightNs > stop || (q.settledNs !== undefined && q.settledNs < stop)) continue;
      if (q.kind === 'cpu') {
        cpuNs += q.needNs - q.inFlightNs;
        if (cpuStart === null || q.inFlightNs < cpuStart) cpuStart = q.inFlightNs;
        continue;
      }
      const n = q.kind === 'fifo' ? (q.fifo?.writtenNs ?? -1n) : q.needNs;
      if (n === -1n) return -1n;
      if (need === null || n > need) need = n;
    }
    if (cpuStart !== null && (need === null || cpuStart + cpuNs > need)) need = cpuStart + cpuNs;
    return need;
  }
}

export function stampOf(e: ProbeEvent): bigint {
  try {
    return BigInt(e.t);
  } catch {
    return 0n;
  }
}
