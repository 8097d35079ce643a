/**
 * Worker threads never see OS signals ("Signals are not delivered through process.on in a
 * Worker"), and they must not own the process exit either. A worker that needs an action (say,
 * it noticed a renewed certificate and wants a reload) posts a message to the main thread:
 *
 * ```ts
 * parentPort.postMessage({ type: 'bus-request', action: 'reload' }); // or requestFromThread('reload')
 * ```
 *
 * and the main thread forwards it to the bus with source `thread` (edge case E25).
 *
 * A reload request may carry TLS material the thread has read and checked (`tls/cert-worker.ts`):
 * `{ type: 'bus-request', action: 'reload', tls: { certPath, keyPath, cert, key } }`. The main
 * thread installs it (`ConfigStore.installCertificate`) before it asks the bus, so the reload that
 * follows, or the one it is coalesced into, serves the new pair to new handshakes. In a worker
 * process of the supervised mode the same two steps travel to the supervisor over IPC, in order.
 */
import { type MessagePort, parentPort, type Worker } from 'node:worker_threads';
import { type Action, isAction } from './bus.js';
import type { TlsMaterial } from './config.js';

/** TLS material as it crosses a thread boundary (a Buffer arrives as a plain Uint8Array). */
export interface TlsPayload {
  certPath: string;
  keyPath: string;
  cert: Uint8Array;
  key: Uint8Array;
}

export interface BusRequestMessage {
  type: 'bus-request';
  action: Action;
  /** With `reload` only: a certificate pair to install first. */
  tls?: TlsPayload;
}

export function isBusRequestMessage(msg: unknown): msg is BusRequestMessage {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { type?: unknown; action?: unknown; tls?: unknown };
  return m.type === 'bus-request' && isAction(m.action) && (m.tls === undefined || isTlsPayload(m.tls));
}

export function isTlsPayload(value: unknown): value is TlsPayload {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return (
    typeof t.certPath === 'string' &&
    typeof t.keyPath === 'string' &&
    t.cert instanceof Uint8Array &&
    t.key instanceof Uint8Array
  );
}

/** A payload back to Buffers. */
export function toTlsMaterial(tls: TlsPayload): TlsMaterial {
  const buf = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  return { certPath: tls.certPath, keyPath: tls.keyPath, cert: buf(tls.cert), key: buf(tls.key), source: 'installed' };
}

/** The part of the bus the bridge needs. */
export interface BusRequester {
  request(action: Action, source: 'thread'): unknown;
}

export interface BridgeOptions {
  /** Reports malformed messages. */
  warn?: (msg: string) => void;
  /** Installs the TLS material a reload request carries; without it such a request is refused. */
  installCertificate?: (material: TlsMaterial) => void;
}

/** Main thread: forward `bus-request` messages from `worker` to the bus. */
export function bridgeWorkerToBus(
  worker: Worker,
  bus: BusRequester,
  options: BridgeOptions | ((msg: string) => void) = {},
): void {
  const opts: BridgeOptions = typeof options === 'function' ? { warn: options } : options;
  const warn = opts.warn ?? (() => {});
  worker.on('message', (msg: unknown) => {
    if (isBusRequestMessage(msg)) {
      if (msg.tls !== undefined) {
        if (msg.action !== 'reload' || opts.installCertificate === undefined) {
          warn(`worker ${worker.threadId} sent TLS material with ${msg.action}, which cannot install it: ignored`);
          return;
        }
        opts.installCertificate(toTlsMaterial(msg.tls));
      }
      void bus.request(msg.action, 'thread');
    } else if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'bus-request') {
      warn(`worker ${worker.threadId} sent an invalid bus request: ${JSON.stringify(msg)}`);
    }
  });
}

/** Worker thread: ask the main thread's bus for `action` (a reload may carry a certificate pair). */
export function requestFromThread(
  action: Action,
  port: MessagePort | null = parentPort,
  extra: { tls?: TlsPayload } = {},
): void {
  if (port === null) throw new Error('requestFromThread() must be called in a worker thread');
  const msg: BusRequestMessage = { type: 'bus-request', action, ...extra };
  port.postMessage(msg);
}
