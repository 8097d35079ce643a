/**
 * `Store`: the durable key-value store of the reference server. Ties together the log
 * (`log.ts`), the record codec (`record.ts`), group commit (`group-commit.ts`), the in-memory
 * index (`key-index.ts`), the index file (`index-file.ts`) and the recovery scan (`scan.ts`).
 * The format and the crash-safety argument are in `index.ts`.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fsyncDir, removeIfExists } from './fs-util.js';
import { GroupCommit } from './group-commit.js';
import { encodeIndex, loadIndexFile, writeIndexFile } from './index-file.js';
import { KeyIndex } from './key-index.js';
import { LogFile } from './log.js';
import { assertStorable, encodeRecord, parseRecord } from './record.js';
import { scanLog } from './scan.js';

export const LOG_FILE = 'store.log';
export const INDEX_FILE = 'store.index';
export const INDEX_TMP_FILE = 'store.index.tmp';

/** A batch is closed once it holds this many bytes (a single larger record still goes alone). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

export interface RecoveryReport {
  /** `clean`: a valid index matching the log was loaded, no scan. `scan`: the log was read and verified. */
  mode: 'clean' | 'scan';
  /** Live records (distinct keys) after recovery; equals `store.size`. */
  records: number;
  /** Bytes cut off the end of the log (torn or corrupt tail); always 0 in `clean` mode. */
  truncatedBytes: number;
  /** `scan` only: why the index was not used, and where/why the log was truncated, if it was. */
  reason?: string;
}

export interface StoreOptions {
  dir: string;
  /** Default true. false: one fsync per put (benchmark baseline). */
  groupCommit?: boolean;
  /** Test-only (`SIGCERT_FAULT=slow-store`): each batch is acknowledged this long after its write, a slow sync. */
  batchDelayMs?: number;
}

interface WriteItem {
  key: string;
  record: Buffer;
}

export class Store {
  private closed = false;
  private closing: Promise<void> | undefined;
  private persisting: Promise<unknown> = Promise.resolve();
  private fsyncs = 0;
  private writes = 0;
  /** Log length covered by `index`: advanced together with it, synchronously, after each fsync. */
  private indexedEnd: number;
  /**
   * The log length a valid `store.index` on disk covers, or undefined when there is none. While it
   * equals `indexedEnd` the index file is current and `persistIndex()` has nothing to write.
   */
  private indexFileCovers: number | undefined;
  private readonly committer: GroupCommit<WriteItem>;

  private constructor(
    private readonly dir: string,
    private readonly log: LogFile,
    private readonly index: KeyIndex,
    groupCommit: boolean,
    indexFileCovers: number | undefined,
    private readonly batchDelayMs: number,
  ) {
    this.indexedEnd = log.end;
    this.indexFileCovers = indexFileCovers;
    this.committer = new GroupCommit<WriteItem>({
      flush: (items) => this.flush(items),
      grouped: groupCommit,
      maxBatchBytes: MAX_BATCH_BYTES,
    });
  }

  /**
   * Opens the store in `opts.dir` (created if missing), recovering as needed. A valid index file
   * (mode `clean`) stays where it is until the first append of this session removes it (`flush`);
   * any other index file is removed before this resolves. Either way, from the first append on a
   * crash finds no index and forces a scan at the next open.
   */
  static async open(opts: StoreOptions): Promise<{ store: Store; recovery: RecoveryReport }> {
    const dir = resolve(opts.dir);
    const firstCreated = await mkdir(dir, { recursive: true });
    if (firstCreated !== undefined) await fsyncNewDirs(firstCreated, dir);

    const { log, created } = await LogFile.open(join(dir, LOG_FILE));
    try {
      let dirChanged = created;
      if (await removeIfExists(join(dir, INDEX_TMP_FILE))) dirChanged = true;

      const logLength = log.end;
      const loaded = await loadIndexFile(join(dir, INDEX_FILE), logLength);
      let index: KeyIndex;
      let recovery: RecoveryReport;
      if (loaded.ok) {
        index = new KeyIndex(loaded.table);
        recovery = { mode: 'clean', records: index.size, truncatedBytes: 0 };
      } else {
        const scan = await scanLog(log, logLength);
        const truncatedBytes = logLength - scan.validEnd;
        if (truncatedBytes > 0) await log.truncate(scan.validEnd);
        index = scan.index;
        const reason = scan.stop === undefined ? loaded.reason : `${loaded.reason}; log truncated: ${scan.stop}`;
        recovery = { mode: 'scan', records: index.size, truncatedBytes, reason };
      }

      // A clean index matches the log byte for byte and stays until the first append (`flush`);
      // a stale or corrupt one goes now, before anything can truncate or grow the log further.
      if (recovery.mode === 'scan' && (await removeIfExists(join(dir, INDEX_FILE)))) dirChanged = true;
      if (dirChanged) await fsyncDir(dir);
      const covers = recovery.mode === 'clean' ? logLength : undefined;
      return { store: new Store(dir, log, index, opts.groupCommit ?? true, covers, opts.batchDelayMs ?? 0), recovery };
    } catch (err) {
      log.close();
      throw err;
    }
  }

