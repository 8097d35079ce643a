/**
 * Readiness checks from outside (subject-protocol.md section 3): a TCP connect or an HTTP GET on loopback.
 * Polled with a short retry interval until a deadline: each attempt observes the socket, nothing is
 * assumed from elapsed time.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { LOOPBACK } from './ports.js';

export const READY_RETRY_MS = 25;
const ATTEMPT_TIMEOUT_MS = 1_000;

/** One TCP connect attempt. */
export function tcpConnects(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = connect({ host: LOOPBACK, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolvePromise(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs); // absolute deadline
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** One HTTP GET attempt; true on 2xx. */
export function httpOk(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolvePromise(ok);
    };
    const req = request(
      { host: LOOPBACK, port, path, method: 'GET', agent: false, headers: { connection: 'close' } },
      (res) => {
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
        res.resume();
        done(ok);
      },
    );
    // absolute deadline (an idle timeout would let a server that trickles bytes hold the attempt forever)
    const timer = setTimeout(() => done(false), timeoutMs);
    req.once('error', () => done(false));
    req.once('close', () => done(false)); // after a response, done() already ran
    req.end();
  });
}

export type PollResult = 'ready' | 'timeout' | 'stopped';

/**
 * Retry `attempt` until it succeeds, `deadline` (ms since epoch, Date.now() clock) passes, or `stopped()`
 * turns true (the subject exited). `stop` resolves when polling should end early.
 */
export async function pollReady(
  attempt: (timeoutMs: number) => Promise<boolean>,
  deadline: number,
  stopped: () => boolean,
  stop: Promise<unknown>,
): Promise<PollResult> {
  const ac = new AbortController();
  const stopSignal = stop.then(() => 'stopped' as const);
  try {
    for (;;) {
      if (stopped()) return 'stopped';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      const r = await Promise.race([attempt(Math.min(ATTEMPT_TIMEOUT_MS, left)), stopSignal]);
      if (r === 'stopped' || stopped()) return 'stopped';
      if (r === true) return 'ready';
      const wait = Math.min(READY_RETRY_MS, deadline - Date.now());
      if (wait > 0) {
        const w = await Promise.race([delay(wait, 'retry' as const, { signal: ac.signal }), stopSignal]);
        if (w === 'stopped') return 'stopped';
      }
    }
  } finally {
    ac.abort();
  }
}
