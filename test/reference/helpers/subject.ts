/**
 * Test helper: runs the built reference server (`dist/reference/src/main.js`, built by
 * `npm run build`, which `pretest` runs) as a real child process, the way the harness does:
 * its own process group, stdin closed, the probe channel on fd 3.
 *
 * Synchronisation is always on observed events (probe events, response heads, socket events)
 * with a deadline, never on sleeps. `dispose()` SIGKILLs the process group if anything is left.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The real-process tests need POSIX signals, process groups and FIFOs. */
export const POSIX = process.platform !== 'win32';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN_JS = join(REPO_ROOT, 'dist/reference/src/main.js');

export interface ProbeEvent {
  ev: string;
  t: string;
  pid: number;
  [field: string]: unknown;
}

export interface SubjectOptions {
  /** Extra environment (overrides the defaults below). */
  env?: Record<string, string>;
  /** Initial configuration file content (default `{ generation: 1 }`). */
  config?: Record<string, unknown>;
  /** Allocate an admin port and a token (default true). */
  admin?: boolean;
  /** Allocate a TLS port. */
  tls?: boolean;
  /** Wait for the `ready` probe event before returning (default true). */
  waitReady?: boolean;
  /** Reuse this run directory (a second launch on the same state). */
  runDir?: string;
  /** Run the TypeScript source under tsx instead of the build. */
  fromSource?: boolean;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export const TOKEN = 'test-token-0123456789abcdef';

/** A free loopback port (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export class Subject {
  readonly events: ProbeEvent[] = [];
  stderr = '';
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly child: ChildProcess,
    readonly runDir: string,
    readonly ports: { http: number; admin?: number; tls?: number },
    private readonly ownsRunDir: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then every probe line has been read.
      child.once('close', (code, signal) => {
        this.exitStatus = { code, signal };
        this.wake();
        resolve({ code, signal });
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    child.stdout?.resume();
    const probe = child.stdio[3];
    if (probe && 'on' in probe) {
      const lines = createInterface({ input: probe as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (line.trim() === '') return;
        this.events.push(JSON.parse(line) as ProbeEvent);
        this.wake();
      });
    }
  }

  static async start(opts: SubjectOptions = {}): Promise<Subject> {
    if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first`);
    const runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), 'sigcert-ref-'));
    const stateDir = join(runDir, 'state');
    const configPath = join(runDir, 'config.json');
    const fifoPath = join(runDir, 'fifo');
    if (!existsSync(configPath) || opts.config !== undefined) {
      writeJsonAtomic(configPath, opts.config ?? { generation: 1 });
    }
    if (process.platform !== 'win32' && !existsSync(fifoPath)) execFileSync('mkfifo', [fifoPath]);
    const ports: { http: number; admin?: number; tls?: number } = { http: await freePort() };
    if (opts.admin !== false) ports.admin = await freePort();
    if (opts.tls) ports.tls = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      SIGCERT_RUN_ID: `test-${process.pid}-${Date.now()}`,
      SIGCERT_HOST: '127.0.0.1',
      SIGCERT_PORT_HTTP: String(ports.http),
      SIGCERT_STATE_DIR: stateDir,
      SIGCERT_CONFIG: configPath,
      SIGCERT_PROBE_FD: '3',
      SIGCERT_CONFORMANCE: '1',
      SIGCERT_GRACE_MS: '5000',
      SIGCERT_PREDRAIN_MS: '0',
      SIGCERT_FIFO: fifoPath,
      ...(ports.admin !== undefined ? { SIGCERT_PORT_ADMIN: String(ports.admin), SIGCERT_CONTROL_TOKEN: TOKEN } : {}),
      ...(ports.tls !== undefined ? { SIGCERT_PORT_TLS: String(ports.tls) } : {}),
      ...opts.env,
    };
    const args = opts.fromSource
      ? ['--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'reference/src/main.ts')]
      : [MAIN_JS];
    const child = spawn(process.execPath, args, {
      cwd: runDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const subject = new Subject(child, runDir, ports, opts.runDir === undefined);
    if (opts.waitReady !== false) {
      try {
        await subject.waitFor('ready', 15_000);
      } catch (err) {
        await subject.dispose();
        throw err;
      }
    }
    return subject;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stateDir(): string {
    return join(this.runDir, 'state');
  }

  get configPath(): string {
    return join(this.runDir, 'config.json');
  }

  get fifoPath(): string {
    return join(this.runDir, 'fifo');
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.ports.http}${path}`;
  }

  /** Sends a signal to the server process (never to the group: that is `dispose`). */
  kill(signal: NodeJS.Signals): bigint {
    const sentAt = process.hrtime.bigint();
    process.kill(this.pid, signal);
    return sentAt;
  }

  writeConfig(config: Record<string, unknown>): void {
    writeJsonAtomic(this.configPath, config);
  }

  /** Events named `ev`, in order. */
  all(ev: string): ProbeEvent[] {
    return this.events.filter((e) => e.ev === ev);
  }

  /**
   * The first event (from index `from` on) matching `match`: an event name or a predicate.
   * Rejects after `timeoutMs`, or when the process exits without it.
   */
  waitFor(match: string | ((e: ProbeEvent) => boolean), timeoutMs = 10_000, from = 0): Promise<ProbeEvent> {
    const pred = typeof match === 'string' ? (e: ProbeEvent) => e.ev === match : match;
    const describe = typeof match === 'string' ? match : 'a matching event';
    return this.until(() => this.events.slice(from).find(pred), timeoutMs, `probe event ${describe}`);
  }

  /** Resolves with the exit status, or rejects after `timeoutMs`. */
  waitExit(timeoutMs = 15_000): Promise<ExitStatus> {
    return this.until(() => this.exitStatus, timeoutMs, 'process exit', true);
  }

  /** Ends the process group if it is still there, removes the run directory. */
  async dispose(): Promise<void> {
    if (this.exitStatus === undefined) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await this.exited;
    }
    if (this.ownsRunDir) rmSync(this.runDir, { recursive: true, force: true });
  }

  /** Text for assertion messages: the event names so far and the end of stderr. */
  timeline(): string {
    return `events: ${this.events.map((e) => e.ev + (e.ev === 'state' ? `:${String(e.state)}` : '')).join(' ')}\nstderr:\n${this.stderr.slice(-3000)}`;
  }

  private until<T>(probe: () => T | undefined, timeoutMs: number, what: string, exitOk = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        const value = probe();
        if (value !== undefined) {
          resolve(value);
          return true;
        }
        if (!exitOk && this.exitStatus !== undefined) {
          reject(new Error(`process exited (${JSON.stringify(this.exitStatus)}) before ${what}\n${this.timeline()}`));
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.timeline()}`));
      }, timeoutMs);
      const waiter = () => {
        if (check()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
        }
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path);
}

/** The event names in order (for sequence assertions). */
export function names(events: ProbeEvent[]): string[] {
  return events.map((e) => (e.ev === 'state' ? `state:${String(e.state)}` : e.ev));
}

/** True when `expected` occurs in `actual` in this order (other items may come between). */
export function isSubsequence(expected: string[], actual: string[]): boolean {
  let i = 0;
  for (const item of actual) if (item === expected[i]) i++;
  return i === expected.length;
}
