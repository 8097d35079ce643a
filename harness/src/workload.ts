/**
 * Run-side building blocks shared by cases: start a held request and know when it is in flight, stop
 * the subject with its declared signal, wait for its exit with a deadline. They record observations;
 * they never judge.
 */
import { type CaseContext, SubjectFaultError, signalFor } from './case.js';
import { HttpConnection, type HttpResult, type RequestOptions, request } from './clients/http.js';
import { connectProbe } from './clients/probe-connect.js';
import { connectTls, type TlsConn } from './clients/tls.js';
import type { RequirementId } from './grade/requirement-ids.js';
import { type Subject, WaitTimeoutError } from './launch/index.js';
import type { Action, Manifest, Platform } from './types.js';

/** Record a client result for the grader (body kept as length and text when short). */
export function recordResult(ctx: CaseContext, r: HttpResult, extra: Record<string, unknown> = {}): void {
  ctx.note('result', {
    label: r.label,
    ok: r.ok,
    status: r.status,
    error: r.error,
    errorMessage: r.errorMessage,
    connection: r.headers.connection,
    bytes: r.body.length,
    body: r.body.length <= 256 ? r.body.toString('latin1') : undefined,
    sentNs: r.sentNs,
    headersNs: r.headersNs,
    doneNs: r.doneNs,
    reused: r.reused,
    askedClose: r.askedClose,
    ...extra,
  });
}

export interface InFlight {
  conn: HttpConnection;
  /** settles with the full response (or the failure) */
  done: Promise<HttpResult>;
}

/**
 * Start a request whose response headers arrive before its body (GET /hold, GET /cpu, GET /fifo),
 * and resolve once the headers are in: the request is then provably in flight inside the subject.
 */
export async function startHeld(
  ctx: CaseContext,
  s: Subject,
  opts: RequestOptions & { port?: string },
): Promise<InFlight> {
  const conn = await HttpConnection.open(s.ports[opts.port ?? 'http']!, { history: ctx.history, label: opts.label });
  let onHeaders!: () => void;
  const headers = new Promise<void>((r) => {
    onHeaders = r;
  });
  const done = conn.request({ timeoutMs: ctx.ms(15_000), ...opts, onHeaders: () => onHeaders() });
  const first = await Promise.race([headers.then(() => 'headers' as const), done.then(() => 'done' as const)]);
  if (first === 'done') {
    const r = await done;
    if (!r.ok)
      throw new SubjectFaultError(
        `failed the request ${opts.path} before any signal: ${r.error} ${r.errorMessage ?? ''}`.trim(),
      );
  }
  return { conn, done };
}

/** Start a request that sends headers at once, on a fresh keep-alive connection, without waiting. */
export function http(ctx: CaseContext, s: Subject, opts: RequestOptions & { port?: string }): Promise<HttpResult> {
  return request(s.ports[opts.port ?? 'http']!, { timeoutMs: ctx.ms(10_000), ...opts, history: ctx.history });
}

/** Send the signal the declared map gives for `action`. */
export function sendAction(
  ctx: CaseContext,
  s: Subject,
  action: Action,
  opts: { group?: boolean } = {},
): NodeJS.Signals {
  const sig = signalFor(ctx.manifest, action);
  if (!sig) throw new Error(`the declared signal map has no signal for ${action}`);
  s.signal(sig, opts);
  return sig;
}

/**
 * Why a graceful stop cannot be asked for when the subject is graded as `platform`, or null: on win32
 * it goes through the control channel (Windows has no POSIX signals), elsewhere through the signal the
 * declared map gives `stop`.
 */
export function noStopRoute(m: Manifest, platform: Platform): string | null {
  if (platform === 'win32') {
    return m.capabilities.controlChannel
      ? null
      : 'on Windows a stop is asked for on the control channel, which the subject does not declare (capability controlChannel)';
  }
  return signalFor(m, 'stop') ? null : 'the declared signal map has no signal for stop';
}

/**
 * Ask for a graceful stop the way the platform graded allows (noStopRoute): `POST /control/stop` when
 * the subject is graded as win32, else the declared stop signal. Returns the stamp taken just before.
 */
export async function requestStop(ctx: CaseContext, s: Subject): Promise<bigint> {
  if (s.platform !== 'win32') return s.signal(signalFor(ctx.manifest, 'stop')!);
  const t = process.hrtime.bigint();
  ctx.note('control-sent', { action: 'stop' });
  const r = await request(s.ports.admin!, {
    method: 'POST',
    path: '/control/stop',
    headers: { authorization: `Bearer ${s.token}` },
    label: 'control-stop',
    timeoutMs: ctx.ms(5000),
    history: ctx.history,
  });
  recordResult(ctx, r, { control: 'stop' });
  return t;
}

/**
 * Wait for the subject's acknowledgement of a signal: with a probe, its `signal` event; without one,
 * nothing can be observed from inside, so this resolves false at once and callers fall back to an
 * external observation.
 */
