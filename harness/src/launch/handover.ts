/**
 * The hand-over of subject-protocol.md section 2, prepared before anything is spawned: the run marker,
 * ports, run and state directories, configuration file, FIFO, token, the environment, plus the launch's
 * tracking (tracking.ts) and its bounded logs (logs.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { History } from '../history.js';
import type { Manifest, Platform } from '../types.js';
import { LaunchError } from './errors.js';
import { BoundedLog } from './logs.js';
import { type PlaceholderValues, substitute } from './placeholders.js';
import { allocatePorts, LOOPBACK } from './ports.js';
import { Tracker, type TrackingMode } from './tracking.js';

const isWindows = process.platform === 'win32';

export interface LaunchOptions {
  manifest: Manifest;
  runDir: string;
  history: History;
  /** which launch of the case this is (history `launch` field); default 0 */
  launchIndex?: number;
  /** extra/override environment, e.g. SIGCERT_STARTUP_DELAY_MS, SIGCERT_PREDRAIN_MS (not substituted) */
  env?: Record<string, string>;
  /** initial configuration object, default `{ generation: 1 }` */
  config?: Record<string, unknown>;
  /** reuse ports (relaunch after a stop, durability cases) */
  ports?: Record<string, number>;
  /** reuse a state directory across launches; default `<runDir>/state`, emptied first */
  stateDir?: string;
  /** default true */
  waitReady?: boolean;
  /** overrides `manifest.readiness.timeoutMs` */
  readyTimeoutMs?: number;
  /**
   * Run the subject under a wrapper command, e.g. `['unshare', '--pid', '--fork', '--kill-child']`:
   * the harness spawns `wrap[0]` with `[...wrap.slice(1), command, ...args]`, so the direct child (`pid`)
   * is the wrapper and the subject is its descendant (found by the marker, like any descendant).
   */
  wrap?: string[];
  /**
   * How the launch's processes are tracked: `auto` (default) picks its own cgroup v2 where the harness may
   * create one, else the run marker; `marker` forces the run marker. The choice is recorded as a
   * `tracking` history event.
   */
  tracking?: TrackingMode;
  /** the first and the last this many bytes of stdout and of stderr are kept; default LOG_KEEP_BYTES (4 MiB) */
  logKeepBytes?: number;
  /**
   * The platform the subject is graded as; default this machine's. `win32` on Linux or macOS treats the
   * subject as if on Windows (`sigcert run --platform win32`): no FIFO is handed over, `signal()` refuses
   * every signal (SignalRefusedError), the only forced end is `terminate()`, and teardown is a forced
   * kill (TerminateProcess on Windows), never a SIGTERM a handler could act on.
   */
  platform?: Platform;
}

/** Everything prepared before the spawn, handed to the Subject. */
export interface Prepared {
  manifest: Manifest;
  history: History;
  launchIndex: number;
  runId: string;
  runDir: string;
  stateDir: string;
  configPath: string;
  fifoPath: string | null;
  token: string;
  ports: Record<string, number>;
  stdoutPath: string;
  stderrPath: string;
  /** the log file handed over (`SIGCERT_LOG_FILE`, `${logFile}`); the subject creates it, if it logs there */
  logFile: string;
  tracker: Tracker;
  /** bounded stdout/stderr logs (files opened before the spawn, fed from the pipes after it) */
  logs: { stdout: BoundedLog; stderr: BoundedLog };
  /** the platform the subject is graded as (LaunchOptions.platform) */
  platform: Platform;
}

export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/**
 * The log file handed to launch `launchIndex` of a run directory (subject-protocol.md section 2):
 * `subject.log`, `subject.1.log`, ... The harness never creates it; a subject that logs there does.
 */
export function subjectLogPath(runDir: string, launchIndex = 0): string {
  return join(resolve(runDir), `subject${launchIndex > 0 ? `.${launchIndex}` : ''}.log`);
}

function newRunId(): string {
  return `sc-${process.pid}-${randomBytes(6).toString('hex')}`;
}

