/**
 * systemd's notify protocol (sd_notify(3)) as a standard probe: readiness kind `notify`. The harness
 * binds an AF_UNIX datagram socket, hands its path over as NOTIFY_SOCKET, and turns each message into
 * probe events the verifiers already read (subject protocol section 3):
 *
 *   READY=1 (first)                   -> `ready`, `state` STARTED
 *   RELOADING=1 [MONOTONIC_USEC=n]    -> `state` RELOADING (stamped with the server's own clock when given)
 *   READY=1 after RELOADING=1         -> `reload-done`, `state` STARTED
 *   STOPPING=1                        -> `state` STOPPING
 *   every message                     -> `notify` with its fields (STATUS=, MAINPID=, ERRNO=,
 *                                        EXTEND_TIMEOUT_USEC=, ...), so nothing the server said is lost
 *
 * Every derived event carries `via: "notify"`. A server that only speaks notify has no `signal`
 * acknowledgements and no `persisted` events: those requirements stay not observable.
 *
 * Node has no AF_UNIX datagram sockets; `node-unix-socket` (N-API, prebuilt for Linux and macOS, no
 * compiler at install) provides them. It is loaded only when a manifest asks for `notify`, so a Windows
 * install without its binary still works for everything else.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nowNs } from '../history.js';

/** One datagram, parsed: `KEY=VALUE` lines (sd_notify(3)). */
export function parseNotify(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A probe-style event derived from a notify message, with its stamp. */
export interface NotifyEvent {
  event: Record<string, unknown>;
  ns: bigint;
}

/** Turns the message stream into probe events (keeps the one bit of state: a reload is running). */
export class NotifyTranslator {
  private readySeen = false;
  private reloading = false;

  translate(text: string, recvNs: bigint): NotifyEvent[] {
    const f = parseNotify(text);
    const out: NotifyEvent[] = [];
    const at = (ev: string, extra: Record<string, unknown> = {}, ns = recvNs): void => {
      out.push({ event: { ev, t: ns.toString(), via: 'notify', ...extra }, ns });
    };
    at('notify', { fields: f });
    if (f.RELOADING === '1') {
      const usec = f.MONOTONIC_USEC !== undefined && /^\d+$/.test(f.MONOTONIC_USEC) ? BigInt(f.MONOTONIC_USEC) : null;
      this.reloading = true;
      at('state', { state: 'RELOADING' }, usec !== null ? usec * 1000n : recvNs);
    }
    if (f.STOPPING === '1') at('state', { state: 'STOPPING' });
    if (f.READY === '1') {
      if (!this.readySeen) {
        // a RELOADING=1 before the first READY=1 is the initial load (Caddy sends one): not a reload
        this.readySeen = true;
        this.reloading = false;
        at('ready');
        at('state', { state: 'STARTED' });
      } else if (this.reloading) {
        this.reloading = false;
        at('reload-done');
        at('state', { state: 'STARTED' });
      }
    }
    return out;
  }
}

interface DgramSocketLike {
  bind(path: string): void;
  on(ev: 'data', cb: (buf: Buffer) => void): void;
  on(ev: 'error', cb: (err: Error) => void): void;
  close(): void;
}

/** The listening end of NOTIFY_SOCKET for one launch. */
export interface NotifySocket {
  /** the path handed over as NOTIFY_SOCKET */
  readonly path: string;
  close(): void;
}

/** sun_path holds 108 bytes on Linux (104 on macOS): a short path in the temporary folder. */
function socketPath(): string {
  return path.join(os.tmpdir(), `sigcert-notify-${randomBytes(6).toString('hex')}.sock`);
}

/**
 * Bind a notify socket and deliver each message's events to `deliver`. Throws a one-line Error when
 * datagram sockets are not available here (the caller makes it a launch error naming the reason).
 */
export async function openNotifySocket(deliver: (e: NotifyEvent) => void): Promise<NotifySocket> {
  let mod: { DgramSocket: new () => DgramSocketLike };
  try {
    mod = (await import('node-unix-socket')) as unknown as { DgramSocket: new () => DgramSocketLike };
  } catch (e) {
    throw new Error(
      `readiness "notify" needs AF_UNIX datagram sockets (npm package node-unix-socket, Linux and macOS): ${(e as Error).message.split('\n')[0]}`,
    );
  }
  const p = socketPath();
  const sock = new mod.DgramSocket();
  const translator = new NotifyTranslator();
  sock.on('error', () => {
    // a broken receive leaves readiness to its deadline; nothing else depends on the socket
  });
  sock.on('data', (buf: Buffer) => {
    for (const e of translator.translate(buf.toString('utf8'), nowNs())) deliver(e);
  });
  sock.bind(p);
  let closed = false;
  return {
    path: p,
    close() {
      if (closed) return;
      closed = true;
      try {
        sock.close();
      } catch {
        // already closed
      }
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    },
  };
}
