/**
 * Human-readable log lines on stderr, or in the file named by `SIGCERT_LOG_FILE`, which
 * `reopen()` reopens (the `reopen-logs` action, after logrotate moved the old file away). With a
 * file, error lines go to stderr as well: whoever started the process (a supervisor, the harness)
 * reads why it failed where it looks first, without knowing where the file is.
 *
 * Writes are synchronous (`fs.writeSync`): a line is out before the next statement, which matters
 * for the last lines before `process.exit`. A write error never propagates: a vanished stderr
 * (EPIPE, edge case E37) must not take the server down.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export class LineLogger implements Logger {
  private fd: number;

  /** `file`: append to this path instead of stderr. */
  constructor(readonly file?: string) {
    this.fd = file === undefined ? 2 : openSync(file, 'a');
  }

  info(msg: string): void {
    this.line('info', msg);
  }

  warn(msg: string): void {
    this.line('warn', msg);
  }

  error(msg: string): void {
    this.line('error', msg);
    if (this.file !== undefined) this.line('error', msg, 2);
  }

  /** Opens the log file again by name (a new inode after rotation) and closes the old descriptor. */
  reopen(): void {
    if (this.file === undefined) return;
    const next = openSync(this.file, 'a');
    const old = this.fd;
    this.fd = next;
    closeSync(old);
  }

  close(): void {
    if (this.file === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = 2;
  }

  private line(level: string, msg: string, fd = this.fd): void {
    const text = `${new Date().toISOString()} [${process.pid}] ${level.padEnd(5)} ${msg}\n`;
    const buf = Buffer.from(text);
    let off = 0;
    for (let tries = 0; off < buf.length && tries < 100; tries++) {
      try {
        off += writeSync(fd, buf, off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EINTR') return; // EPIPE, EBADF: drop the line
      }
    }
  }
}