export async function waitAck(
  ctx: CaseContext,
  s: Subject,
  sig: string,
  afterNs: bigint,
  timeoutMs: number,
): Promise<boolean> {
  if (!ctx.manifest.capabilities.probe) return false;
  try {
    await s.waitProbe(
      (e) => e.ev === 'signal' && e.sig === sig && BigInt(e.t) >= afterNs,
      ctx.ms(timeoutMs),
      `ack of ${sig}`,
    );
    return true;
  } catch (e) {
    if (e instanceof WaitTimeoutError) {
      ctx.note('ack-timeout', { sig, timeoutMs });
      return false;
    }
    throw e;
  }
}

/** Wait for the subject to exit; records a `no-exit` note when the deadline passes. */
export async function waitExit(ctx: CaseContext, s: Subject, timeoutMs: number): Promise<boolean> {
  try {
    await s.waitExit(ctx.ms(timeoutMs));
    return true;
  } catch (e) {
    if (e instanceof WaitTimeoutError) {
      ctx.note('no-exit', { launch: s.launchIndex, timeoutMs });
      return false;
    }
    throw e;
  }
}

/** The longest a graceful stop may take: the declared grace period plus scheduling slack. */
export function stopBudget(ctx: CaseContext): number {
  return ctx.manifest.gracePeriodMs + ctx.manifest.preDrainDelayMs + 2000;
}

/**
 * Black-box acknowledgement: poll new connections until one is refused (the listener closed) or the
 * deadline passes. Bounded: at most one attempt per 5 ms, and only while the subject runs.
 */
export async function waitRefused(ctx: CaseContext, s: Subject, timeoutMs: number, port = 'http'): Promise<boolean> {
  const deadline = Date.now() + ctx.ms(timeoutMs);
  while (Date.now() < deadline && !s.exited) {
    const r = await connectProbe(s.ports[port]!, {
      history: ctx.history,
      path: '/',
      timeoutMs: 1000,
      label: 'ack-probe',
    });
    if (r.outcome === 'refused') return true;
    await new Promise((res) => setTimeout(res, 5));
  }
  return false;
}

/** After a response on a busy connection: note whether the subject closed the connection. */
export async function noteClosedAfter(
  ctx: CaseContext,
  conn: HttpConnection,
  label: string,
  timeoutMs = 1500,
): Promise<void> {
  const how = await conn.waitClosed(ctx.ms(timeoutMs));
  ctx.note('conn-after', { label, how });
}

/**
 * Wait for the outcome of a reload that started after `sinceNs` (probe `reload-done` or
 * `reload-failed`). `strict`: a missing outcome is an error; otherwise it is noted
 * (`no-reload-outcome`) and false comes back.
 */
export async function waitReloadOutcome(
  ctx: CaseContext,
  s: Subject,
  sinceNs: bigint,
  what: string,
  opts: { strict?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  const wait = s.waitProbe(
    (e) => (e.ev === 'reload-done' || e.ev === 'reload-failed') && BigInt(e.t) >= sinceNs,
    ctx.ms(opts.timeoutMs ?? 3000),
    what,
  );
  if (opts.strict) {
    await wait;
    return true;
  }
  return wait.then(
    () => true,
    () => {
      ctx.note('no-reload-outcome', { what });
      return false;
    },
  );
}

/**
 * Send the declared reload signal and wait until it was acknowledged and (with a probe) the reload
 * finished, so a signal sent next cannot merge with it. Returns the send stamp, or null when the map
 * has no reload signal.
 */
export async function reloadAndWait(ctx: CaseContext, s: Subject): Promise<bigint | null> {
  const sig = signalFor(ctx.manifest, 'reload');
  if (!sig) return null;
  const t = s.signal(sig);
  await waitAck(ctx, s, sig, t, 2000);
  if (ctx.manifest.capabilities.probe) await waitReloadOutcome(ctx, s, t, 'reload');
  return t;
}

/** How often the connect prober starts a new attempt: an accept-then-drop window longer than this is seen. */
export const PROBE_CADENCE_MS = 10;

/**
 * New connection attempts at a fixed cadence, each on its own (a slow one never delays the next), from
 * now until stop() or the subject's exit; bounded to `max` attempts and `maxMs`. Every attempt is a
 * `late-connect` note with its start stamp and what happened (refused, served, reset, eof, timeout);
 * grade/listener.ts judges them.
 */
export function startConnectProber(
  ctx: CaseContext,
  s: Subject,
  opts: { port?: string; max?: number; maxMs: number },
): { ended: Promise<void>; stop(): Promise<void> } {
  const port = s.ports[opts.port ?? 'http']!;
  const max = opts.max ?? 400;
  const until = Date.now() + ctx.ms(opts.maxMs);
  const pending: Promise<void>[] = [];
  ctx.note('prober', { cadenceMs: PROBE_CADENCE_MS, max });
  let i = 0;
  const fire = () => {
    const n = i++;
    const startNs = process.hrtime.bigint().toString();
    pending.push(
      connectProbe(port, { history: ctx.history, path: '/', timeoutMs: ctx.ms(2000), label: `late-${n}` }).then((r) => {
        ctx.note('late-connect', { i: n, outcome: r.outcome, status: r.status, startNs });
      }),
    );
  };
  fire();
  let timer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const ended = new Promise<void>((resolve) => {
    done = resolve;
  });
  const end = () => {
    clearInterval(timer);
    done();
  };
  timer = setInterval(() => {
    if (s.exited || i >= max || Date.now() > until) end();
    else fire();
  }, PROBE_CADENCE_MS);
  return {
    /** resolves when the prober stops on its own (the subject exited, or a bound was reached) */
    ended,
    /** stop now and wait for every attempt in flight to settle */
    async stop() {
      end();
      await Promise.all(pending);
    },
  };
}

/**
 * A bounded poll of something the harness can only look at (a file, a directory): `look()` every
 * `intervalMs` until it returns a value other than null/undefined, or null once `withinMs` has passed.
 * For what the subject announces (probe events, exits) wait on the event instead.
 */
export async function pollUntil<T>(
  look: () => T | null | undefined,
  withinMs: number,
  intervalMs: number,
): Promise<T | null> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const seen = look();
    if (seen !== null && seen !== undefined) return seen;
    if (Date.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, intervalMs)); // the poll interval of a bounded look
  }
}