  /**
   * Stores `value` under `key`; resolves only after the record is on disk (fdatasync). The value
   * is copied before this returns, so the caller may reuse the buffer. Rejects with a TypeError
   * or RangeError for an invalid key or value, and after `close()`.
   */
  put(key: string, value: Buffer): Promise<void> {
    try {
      assertStorable(key, value);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new Error('store is closed'));
    const record = encodeRecord(key, value);
    return this.committer.submit({ key, record }, record.length);
  }

  /**
   * The latest durable value of `key`, read from the log and verified (CRC and key) on every
   * call; throws if the record on disk no longer verifies.
   */
  async get(key: string): Promise<Buffer | undefined> {
    assertStorable(key);
    if (this.closed) throw new Error('store is closed');
    const location = this.index.get(key);
    if (location === undefined) return undefined;
    const buf = await this.log.read(location.offset, location.length);
    const parsed = parseRecord(buf, 0, buf.length);
    if (parsed.kind !== 'record' || parsed.key !== key || parsed.length !== location.length) {
      const why = parsed.kind === 'corrupt' ? parsed.reason : 'record does not match the index';
      throw new Error(`store corrupt: record for ${key} at offset ${location.offset}: ${why}`);
    }
    return buf.subarray(parsed.valueStart, parsed.valueEnd);
  }

  /** All keys with a durable value, sorted (code unit order). O(n log n): not for hot paths. */
  keys(): string[] {
    return this.index.keys().sort();
  }

  /** Number of keys with a durable value. */
  get size(): number {
    return this.index.size;
  }

  /**
   * Atomically writes the index file covering every put() called before this call (it waits for
   * those to become durable). Puts made after it make the index stale, which the next open detects
   * (log longer than covered) and answers with a scan. Allowed after `close()`. When the index file
   * on disk already covers exactly those records (nothing was appended since it was loaded or last
   * written) nothing is written: `written` is false.
   */
  persistIndex(): Promise<{ records: number; written: boolean }> {
    const run = this.persisting.then(async () => {
      await this.committer.barrier();
      // Snapshot index and covered length in one synchronous step: no flush can interleave.
      const records = this.index.size;
      const covers = this.indexedEnd;
      // The index file on disk already covers exactly these records: nothing to write, no fsync.
      if (this.indexFileCovers === covers) return { records, written: false };
      const image = encodeIndex(this.index.entries(), records, covers);
      await writeIndexFile(this.dir, join(this.dir, INDEX_FILE), join(this.dir, INDEX_TMP_FILE), image);
      // A batch appended while the file was written makes it stale (detected at open: the log is
      // longer than it covers); the next flush removes it all the same.
      this.indexFileCovers = covers;
      return { records, written: true };
    });
    this.persisting = run.catch(() => undefined);
    return run;
  }

  /** Rejects new puts, waits for pending ones (and a running persistIndex), closes the log. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.committer.idle();
      await this.persisting;
      this.log.close();
    })();
    return this.closing;
  }

  /** `fsyncs`: log fsyncs on the put path; `writes`: records appended. Recovery/index I/O excluded. */
  stats(): { fsyncs: number; writes: number } {
    return { fsyncs: this.fsyncs, writes: this.writes };
  }

  /**
   * One batch: one write, one fdatasync, then the index learns about the now-durable records. The
   * first batch after an index file was loaded or written removes that file durably first: from
   * then on until the next `persistIndex()` a crash finds no index and scans.
   */
  private async flush(items: WriteItem[]): Promise<void> {
    if (this.indexFileCovers !== undefined) {
      if (await removeIfExists(join(this.dir, INDEX_FILE))) await fsyncDir(this.dir);
      this.indexFileCovers = undefined;
    }
    const bytes = items.length === 1 ? items[0]!.record : Buffer.concat(items.map((i) => i.record));
    const start = await this.log.append(bytes);
    // test-only slow sync: the batch is in the log, but acknowledged (and indexed) only this much later
    if (this.batchDelayMs > 0) await delay(this.batchDelayMs);
    this.fsyncs++;
    this.writes += items.length;
    let offset = start;
    for (const { key, record } of items) {
      this.index.set(key, { offset, length: record.length });
      offset += record.length;
    }
    this.indexedEnd = offset;
  }
}

/** Makes newly created directories `firstCreated` .. `dir` durable in their parents. */
async function fsyncNewDirs(firstCreated: string, dir: string): Promise<void> {
  let current = dir;
  for (;;) {
    await fsyncDir(dirname(current));
    if (current === firstCreated || dirname(current) === current) return;
    current = dirname(current);
  }
}
