/**
 * The append-only log file `store.log`: positional appends made durable with fdatasync, positional
 * reads, and truncation (recovery only). It knows nothing about records; see `record.ts`.
 *
 * Appends are serialised by the caller (the group committer runs one batch at a time), so `end`
 * is both the durable length and the position of the next append. After a failed write or fsync
 * the log refuses further appends: the kernel may already have dropped the dirty pages, so the
 * on-disk state is unknown and only a reopen (which scans and truncates) can re-establish it.
 */
import { closeSync, fdatasync, fstat, fsync, ftruncate, open, read, write } from 'node:fs';
import { promisify } from 'node:util';
import { isErrno } from './fs-util.js';

const openP = promisify(open);
const fstatP = promisify(fstat);
const writeP = promisify(write);
const readP = promisify(read);
const fdatasyncP = promisify(fdatasync);
const fsyncP = promisify(fsync);
const ftruncateP = promisify(ftruncate);

/**
 * The log holds a plain descriptor, not a `FileHandle`: closing it is then one synchronous
 * `close(2)`, which the stop sequence can do without a round trip through libuv's thread pool (a
 * round trip waits for the event loop, which at a stop may be busy ending a thousand connections).
 * Closing a file never waits for the disk; durability comes from the fdatasyncs before it.
 */
export class LogFile {
  private failure: Error | undefined;
  private fd: number | undefined;
  /** Operations running on `fd` in the thread pool: it is closed only once none is left. */
  private running = 0;
  private closeRequested = false;

  private constructor(
    readonly path: string,
    fd: number,
    private length: number,
  ) {
    this.fd = fd;
  }

  /** Opens (or creates) the log; `created` tells the caller the directory entry is new. */
  static async open(path: string): Promise<{ log: LogFile; created: boolean }> {
    let fd: number;
    let created = false;
    try {
      fd = await openP(path, 'r+');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      fd = await openP(path, 'wx+');
      created = true;
    }
    try {
      const { size } = await fstatP(fd);
      return { log: new LogFile(path, fd, size), created };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Length of the log in bytes; every byte below it has been made durable (or was there at open). */
  get end(): number {
    return this.length;
  }

  /**
   * Writes `bytes` at the end of the log and fdatasyncs. Resolves with the offset the bytes start
   * at, only once they are durable. Callers must not overlap calls.
   */
  async append(bytes: Uint8Array): Promise<number> {
    if (this.failure) throw new Error(`log ${this.path} is unusable after an earlier failure`, { cause: this.failure });
    const start = this.length;
    try {
      await this.using(async (fd) => {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await writeP(fd, bytes, done, bytes.length - done, start + done);
          if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten} at ${start + done}`);
          done += bytesWritten;
        }
        await fdatasyncP(fd);
      });
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
    this.length = start + bytes.length;
    return start;
  }

  /** Reads exactly `length` bytes at `offset`. */
  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    const got = await this.readInto(buf, 0, offset);
    if (got !== length) throw new Error(`log ${this.path}: short read of ${got}/${length} bytes at ${offset}`);
    return buf;
  }

  /** Reads into `buf[offset..]` from file position `position`; returns bytes read (short only at EOF). */
  readInto(buf: Buffer, offset: number, position: number): Promise<number> {
    return this.using(async (fd) => {
      let done = 0;
      const want = buf.length - offset;
      while (done < want) {
        const { bytesRead } = await readP(fd, buf, offset + done, want - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    });
  }

  /** Cuts the log to `length` bytes and fsyncs (size is metadata, so a full fsync). Recovery only. */
  async truncate(length: number): Promise<void> {
    await this.using(async (fd) => {
      await ftruncateP(fd, length);
      await fsyncP(fd);
    });
    this.length = length;
  }

  /**
   * Closes the descriptor: at once (synchronously) when no operation runs on it, otherwise as
   * soon as the last one settles, so a descriptor number is never closed under a running read
   * (and then reused by another file). Operations started after this call reject.
   */
  close(): void {
    this.closeRequested = true;
    if (this.running === 0) this.release();
  }

  /** Runs `op` on the descriptor, counted, so `close()` waits for it. */
  private async using<T>(op: (fd: number) => Promise<T>): Promise<T> {
    const fd = this.fd;
    if (fd === undefined || this.closeRequested) throw new Error(`log ${this.path} is closed`);
    this.running++;
    try {
      return await op(fd);
    } finally {
      this.running--;
      if (this.running === 0 && this.closeRequested) this.release();
    }
  }

  private release(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    closeSync(fd);
  }
}
