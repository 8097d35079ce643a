/**
 * The control channel (subject protocol section 10): an HTTP listener on loopback, port `admin`,
 * that turns authenticated requests into bus requests with source `control`. It gives the same
 * guarantees as the signals because it goes through the same bus (requirement
 * CONTROL.EQUIVALENT), and it is how a Windows service manager stops or reloads the server.
 *
 * Every request must carry `Authorization: Bearer <token>` (the scheme name in any case, RFC 7235
 * section 2.1); anything else gets 401 and changes nothing. The comparison hashes both sides and
 * compares the digests in constant time, so neither the token's content nor its length leaks
 * through timing.
 *
 * Refused requests are logged rate-limited, so a flood of bad tokens cannot flood the log: the
 * first refusal is logged at once, the ones after it are counted and logged as one line per
 * interval (`REFUSAL_LOG_INTERVAL_MS`, 10 s) while they continue, and once more when the
 * listener closes.
 *
 * | endpoint                     | answer                                                         |
 * |------------------------------|----------------------------------------------------------------|
 * | `POST /control/stop`         | 202 `{status}`                                                 |
 * | `POST /control/fast-stop`    | 202 `{status}`                                                 |
 * | `POST /control/reload`       | after the reload: 200 `{generation}` or 409 `{error}`          |
 * | `POST /control/restart`      | 202 `{status: "accepted"}` at once (the restart runs on: its   |
 * |                              | end is the probe `restart-done`); 409 `{error}` during a stop; |
 * |                              | 501 `{error}` when the server does not restart (one process)   |
 * | `POST /control/reopen-logs`  | after the reopen: 200 `{status}` (409 while exiting)           |
 * | `GET /control/state`         | 200 `{state}`                                                  |
 *
 * The listener stays open through the drain (a fast stop may still be asked for) and closes
 * with the process.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Action, Bus } from './bus.js';
import type { Clock } from './clock.js';
import type { ConfigStore } from './config.js';
import type { Logger } from './log.js';

export interface ControlOptions {
  bus: Bus;
  config: ConfigStore;
  token: string;
  log: Logger;
  /** time for the refusal log's interval; default: real time, with timers that never keep the process alive */
  clock?: Clock;
  /** default REFUSAL_LOG_INTERVAL_MS */
  refusalLogIntervalMs?: number;
}

/** Refused requests after the first are counted and logged once per this interval. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Real time whose timers do not hold the event loop open (a pending summary must not delay an exit). */
const unrefClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return () => clearTimeout(handle);
  },
};

/**
 * Rate-limited log of refused requests: the first of a burst is logged with its method and path,
 * the rest are counted, and each interval that saw refusals ends with one line giving the count.
 * An interval without refusals ends the burst (the next refusal is logged at once again).
 */
export class RefusalLog {
  private count = 0;
  private last = '';
  private cancel: (() => void) | null = null;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    readonly intervalMs: number = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  refused(what: string): void {
    if (this.cancel === null) {
      this.log.warn(
        `control ${what}: refused (missing or wrong token); further refusals are counted and logged every ${this.intervalMs / 1000} s`,
      );
      this.arm();
      return;
    }
    this.count++;
    this.last = what;
  }

  private arm(): void {
    this.cancel = this.clock.setTimer(this.intervalMs, () => {
      this.cancel = null;
      if (this.count > 0) {
        this.flush();
        this.arm(); // the burst goes on: keep counting for another interval
      }
    });
  }

  /** Log the count so far (if any) and start counting from zero. */
  flush(): void {
    if (this.count === 0) return;
    this.log.warn(
      `control: ${this.count} more request(s) refused in the last ${this.intervalMs / 1000} s (missing or wrong token; last: ${this.last})`,
    );
    this.count = 0;
  }

  /** The listener closed: log what is counted and stop the timer. */
  close(): void {
    this.cancel?.();
    this.cancel = null;
    this.flush();
  }
}

export function createControlServer(opts: ControlOptions): Server {
  const refusals = new RefusalLog(opts.log, opts.clock ?? unrefClock, opts.refusalLogIntervalMs);
  const server = createServer((req, res) => {
    handle(opts, refusals, req, res).catch((err: unknown) => {
      opts.log.error(`control ${req.method} ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) reply(res, 500, { error: 'internal error' });
    });
  });
  server.once('close', () => refusals.close());
  return server;
}

/** The credentials of a `Bearer` Authorization header (scheme case-insensitive), or '' for any other. */
export function bearerToken(header: string | undefined): string {
  const m = /^bearer +(\S+) *$/i.exec(header ?? '');
  return m?.[1] ?? '';
}

/** Constant-time check of an `Authorization` header against the token. */
export function authorized(header: string | undefined, token: string): boolean {
  const given = bearerToken(header);
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}

const POST_ACTIONS: Record<string, Action> = {
  '/control/stop': 'stop',
  '/control/fast-stop': 'fast-stop',
  '/control/reload': 'reload',
  '/control/restart': 'restart',
  '/control/reopen-logs': 'reopen-logs',
};

async function handle(
  opts: ControlOptions,
  refusals: RefusalLog,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  req.resume(); // no endpoint reads a body
  if (!authorized(req.headers.authorization, opts.token)) {
    refusals.refused(`${req.method} ${String(req.url).slice(0, 200)}`);
    res.setHeader('WWW-Authenticate', 'Bearer');
    return reply(res, 401, { error: 'unauthorized' });
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/control/state') {
    if (req.method !== 'GET') return notAllowed(res, 'GET');
    return reply(res, 200, { state: opts.bus.state });
  }
  const action = POST_ACTIONS[path];
  if (action === undefined) return reply(res, 404, { error: 'not found' });
  if (req.method !== 'POST') return notAllowed(res, 'POST');

  if (action === 'stop' || action === 'fast-stop') {
    // The answer goes out in a microtask of this tick; the stop cannot reach exit() before
    // that, since persisting the store takes file I/O first.
    const outcome = await opts.bus.request(action, 'control');
    return reply(res, 202, outcome);
  }
  if (action === 'restart') {
    // A restart lasts as long as the old generation's drain: answer once it is accepted, not done.
    if (!opts.bus.supports('restart')) return reply(res, 501, { error: 'restart is not supported' });
    if (opts.bus.stopRequested) return reply(res, 409, { error: 'a stop is under way' });
    void opts.bus.request('restart', 'control').then((outcome) => {
      if (outcome.status !== 'done') opts.log.warn(`control restart: ${JSON.stringify(outcome)}`);
    });
    return reply(res, 202, { status: 'accepted' });
  }
  const outcome = await opts.bus.request(action, 'control');
  if (outcome.status === 'done') {
    return reply(res, 200, action === 'reload' ? { generation: opts.config.current.generation } : outcome);
  }
  const error = outcome.status === 'failed' ? outcome.error : outcome.status === 'ignored' ? outcome.reason : '';
  return reply(res, 409, { error });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  reply(res, 405, { error: 'method not allowed' });
}
