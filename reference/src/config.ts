/**
 * The configuration file (subject protocol section 6) and its reload: read, validate everything,
 * then swap in one assignment. An invalid file changes nothing: the previous configuration stays
 * in use and the server keeps serving (edge case E19).
 *
 * ```json
 * { "generation": 2, "greeting": "hello", "tls": { "cert": "cert.pem", "key": "key.pem" } }
 * ```
 *
 * - `generation`: a positive integer, required.
 * - `tls`: paths of a PEM certificate and key, relative to the configuration file's folder. They
 *   are read and checked as a pair (`tls.createSecureContext`) only when the server serves TLS;
 *   a pair that does not load makes the whole file invalid, so a reload never half-applies.
 *
 * Reloads are serialised and coalesced by the bus (`bus.ts`), not here: `reload()` assumes it is
 * never called twice at once. Probe events: `reload-begin {generation}` (the one in use),
 * `reload-done {generation}` (the new one), `reload-failed {error}`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from './log.js';
import type { Probe } from './probe.js';

export interface TlsMaterial {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

export interface Config {
  generation: number;
  /** The whole parsed file. */
  data: Readonly<Record<string, unknown>>;
  /** Present when the file names a certificate and TLS material was asked for. */
  tls: TlsMaterial | undefined;
}

export class ConfigError extends Error {}

/** Parses and checks the text of a configuration file (no file access). */
export function parseConfig(text: string): {
  generation: number;
  data: Record<string, unknown>;
  tls?: { cert: string; key: string };
} {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError('not a JSON object');
  const obj = data as Record<string, unknown>;
  const generation = obj.generation;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 1) {
    throw new ConfigError('"generation" must be a positive integer');
  }
  if (obj.tls === undefined) return { generation, data: obj };
  const tls = obj.tls as Record<string, unknown> | null;
  if (typeof tls !== 'object' || tls === null || typeof tls.cert !== 'string' || typeof tls.key !== 'string') {
    throw new ConfigError('"tls" must be an object with string "cert" and "key" paths');
  }
  return { generation, data: obj, tls: { cert: tls.cert, key: tls.key } };
}

export interface ConfigStoreOptions {
  /** The file; undefined means "no file": the built-in `{ generation: 1 }` and reloads fail. */
  path: string | undefined;
  /** Read and check the certificate pair named by `tls` (only when a TLS listener exists). */
  loadTls: boolean;
  probe: Probe;
  log: Logger;
  /** File reader (tests slow it down to prove reloads never overlap). */
  read?: (path: string) => Promise<string | Buffer>;
}

export class ConfigStore {
  private active: Config | undefined;
  private readonly listeners: Array<(next: Config, previous: Config) => void> = [];
  private readonly read: (path: string) => Promise<string | Buffer>;

  constructor(private readonly opts: ConfigStoreOptions) {
    this.read = opts.read ?? ((path) => readFile(path));
  }

  /** The configuration in use. Throws before `loadInitial()` resolved. */
  get current(): Config {
    if (this.active === undefined) throw new Error('configuration not loaded yet');
    return this.active;
  }

  get loaded(): boolean {
    return this.active !== undefined;
  }

  /** Called synchronously after each successful swap (the HTTPS listener installs the new certificate). */
  onSwap(listener: (next: Config, previous: Config) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the file at startup. An invalid or missing file is a startup failure. */
  async loadInitial(): Promise<Config> {
    this.active =
      this.opts.path === undefined ? { generation: 1, data: { generation: 1 }, tls: undefined } : await this.load();
    this.opts.log.info(`configuration generation ${this.active.generation} loaded`);
    return this.active;
  }

  /** The `reload` action. Throws (after the `reload-failed` event) when the file is invalid. */
  async reload(): Promise<Config> {
    const previous = this.current;
    this.opts.probe.emit('reload-begin', { generation: previous.generation });
    let next: Config;
    try {
      if (this.opts.path === undefined) throw new ConfigError('no configuration file (SIGCERT_CONFIG is not set)');
      next = await this.load();
    } catch (err) {
      const error = (err as Error).message;
      this.opts.log.warn(`reload rejected, generation ${previous.generation} stays in use: ${error}`);
      this.opts.probe.emit('reload-failed', { error });
      throw err;
    }
    this.active = next; // the swap: one assignment
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.opts.log.error(`configuration listener failed: ${(err as Error).message}`);
      }
    }
    this.opts.log.info(`configuration generation ${previous.generation} -> ${next.generation}`);
    this.opts.probe.emit('reload-done', { generation: next.generation });
    return next;
  }

  private async load(): Promise<Config> {
    const path = this.opts.path!;
    const text = await this.read(path).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read ${path}: ${err.code ?? err.message}`);
    });
    const parsed = parseConfig(text.toString());
    let tls: TlsMaterial | undefined;
    if (parsed.tls !== undefined && this.opts.loadTls) tls = await loadTls(path, parsed.tls);
    return { generation: parsed.generation, data: parsed.data, tls };
  }
}

/** Reads a certificate and key and checks that they load as a pair. */
async function loadTls(configPath: string, paths: { cert: string; key: string }): Promise<TlsMaterial> {
  const base = dirname(configPath);
  const certPath = isAbsolute(paths.cert) ? paths.cert : resolve(base, paths.cert);
  const keyPath = isAbsolute(paths.key) ? paths.key : resolve(base, paths.key);
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  } catch (err) {
    throw new ConfigError(`cannot read the TLS certificate or key: ${(err as NodeJS.ErrnoException).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`the TLS certificate and key do not load as a pair: ${(err as Error).message}`);
  }
  return { certPath, keyPath, cert, key };
}
