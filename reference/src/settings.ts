/**
 * The server's settings, read once from the environment (subject protocol section 2) and the one
 * command-line option, `--workers N` (which overrides `SIGCERT_WORKERS`). Invalid values are
 * reported all together; the server then refuses to start (exit status 1).
 */
import { isAbsolute, join, resolve } from 'node:path';

export type Fault = 'stop-subscriber-throws' | 'stop-subscriber-hangs' | 'slow-store';

export interface Settings {
  /** Loopback address every listener binds. */
  host: string;
  httpPort: number;
  /** HTTPS listener, only when the configuration names a certificate. */
  tlsPort: number | undefined;
  /** Control channel listener. */
  adminPort: number | undefined;
  stateDir: string;
  configPath: string | undefined;
  conformance: boolean;
  graceMs: number;
  predrainMs: number;
  fifoPath: string | undefined;
  controlToken: string | undefined;
  /** Where the token came from, for messages (`SIGCERT_CONTROL_TOKEN` or the file). */
  controlTokenFile: string | undefined;
  startupDelayMs: number;
  /** SIGCERT_BIND_HOLD_MS: each service listener is held bound this long before the stop check (test hook) */
  bindHoldMs: number;
  logFile: string | undefined;
  /** Overrides the version `/version` reports (the configuration file's `codeVersion` comes first). */
  codeVersion: string | undefined;
  fault: Fault | undefined;
  /** Supervised mode: this many worker processes per generation (`--workers N`); undefined: one process. */
  workers: number | undefined;
  /** `SIGCERT_TRACE=1`: probe `trace {step, phase}` events around every bus step (the stop breakdown bench). */
  trace: boolean;
}

export const MAX_WORKERS = 64;

export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_GRACE_MS = 5000;

export class SettingsError extends Error {}

export function readSettings(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  argv: readonly string[] = process.argv.slice(2),
): Settings {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const optionalPort = (name: string): number | undefined =>
    env[name] === undefined || env[name] === '' ? undefined : int(name, 0, 0, 65535);
  const path = (name: string): string | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    return isAbsolute(raw) ? raw : resolve(cwd, raw);
  };

  const host = env.SIGCERT_HOST || '127.0.0.1';
  if (!isLoopback(host)) problems.push(`SIGCERT_HOST=${host}: the reference server binds loopback addresses only`);

  const faultRaw = env.SIGCERT_FAULT;
  let fault: Fault | undefined;
  if (faultRaw === 'stop-subscriber-throws' || faultRaw === 'stop-subscriber-hangs' || faultRaw === 'slow-store')
    fault = faultRaw;
  else if (faultRaw !== undefined && faultRaw !== '') problems.push(`SIGCERT_FAULT=${faultRaw}: unknown fault`);

  let workers: number | undefined;
  const workersRaw = workersArgument(argv, problems) ?? env.SIGCERT_WORKERS;
  if (workersRaw !== undefined && workersRaw !== '' && workersRaw !== '0') {
    const n = Number(workersRaw);
    if (/^\d+$/.test(workersRaw) && n >= 1 && n <= MAX_WORKERS) workers = n;
    else problems.push(`workers=${JSON.stringify(workersRaw)}: expected an integer from 1 to ${MAX_WORKERS}`);
  }

  const tokenFile = path('SIGCERT_CONTROL_TOKEN_FILE');
  const settings: Settings = {
    host,
    httpPort: int('SIGCERT_PORT_HTTP', DEFAULT_HTTP_PORT, 0, 65535),
    tlsPort: optionalPort('SIGCERT_PORT_TLS'),
    adminPort: optionalPort('SIGCERT_PORT_ADMIN'),
    stateDir: path('SIGCERT_STATE_DIR') ?? join(cwd, 'state'),
    configPath: path('SIGCERT_CONFIG'),
    conformance: env.SIGCERT_CONFORMANCE === '1',
    graceMs: int('SIGCERT_GRACE_MS', DEFAULT_GRACE_MS, 1, 3_600_000),
    predrainMs: int('SIGCERT_PREDRAIN_MS', 0, 0, 3_600_000),
    fifoPath: path('SIGCERT_FIFO'),
    controlToken: env.SIGCERT_CONTROL_TOKEN || undefined,
    controlTokenFile: tokenFile,
    startupDelayMs: int('SIGCERT_STARTUP_DELAY_MS', 0, 0, 3_600_000),
    bindHoldMs: int('SIGCERT_BIND_HOLD_MS', 0, 0, 3_600_000),
    logFile: path('SIGCERT_LOG_FILE'),
    codeVersion: env.SIGCERT_CODE_VERSION || undefined,
    fault,
    workers,
    trace: env.SIGCERT_TRACE === '1',
  };
  if (problems.length > 0) throw new SettingsError(`invalid settings:\n  ${problems.join('\n  ')}`);
  return settings;
}

/** The value of `--workers N` / `--workers=N`, or undefined; other arguments are problems. */
function workersArgument(argv: readonly string[], problems: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--workers') {
      value = argv[++i];
      if (value === undefined) problems.push('--workers needs a number');
    } else if (arg.startsWith('--workers=')) value = arg.slice('--workers='.length);
    else if (arg !== '--help' && arg !== '-h') problems.push(`unknown argument ${JSON.stringify(arg)}`);
  }
  return value;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
