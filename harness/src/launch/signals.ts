/**
 * Which signals the harness can really deliver, per platform.
 *
 * POSIX (Linux, macOS): every standard signal of that platform (real-time signals are not named by Node).
 * SIGBREAK exists only as a Windows console event; Node cannot send it anywhere.
 *
 * Windows: Node (libuv `uv__kill`) turns SIGINT, SIGTERM, SIGQUIT and SIGKILL into TerminateProcess():
 * they "arrive", but as an immediate forced kill, no handler runs. Nothing else can be sent, and a
 * process group cannot be signalled at all.
 */
import { constants } from 'node:os';

const COMMON_POSIX = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGSYS',
] as const;

const PLATFORM_SIGNALS: Partial<Record<NodeJS.Platform, readonly string[]>> = {
  linux: [...COMMON_POSIX, 'SIGSTKFLT', 'SIGPWR', 'SIGPOLL'],
  darwin: [...COMMON_POSIX, 'SIGEMT', 'SIGINFO'],
  win32: ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGKILL'],
};

/** Signals no handler can intercept. */
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

function isPosix(platform: NodeJS.Platform): boolean {
  return platform !== 'win32';
}

/** Can the harness deliver `sig` to a subject on `platform`? */
export function canDeliver(sig: string, platform: NodeJS.Platform = process.platform): boolean {
  const known = PLATFORM_SIGNALS[platform] ?? (isPosix(platform) ? COMMON_POSIX : []);
  if (!known.includes(sig)) return false;
  // On the running platform also trust only what Node itself knows.
  if (platform === process.platform && !(sig in constants.signals)) return false;
  return true;
}

/** Can the harness signal a whole process group on `platform`? */
export function canSignalGroup(platform: NodeJS.Platform = process.platform): boolean {
  return isPosix(platform);
}

export interface DeliverableSignal {
  name: string;
  /** the platform's number (only known for the running platform) */
  number: number | null;
  /** false when delivery is a forced kill the subject never sees (SIGKILL/SIGSTOP; everything on win32) */
  handlerRuns: boolean;
}

/** Every signal deliverable on `platform`, for `sigcert doctor`. */
export function listDeliverableSignals(platform: NodeJS.Platform = process.platform): DeliverableSignal[] {
  const known = PLATFORM_SIGNALS[platform] ?? (isPosix(platform) ? COMMON_POSIX : []);
  const signals = constants.signals as Record<string, number>;
  return known
    .filter((s) => canDeliver(s, platform))
    .map((name) => ({
      name,
      number: platform === process.platform ? (signals[name] ?? null) : null,
      handlerRuns: isPosix(platform) && !UNCATCHABLE.has(name),
    }));
}

/** Why `sig` cannot be delivered (one line), or null when it can. */
export function undeliverableReason(
  sig: string,
  opts: { group?: boolean; platform?: NodeJS.Platform } = {},
): string | null {
  const platform = opts.platform ?? process.platform;
  if (opts.group === true && !canSignalGroup(platform))
    return `process-group signals cannot be delivered on ${platform}`;
  if (!canDeliver(sig, platform)) return `${sig} cannot be delivered on ${platform}`;
  return null;
}
