/**
 * The append-only log file `store.log`: positional appends made durable with fdatasync, positional
 * reads, and truncation (recovery only). It knows nothing about records; see `record.ts`.
 *
 * Appends are serialised by the caller (the group committer runs one batch at a time), so `end`
 * is both the durable length and the position of the next append. After a failed write or fsync
 * the log refuses further appends: the kernel may already have dropped the dirty pages, so the
 * on-disk state is unknown and only a reopen (which scans and truncates) can re-establish it.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { isErrno, readFully, writeAll } from './fs-util.js';

export class LogFile {
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private length: number,
  ) {}

  /** Opens (or creates) the log; `created` tells the caller the directory entry is new. */
  static async open(path: string): Promise<{ log: LogFile; created: boolean }> {
    let handle: FileHandle;
    let created = false;
    try {
      handle = await open(path, 'r+');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      handle = await open(path, 'wx+');
      created = true;
    }
    try {
      const { size } = await handle.stat();
      return { log: new LogFile(path, handle, size), created };
    } catch (err) {
      await handle.close();
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
      await writeAll(this.handle, bytes, start);
      await this.handle.datasync();
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
    const got = await readFully(this.handle, buf, 0, offset);
    if (got !== length) throw new Error(`log ${this.path}: short read of ${got}/${length} bytes at ${offset}`);
    return buf;
  }

  /** Reads into `buf[offset..]` from file position `position`; returns bytes read (short only at EOF). */
  readInto(buf: Buffer, offset: number, position: number): Promise<number> {
    return readFully(this.handle, buf, offset, position);
  }

  /** Cuts the log to `length` bytes and fsyncs (size is metadata, so a full fsync). Recovery only. */
  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
    await this.handle.sync();
    this.length = length;
  }

  /** Closes the file descriptor (Node waits for operations still running on the handle). */
  close(): Promise<void> {
    return this.handle.close();
  }
}
