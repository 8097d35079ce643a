/**
 * Connection tracking for the graceful stop. Node's `server.close()` alone does not drain
 * keep-alive clients (edge cases E07, E08): a connection with a request in flight keeps
 * `Connection: keep-alive` and can carry further requests indefinitely. So we track every
 * connection and every response ourselves:
 *
 * - From the stop request on (`beginStop`), every response whose headers are not written yet
 *   gets `Connection: close`, and Node closes its connection after it. A response whose headers
 *   already left (a flushed `/hold`) cannot change them; its connection is ended right after it.
 * - At drain start (`closeIdle`), connections with no request in flight are ended with FIN
 *   (`socket.end()`), not reset: `destroy()` would RST a connection whose next request is
 *   already on the wire (edge case E09).
 * - `whenIdle()` resolves when no request is in flight; `destroyAll()` is the deadline's hammer.
 *
 * A worker process of an old generation (a restart, `supervised/worker.ts`) drains differently from
 * a stop in one respect: `closeIdleAfter(ms)` gives each idle keep-alive connection `ms` to carry
 * one more request (answered with `Connection: close`) before it is ended with FIN. A client that
 * keeps its connection busy then never races our FIN with its next request, which the stop's
 * immediate `closeIdle()` accepts (the new generation is already serving; a refused or reset
 * request would be downtime). `whenNoConnections()` tells when the last connection has gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

interface Tracked {
  /** Requests on this connection whose response is not finished (pipelining allows several). */
  active: number;
}

export class ConnectionTracker {
  private readonly connections = new Map<Socket, Tracked>();
  private readonly responses = new Set<ServerResponse>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private goneWaiters: Array<() => void> = [];
  private stopping = false;

  /**
   * Tracks the connections of `server`. For HTTPS pass `secureConnection`: the request's socket
   * is then the TLS socket (TCP connections still in the handshake die with the process).
   */
  track(server: Server, event: 'connection' | 'secureConnection' = 'connection'): void {
    server.on(event, (socket: Socket) => {
      this.connections.set(socket, { active: 0 });
      socket.once('close', () => this.forget(socket));
    });
  }

  /** Number of requests whose response is not finished. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Call first for every request. */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    let tracked = this.connections.get(socket);
    if (tracked === undefined) {
      tracked = { active: 0 };
      this.connections.set(socket, tracked);
      socket.once('close', () => this.forget(socket));
    }
    const conn = tracked;
    conn.active++;
    this.inFlight++;
    this.responses.add(res);
    if (this.stopping) res.setHeader('Connection', 'close');
    res.once('close', () => {
      conn.active--;
      this.inFlight--;
      this.responses.delete(res);
      // A response that went out as keep-alive before the stop: do not reuse its connection.
      if (this.stopping && conn.active === 0 && !socket.destroyed) socket.end();
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** The stop was requested: `Connection: close` on every response not yet started. */
  beginStop(): void {
    this.stopping = true;
    for (const res of this.responses) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
    }
  }

  /** The drain starts: end every connection with no request in flight (FIN). Returns how many. */
  closeIdle(): number {
    this.beginStop();
    let n = 0;
    for (const [socket, conn] of this.connections) {
      if (conn.active === 0 && !socket.destroyed) {
        socket.end();
        n++;
      }
    }
    return n;
  }

  /**
   * Retirement: `Connection: close` from now on, and every connection idle now is ended with FIN
   * once it has stayed idle for `ms` more (a request in between is answered, then its connection
   * ends). Returns how many connections were idle.
   */
  closeIdleAfter(ms: number): number {
    this.beginStop();
    let n = 0;
    for (const [socket, conn] of this.connections) {
      if (conn.active !== 0 || socket.destroyed) continue;
      n++;
      const timer = setTimeout(() => {
        if (conn.active === 0 && !socket.destroyed) socket.end();
      }, ms);
      socket.once('close', () => clearTimeout(timer));
    }
    return n;
  }

  /** Resolves when no connection is left. */
  whenNoConnections(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.goneWaiters.push(resolve));
  }

  /** Resolves when no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private forget(socket: Socket): void {
    this.connections.delete(socket);
    if (this.connections.size === 0) for (const wake of this.goneWaiters.splice(0)) wake();
  }

  /** Destroys every connection; returns how many had a request in flight (aborted requests). */
  destroyAll(): number {
    let aborted = 0;
    for (const [socket, conn] of this.connections) {
      aborted += conn.active;
      socket.destroy();
    }
    return aborted;
  }
}
