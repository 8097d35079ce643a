/**
 * Bounded subject logs: `stdout.log` / `stderr.log` keep the first and the last `LOG_KEEP_BYTES`
 * (4 MiB) of each stream, so a subject that writes 100 MB leaves at most about 8 MiB per stream in the
 * run directory. Bytes in between are replaced by one line,
 * `[sigcert: N bytes omitted; this log keeps the first and the last 4 MiB of the stream]`, and the history
 * gets a `log-truncated` event (stream, file, total, kept and omitted bytes).
 *
 * The head is written to the file as it arrives (so a short log can be read while the subject runs); the
 * tail is held in memory (at most LOG_KEEP_BYTES plus one chunk) and written when the log is finished, at
 * teardown. The harness reads the pipe continuously, so a flooding subject is never blocked for long, and
 * nothing ever waits for the pipe to end: teardown gives it a short drain and then closes it.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { oneLine } from './errors.js';

/** N: the first N and the last N bytes of each subject stream are kept. */
export const LOG_KEEP_BYTES = 4 * 1024 * 1024;

export interface LogTruncation {
  stream: string;
  path: string;
  totalBytes: number;
  keptBytes: number;
  omittedBytes: number;
  keepBytes: number;
}

function mib(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/** The last non-empty line of a log text, without terminal escapes, on one line (for error messages). */
export function lastNonEmptyLine(text: string): string | null {
  const lines = text
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  return last === undefined ? null : oneLine(last, 200);
}

export class BoundedLog {
  private fd: number | null;
  private head = 0;
  private total = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private source: Readable | null = null;
  private ended = false;
  private endWaiters: (() => void)[] = [];
  /** the last 64 KiB of the head, for lastLine() while no tail exists */
  private headEnd: Buffer = Buffer.alloc(0);

  constructor(
    readonly path: string,
    readonly stream: string,
    readonly keepBytes: number = LOG_KEEP_BYTES,
  ) {
    this.fd = openSync(path, 'w');
  }

  /** Read `source` (the subject's pipe) until it ends or `finish()` is called. */
  attach(source: Readable | null): void {
    if (source === null) {
      this.markEnded();
      return;
    }
    this.source = source;
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.on('error', () => undefined); // the subject is gone; 'close' follows
    source.once('end', () => this.markEnded());
    source.once('close', () => this.markEnded());
  }

  private markEnded(): void {
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
  }

  /** Resolves when every writer closed the stream, or after `ms` (then the stream is simply closed). */
  async drained(ms: number): Promise<void> {
    if (this.ended) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((r) => {
      timer = setTimeout(r, ms);
      this.endWaiters.push(r);
    });
    clearTimeout(timer);
  }

  push(chunk: Buffer): void {
    if (this.fd === null) return;
    this.total += chunk.length;
    let rest = chunk;
    if (this.head < this.keepBytes) {
      const take = Math.min(this.keepBytes - this.head, rest.length);
      writeSync(this.fd, rest, 0, take);
      this.head += take;
      this.headEnd = Buffer.concat([this.headEnd, rest.subarray(0, take)]).subarray(-64 * 1024);
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.length ?? 0) >= this.keepBytes) {
      this.tailBytes -= this.tail.shift()?.length ?? 0;
    }
  }

  /** Last non-empty line written so far (ANSI colours removed), or null. */
  lastLine(): string | null {
    const recent = this.tailBytes > 0 ? Buffer.concat(this.tail).subarray(-64 * 1024) : this.headEnd;
    return lastNonEmptyLine(recent.toString('utf8'));
  }

  /** The last `bytes` bytes written so far, as text (for a search such as the port-race check). */
  recentText(bytes = 8 * 1024): string {
    const recent = this.tailBytes > 0 ? Buffer.concat(this.tail).subarray(-bytes) : this.headEnd.subarray(-bytes);
    return recent.toString('utf8');
  }

  /** Write the tail (after the omission line when bytes were dropped) and close. Idempotent. */
  finish(): LogTruncation | null {
    if (this.fd === null) return null;
    this.source?.removeAllListeners('data');
    this.source?.destroy();
    const fd = this.fd;
    this.fd = null;
    try {
      let tail = Buffer.concat(this.tail);
      if (tail.length > this.keepBytes) tail = tail.subarray(tail.length - this.keepBytes);
      const omitted = this.total - this.head - tail.length;
      if (omitted > 0) {
        writeSync(
          fd,
          `\n[sigcert: ${omitted} bytes omitted; this log keeps the first and the last ${mib(this.keepBytes)} of the stream]\n`,
        );
      }
      if (tail.length > 0) writeSync(fd, tail);
      this.tail = [];
      if (omitted <= 0) return null;
      return {
        stream: this.stream,
        path: this.path,
        totalBytes: this.total,
        keptBytes: this.head + tail.length,
        omittedBytes: omitted,
        keepBytes: this.keepBytes,
      };
    } finally {
      closeSync(fd);
    }
  }
}
