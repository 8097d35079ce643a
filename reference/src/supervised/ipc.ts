/**
 * The messages between the supervisor and its worker processes, over the IPC channel `cluster.fork()`
 * opens (serialization `advanced`, so Buffers and Uint8Arrays cross as bytes). Cluster's own
 * messages travel on the same channel but reach `internalMessage`, never `message`.
 *
 * A worker attaches its `message` listener and then says `hello`; only then does the supervisor send
 * anything (`init` first), so no message can arrive before a listener exists.
 *
 * | direction | message                                 | meaning                                                          |
 * |-----------|-----------------------------------------|------------------------------------------------------------------|
 * | W → S     | `hello`                                 | listening for messages now                                       |
 * | S → W     | `init {generation, config, ready, stopping, cpuThreads}` | the configuration in use, the bus's readiness    |
 * | W → S     | `listening {name, port}`, `ready {ports, version}` | a listener is open; all are (the version it read at start) |
 * | S → W     | `state {ready, stopping, drain}`        | the bus changed state (readiness; `Connection: close` from a stop on); `drain`: stop now (below) |
 * | S → W     | `cmd {id, cmd, ...}`                    | `config`, `stop-accepting`, `drain`, `abort`, `retire`; answered by `ack {id, data}` |
 * | W → S     | `kv {id, op, key, value}`               | a `/kv` request for the store (the supervisor is its one writer)  |
 * | S → W     | `kv-result {id, ok, value, keys, error}`| its answer (a put answers after fsync)                           |
 * | W → S     | `install-certificate {tls}`, then `bus-request {action}` | a worker thread's request (`POST /cert`)        |
 * | W → S     | `log {level, msg}`                      | a log line (the supervisor owns the log file)                    |
 * | W → S     | `stopped-accepting {idle, inFlight}`    | a `drain` stop: its listeners are closed and its idle connections ended |
 * | W → S     | `retired {forced, aborted}`             | a worker finished its drain (a retirement, or a `drain` stop) and exits now |
 *
 * `state {stopping: true, drain: true}` is sent when a stop has no pre-drain delay: the worker
 * closes its listeners and ends its idle connections at once (`stopped-accepting`), and exits once
 * no request is in flight (`retired`), on its own. The supervisor then sends it no `stop-accepting`
 * and no `drain` command: it waits for those two messages (or the exit). That saves the worker two
 * round trips to a supervisor busy with its own stop, and the supervisor four IPC sends on its
 * stop path.
 */
import type { Action } from '../bus.js';
import type { Config } from '../config.js';
import { type TlsPayload, toTlsMaterial } from '../worker-bus-bridge.js';

/** A configuration as it crosses the channel. */
export interface WireConfig {
  generation: number;
  data: Record<string, unknown>;
  tls: (TlsPayload & { source: 'file' | 'installed' }) | null;
}

/** A command to a worker (answered by `ack`). */
export type Command =
  | { cmd: 'config'; config: WireConfig }
  | { cmd: 'stop-accepting' | 'drain' | 'abort' }
  | { cmd: 'retire'; graceMs: number; lingerMs: number };

/** The store's answer to a `kv` request. */
export type KvAnswer = { ok: true; value?: Uint8Array | null; keys?: string[] } | { ok: false; error: string };

export type ToWorker =
  | { type: 'init'; generation: number; config: WireConfig; ready: boolean; stopping: boolean; cpuThreads: number }
  | { type: 'state'; ready: boolean; stopping: boolean; drain: boolean }
  | ({ type: 'cmd'; id: number } & Command)
  | ({ type: 'kv-result'; id: number } & KvAnswer);

export type KvOp = { op: 'put'; key: string; value: Uint8Array } | { op: 'get'; key: string } | { op: 'keys' };

export type FromWorker =
  | { type: 'hello' }
  | { type: 'listening'; name: string; port: number }
  | { type: 'ready'; ports: Record<string, number>; version: string }
  | { type: 'ack'; id: number; data: Record<string, unknown> }
  | ({ type: 'kv'; id: number } & KvOp)
  | { type: 'install-certificate'; tls: TlsPayload }
  | { type: 'bus-request'; action: Action }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string }
  | { type: 'stopped-accepting'; idle: number; inFlight: number }
  | { type: 'retired'; forced: boolean; aborted: number };

export function toWire(config: Config): WireConfig {
  const tls = config.tls;
  return {
    generation: config.generation,
    data: { ...config.data },
    tls:
      tls === undefined
        ? null
        : { certPath: tls.certPath, keyPath: tls.keyPath, cert: tls.cert, key: tls.key, source: tls.source ?? 'file' },
  };
}

export function fromWire(wire: WireConfig): Config {
  const tls = wire.tls === null ? undefined : { ...toTlsMaterial(wire.tls), source: wire.tls.source };
  return { generation: wire.generation, data: wire.data, tls };
}

/** A Uint8Array that crossed the channel, as a Buffer (no copy). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function isMessage<T extends { type: string }>(msg: unknown): msg is T {
  return typeof msg === 'object' && msg !== null && typeof (msg as { type?: unknown }).type === 'string';
}