/**
 * A TLS handshake on the subject's tls port that the case needs to go on (with a certificate the case
 * wrote into the configuration), and optionally a first GET on it. A handshake or a GET the subject fails
 * is its fault, graded under `requirement` (SubjectFaultError), not a harness error.
 */
export async function tlsHandshake(
  port: number,
  requirement: RequirementId,
  what: string,
  get?: string,
): Promise<{ conn: TlsConn; status: string | null }> {
  let conn: TlsConn;
  try {
    conn = await connectTls(port);
  } catch (e) {
    throw new SubjectFaultError(`failed the TLS handshake ${what}: ${(e as Error).message}`, requirement);
  }
  if (get === undefined) return { conn, status: null };
  try {
    return { conn, status: await conn.get(get) };
  } catch (e) {
    conn.socket.destroy();
    throw new SubjectFaultError(`did not answer GET ${get} over TLS ${what}: ${(e as Error).message}`, requirement);
  }
}

/** A bounded load of `/live` requests on the http port, some on one new connection each, some kept alive. */
export interface RestartLoad {
  /** Settles once every client has had its first answer (or failed it). */
  underWay: Promise<void>;
  /** Ends every client after its current request and waits for them. */
  stop(): Promise<void>;
}

/**
 * Start `fresh` clients that open one connection per request (label "load") and `keepAlive` clients
 * that reuse one connection until it fails or is answered with `Connection: close` (label
 * "keepalive"). Each client sends at most `maxRequests`; with `untilExit` it also stops once the
 * subject has exited. Every attempt is recorded by the client; the grader counts them.
 */
export function startRestartLoad(
  ctx: CaseContext,
  s: Subject,
  opts: { fresh: number; keepAlive: number; maxRequests: number; untilExit?: boolean },
): RestartLoad {
  const port = s.ports.http!;
  let stopped = false;
  const going = () => !stopped && !(opts.untilExit && s.exited);
  let first = 0;
  let allGoing!: () => void;
  const underWay = new Promise<void>((resolve) => {
    allGoing = resolve;
  });
  const firstDone = () => {
    if (++first === opts.fresh + opts.keepAlive) allGoing();
  };
  const fresh = async () => {
    for (let i = 0; i < opts.maxRequests && going(); i++) {
      await request(port, { path: '/live', label: 'load', timeoutMs: ctx.ms(5000), history: ctx.history });
      if (i === 0) firstDone();
    }
  };
  const keepAlive = async () => {
    let conn: HttpConnection | undefined;
    for (let i = 0; i < opts.maxRequests && going(); i++) {
      if (conn === undefined || conn.isClosed) {
        conn?.close();
        try {
          conn = await HttpConnection.open(port, { label: 'keepalive', history: ctx.history });
        } catch {
          conn = undefined; // recorded by the client as a failed connect
          continue;
        }
      }
      const r = await conn.request({ path: '/live', label: 'keepalive', timeoutMs: ctx.ms(5000) });
      if (!r.ok || r.headers.connection?.toLowerCase() === 'close') {
        conn.close();
        conn = undefined;
      }
      if (i === 0) firstDone();
    }
    conn?.close();
  };
  const clients = [
    ...Array.from({ length: opts.fresh }, () => fresh()),
    ...Array.from({ length: opts.keepAlive }, () => keepAlive()),
  ];
  return {
    underWay,
    async stop() {
      stopped = true;
      await Promise.all(clients);
    },
  };
}
