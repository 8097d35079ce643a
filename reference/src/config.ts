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
 * `reload-done {generation}` (the new one), `reload-failed {error}`. `reload-done` is written only
 * once every swap listener finished (the supervisor's listener waits until every worker process
 * applied the new configuration), so it means "in use everywhere".
 *
 * ## An installed certificate (a thread asked for it)
 *
 * `installCertificate()` is how a certificate pair that did not come from the file gets in: a worker
 * thread read and checked it and asked the bus for a reload (`tls/cert-thread.ts`, `POST /cert`).
 * The pair waits until the next reload, which validates the file as usual and then serves the
 * installed pair instead of the file's. It stays in use across later reloads for as long as the
 * file names the same `tls` paths it named when the pair was installed; a reload that reads
 * different `tls` paths (the operator changed the file) serves the file's pair again. A reload that
 * fails leaves a waiting pair waiting.
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
  /** `installed`: the pair came from `installCertificate()`, not from the file. Default `file`. */
  source?: 'file' | 'installed';
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

/** Called after each successful swap, before `reload-done`; may be async (awaited in order). */
export type SwapListener = (next: Config, previous: Config) => void | Promise<void>;

export class ConfigStore {
  private active: Config | undefined;
  private readonly listeners: SwapListener[] = [];
  private readonly read: (path: string) => Promise<string | Buffer>;
  /** A pair installed by a thread, waiting for the next reload. */
  private pending: TlsMaterial | undefined;
  /** The installed pair in use, and the file's `tls` paths (as text) when it was installed. */
  private installed: { material: TlsMaterial; fileTls: string } | undefined;
  /** The `tls` paths (as text) the file named at the last successful load. */
  private fileTls = 'none';

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

  /**
   * Called after each successful swap, in order; an async listener is awaited (with its errors
   * logged) before the next one and before `reload-done`. The HTTPS listener installs the new
   * certificate here; the supervisor hands the configuration to its workers.
   */
  onSwap(listener: SwapListener): void {
    this.listeners.push(listener);
  }

  /** A certificate pair (already read and checked by a thread) to serve from the next reload on. */
  installCertificate(material: TlsMaterial): void {
    this.pending = { ...material, source: 'installed' };
    this.opts.log.info(`certificate ${material.certPath} installed; it is served from the next reload on`);
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
    let fileTls: string;
    try {
      if (this.opts.path === undefined) throw new ConfigError('no configuration file (SIGCERT_CONFIG is not set)');
      ({ config: next, fileTls } = await this.loadWithPaths());
    } catch (err) {
      const error = (err as Error).message;
      this.opts.log.warn(`reload rejected, generation ${previous.generation} stays in use: ${error}`);
      this.opts.probe.emit('reload-failed', { error });
      throw err;
    }
    next = this.withInstalledCertificate(next, fileTls);
    this.fileTls = fileTls;
    this.active = next; // the swap: one assignment
    for (const listener of this.listeners) {
      try {
        await listener(next, previous);
      } catch (err) {
        this.opts.log.error(`configuration listener failed: ${(err as Error).message}`);
      }
    }
    this.opts.log.info(`configuration generation ${previous.generation} -> ${next.generation}`);
    this.opts.probe.emit('reload-done', { generation: next.generation });
    return next;
  }

  /**
   * The installed pair replaces the file's while the file names the same `tls` paths as when it
   * was installed; a waiting pair is installed now (the file's `tls` paths are noted with it).
   */
  private withInstalledCertificate(next: Config, fileTls: string): Config {
    if (!this.opts.loadTls) return next;
    if (this.pending !== undefined) {
      this.installed = { material: this.pending, fileTls };
      this.pending = undefined;
    } else if (this.installed !== undefined && this.installed.fileTls !== fileTls) {
      this.opts.log.info('the configuration names other tls paths: its certificate replaces the installed one');
      this.installed = undefined;
    }
    return this.installed === undefined ? next : { ...next, tls: this.installed.material };
  }

  private async load(): Promise<Config> {
    const { config, fileTls } = await this.loadWithPaths();
    this.fileTls = fileTls;
    return config;
  }

  private async loadWithPaths(): Promise<{ config: Config; fileTls: string }> {
    const path = this.opts.path!;
    const text = await this.read(path).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read ${path}: ${err.code ?? err.message}`);
    });
    const parsed = parseConfig(text.toString());
    let tls: TlsMaterial | undefined;
    if (parsed.tls !== undefined && this.opts.loadTls) tls = await loadTls(path, parsed.tls);
    const fileTls = parsed.tls === undefined ? 'none' : JSON.stringify([parsed.tls.cert, parsed.tls.key]);
    return { config: { generation: parsed.generation, data: parsed.data, tls }, fileTls };
  }
}

/** Reads a certificate and key (relative paths: from the configuration file's folder) and checks the pair. */
export async function loadTls(configPath: string, paths: { cert: string; key: string }): Promise<TlsMaterial> {
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