export function buildEnv(
  p: Prepared,
  values: PlaceholderValues,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const m = p.manifest;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // a harness that itself runs under sigcert must not leak its own marker or hand-over
    if (v !== undefined && !k.startsWith('SIGCERT_')) env[k] = v;
  }
  env.SIGCERT_RUN_ID = p.runId;
  for (const [name, port] of Object.entries(p.ports)) env[`SIGCERT_PORT_${name.toUpperCase()}`] = String(port);
  env.SIGCERT_HOST = LOOPBACK;
  env.SIGCERT_STATE_DIR = p.stateDir;
  env.SIGCERT_CONFIG = p.configPath;
  if (m.capabilities.probe === true) env.SIGCERT_PROBE_FD = '3';
  env.SIGCERT_CONFORMANCE = '1';
  env.SIGCERT_GRACE_MS = String(m.gracePeriodMs);
  env.SIGCERT_PREDRAIN_MS = '0';
  if (p.fifoPath !== null) env.SIGCERT_FIFO = p.fifoPath;
  env.SIGCERT_CONTROL_TOKEN = p.token;
  env.SIGCERT_STARTUP_DELAY_MS = '0';
  env.SIGCERT_LOG_FILE = p.logFile;
  for (const [k, v] of Object.entries(m.env)) env[k] = substituteOrThrow(v, values, m.name, `env.${k}`, p.runId);
  Object.assign(env, extra ?? {});
  env.SIGCERT_RUN_ID = p.runId; // the marker is not negotiable: teardown depends on it
  return env;
}

export function substituteOrThrow(
  s: string,
  values: PlaceholderValues,
  name: string,
  where: string,
  runId: string,
): string {
  try {
    return substitute(s, values);
  } catch (err) {
    throw new LaunchError('bad-manifest', `${name}: ${where}: ${(err as Error).message}`, { runId });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Everything before the spawn: directories, ports, config file, FIFO, tracking and log files.
 * Throws LaunchError 'bad-manifest' for a missing cwd or port; creates nothing that needs undoing before that.
 */
export async function prepareHandover(opts: LaunchOptions): Promise<{ p: Prepared; values: PlaceholderValues }> {
  const m = opts.manifest;
  const launchIndex = opts.launchIndex ?? 0;
  const runId = newRunId();
  const runDir = resolve(opts.runDir);
  const stateDir = resolve(opts.stateDir ?? join(runDir, 'state'));
  mkdirSync(runDir, { recursive: true });
  // A start without a given state directory starts on an empty one, even when an earlier run left
  // its store in the same run directory (`--out` used again): a durable case's first start must not
  // find the last run's data and report recovery "clean" for it.
  if (opts.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  if (!isDirectory(m.cwd)) throw new LaunchError('bad-manifest', `${m.name}: cwd not found: ${m.cwd}`, { runId });

  const ports = opts.ports !== undefined ? { ...opts.ports } : await allocatePorts(m.ports);
  const missing = m.ports.filter((name) => ports[name] === undefined);
  if (missing.length > 0) {
    throw new LaunchError('bad-manifest', `${m.name}: no port given for ${missing.join(', ')}`, { runId });
  }

  const suffix = launchIndex > 0 ? `.${launchIndex}` : '';
  const configPath = join(runDir, 'config.json');
  const platform = opts.platform ?? (process.platform as Platform);
  // no FIFO on Windows, nor when the subject is graded as if it ran there
  const fifoPath = isWindows || platform === 'win32' ? null : join(runDir, 'control.fifo');
  writeAtomic(configPath, `${JSON.stringify(opts.config ?? { generation: 1 }, null, 2)}\n`);
  if (fifoPath !== null) {
    rmSync(fifoPath, { force: true });
    execFileSync('mkfifo', ['-m', '600', fifoPath]);
  }
  const stdoutPath = join(runDir, `stdout${suffix}.log`);
  const stderrPath = join(runDir, `stderr${suffix}.log`);
  const p: Prepared = {
    manifest: m,
    history: opts.history,
    launchIndex,
    runId,
    runDir,
    stateDir,
    configPath,
    fifoPath,
    token: randomBytes(16).toString('hex'),
    ports,
    stdoutPath,
    stderrPath,
    logFile: subjectLogPath(runDir, launchIndex),
    tracker: Tracker.create(runId, opts.tracking),
    logs: {
      stdout: new BoundedLog(stdoutPath, 'stdout', opts.logKeepBytes),
      stderr: new BoundedLog(stderrPath, 'stderr', opts.logKeepBytes),
    },
    platform,
  };
  const values: PlaceholderValues = {
    ports,
    values: {
      runDir,
      stateDir,
      config: configPath,
      manifestDir: m.dir,
      fifo: fifoPath,
      token: p.token,
      logFile: p.logFile,
    },
  };
  return { p, values };
}

/** Undo a hand-over whose subject never started: FIFO, log files, the launch's cgroup. */
export async function discardHandover(p: Prepared, withinMs: number): Promise<void> {
  if (p.fifoPath !== null) rmSync(p.fifoPath, { force: true });
  p.logs.stdout.finish();
  p.logs.stderr.finish();
  await p.tracker.dispose(withinMs);
}
