/**
 * Opening and closing the listening sockets, with the two rules of the stop sequence:
 *
 * - No listener opens after a stop request (requirement START.STOP_NO_LISTENER): `open()` checks
 *   the startup abort signal before binding and again once bound (and then closes at once,
 *   without announcing it). The test hook SIGCERT_BIND_HOLD_MS (capability `slowBind`) holds a
 *   service listener bound between the two, as slow post-bind initialisation would, so that the
 *   harness can see both checks: a listener bound after a stop stays open through the hold.
 * - `stopAccepting()` closes the listening sockets only. `http.Server.close()` would also destroy
 *   idle keep-alive connections itself (Node >= 19); the drain ends those with FIN instead
 *   (`ConnectionTracker.closeIdle`), so we call the plain `net.Server` close.
 */
import { type AddressInfo, Server } from 'node:net';
import type { Probe } from '../probe.js';

export interface Listener {
  name: string;
  server: Server;
  port: number;
  /** Closed by `stopAccepting` (the service listeners); the control channel stays open until exit. */
  service: boolean;
}

export class Listeners {
  private readonly open_: Listener[] = [];
  private closed = false;

  /** `bindHoldMs`: the test hook SIGCERT_BIND_HOLD_MS (0: none) */
  constructor(
    private readonly probe: Probe,
    private readonly bindHoldMs = 0,
  ) {}

  /** Binds `server`; resolves with the port, or undefined when a stop came first (nothing stays open). */
  async open(
    name: string,
    server: Server,
    port: number,
    host: string,
    signal: AbortSignal,
    service = true,
  ): Promise<number | undefined> {
    if (signal.aborted || (service && this.closed)) return undefined;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`cannot listen on ${host}:${port} (${name}): ${err.message}`));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // the hook: post-bind initialisation that a stop does not cut short
    if (service && this.bindHoldMs > 0) await new Promise((resolve) => setTimeout(resolve, this.bindHoldMs));
    if (signal.aborted || (service && this.closed)) {
      Server.prototype.close.call(server);
      return undefined;
    }
    const actual = (server.address() as AddressInfo).port;
    this.open_.push({ name, server, port: actual, service });
    this.probe.emit('listening', { name, port: actual });
    return actual;
  }

  /** Ports by listener name, for the `ready` event. */
  ports(): Record<string, number> {
    return Object.fromEntries(this.open_.map((l) => [l.name, l.port]));
  }

  get anyServiceOpen(): boolean {
    return !this.closed && this.open_.some((l) => l.service);
  }

  /** Closes every service listener (new connections are refused from here on). Idempotent. */
  stopAccepting(): boolean {
    if (this.closed) return false;
    this.closed = true;
    for (const l of this.open_) {
      if (l.service) Server.prototype.close.call(l.server);
    }
    return true;
  }
}
