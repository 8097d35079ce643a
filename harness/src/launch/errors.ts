/**
 * The launcher's errors. Every message is one line (newlines in quoted material are flattened), so a
 * report or a console line can show it as is.
 */
import type { ExitInfo } from '../types.js';

/** Flatten to one line and bound the length. */
export function oneLine(s: string, max = 300): string {
  const flat = s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A manifest that cannot be read or does not follow the schema. `pointer` is a JSON pointer ('' for the whole file). */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly file: string,
    readonly pointer: string | null,
    readonly problem: string,
  ) {
    super(oneLine(pointer === null ? `${file}: ${problem}` : `${file}: ${pointer || '/'}: ${problem}`, 500));
  }
}

/**
 * `harness`: the harness's own part of the launch failed (its slow upstream, its notify socket); every
 * other kind is the subject's or its manifest's (a `setup-failed` is the manifest's setup command).
 */
/**
 * How runtimes say a port is taken: Node and libuv (`EADDRINUSE`), the C library's strerror (Linux, Go,
 * Rust, Java, nginx, Caddy: "address already in use"), Python's `OSError(98, ...)` / errno 48 (macOS),
 * Rust's `os error 98`, Windows (`WSAEADDRINUSE`, 10048).
 */
export const ADDRESS_IN_USE =
  /EADDRINUSE|address already in use|address in use|errno 98\b|\[errno 48\]|os error (?:48|98)\b|WSAEADDRINUSE|\b10048\b/i;

export type LaunchErrorKind = 'not-found' | 'exited' | 'not-ready' | 'setup-failed' | 'bad-manifest' | 'harness';

/**
 * The subject could not be brought up. Never a requirement failure: at the preflight a run is then not
 * certified (exit 4; exit 3 for kind `harness`, exit 2 for `bad-manifest`); inside a case, an `exited`
 * launch fails the case's requirement (the subject did not start under the case's conditions,
 * grade/case.ts) unless its address was in use or a harness wrapper ran it; anything else is a harness
 * error.
 */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  readonly kind: LaunchErrorKind;
  /** the run marker of the failed launch (null when no process was started) */
  readonly runId: string | null;
  /** how the subject (or the setup command) ended, when it did */
  readonly exit: ExitInfo | null;
  /** last non-empty line the subject wrote to stderr, if any */
  readonly stderrTail: string | null;
  /**
   * The subject's last output (stderr and stdout, 8 KiB each) or the message says an address was in use
   * (`ADDRESS_IN_USE`): it lost a race for a port, no one's fault but the harness's luck.
   */
  readonly addressInUse: boolean;
  constructor(
    kind: LaunchErrorKind,
    message: string,
    extra: { runId?: string | null; exit?: ExitInfo | null; stderrTail?: string | null; output?: string } = {},
  ) {
    super(oneLine(message, 500));
    this.kind = kind;
    this.runId = extra.runId ?? null;
    this.exit = extra.exit ?? null;
    this.stderrTail = extra.stderrTail ?? null;
    this.addressInUse = ADDRESS_IN_USE.test(`${message}\n${extra.stderrTail ?? ''}\n${extra.output ?? ''}`);
  }
}

/** A wait for an observed event hit its deadline (or became impossible because the subject exited). */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly what: string,
    message: string,
  ) {
    super(oneLine(message, 500));
  }
}

/** The platform cannot deliver this signal (e.g. SIGHUP on win32). */
export class SignalUnsupportedError extends Error {
  override readonly name = 'SignalUnsupportedError';
  constructor(
    readonly signal: string,
    readonly platform: NodeJS.Platform,
    detail?: string,
  ) {
    super(oneLine(detail ?? `${signal} cannot be delivered on ${platform}`));
  }
}

/**
 * A signal asked for while the subject is graded as win32 (`--platform win32`, or Windows itself): Windows
 * has no POSIX signals, so no case may send one there; every request goes through the control channel.
 * A harness error (a case that tries is wrong), never a verdict on the subject.
 */
export class SignalRefusedError extends Error {
  override readonly name = 'SignalRefusedError';
  constructor(
    readonly signal: string,
    readonly platform: string,
  ) {
    super(
      oneLine(
        `refused to send ${signal}: the subject is graded as ${platform}, which has no POSIX signals (control channel only)`,
      ),
    );
  }
}

/** An action that needs a live subject (e.g. signal()) was asked for after its exit was observed. */
export class SubjectExitedError extends Error {
  override readonly name = 'SubjectExitedError';
  constructor(message: string) {
    super(oneLine(message));
  }
}

// one wording of an exit for the whole harness (grade/exit.ts)
export { describeExit } from '../grade/exit.js';
