import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32Table } from '../../reference/src/store/crc32.js';
import { CRC32_IMPL, crc32, INDEX_FILE, LOG_FILE, MAX_VALUE_BYTES, Store } from '../../reference/src/store/index.js';
import { encodeRecord, RECORD_HEADER_BYTES } from '../../reference/src/store/record.js';

let root: string;
let dir: string;
const open_ = (groupCommit?: boolean) => Store.open({ dir, groupCommit });
const v = (s: string) => Buffer.from(s);
const logPath = () => join(dir, LOG_FILE);
const indexPath = () => join(dir, INDEX_FILE);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function flipByte(path: string, position: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, position);
    one[0] = one[0]! ^ 0xff;
    await handle.write(one, 0, 1, position);
  } finally {
    await handle.close();
  }
}

/** Writes `n` records k0..k{n-1} (value "value-i") and returns the log offset of each record. */
async function fill(store: Store, n: number): Promise<number[]> {
  const offsets: number[] = [];
  let offset = (await stat(logPath())).size;
  for (let i = 0; i < n; i++) {
    offsets.push(offset);
    await store.put(`k${i}`, v(`value-${i}`));
    offset += encodeRecord(`k${i}`, v(`value-${i}`)).length;
  }
  return offsets;
}

async function expectRecords(store: Store, n: number): Promise<void> {
  expect(store.size).toBe(n);
  for (let i = 0; i < n; i++) expect((await store.get(`k${i}`))?.toString()).toBe(`value-${i}`);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sigcert-store-'));
  dir = root;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('crc32', () => {
  it('matches the standard check value and zlib.crc32 where present', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    expect(CRC32_IMPL).toBe(typeof native === 'function' ? 'zlib' : 'table');
    for (const size of [1, 7, 64, 1000, 65_537]) {
      const data = randomBytes(size);
      expect(crc32Table(data)).toBe(crc32(data));
      expect(crc32Table(data, 1, size)).toBe(crc32(data, 1, size));
      if (native) expect(crc32Table(data)).toBe(native(data) >>> 0);
    }
  });
});

describe('Store', () => {
  it('round-trips values and creates the directory', async () => {
    dir = join(dir, 'nested', 'store');
    const { store, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'scan', records: 0, truncatedBytes: 0, reason: 'index missing' });
    await store.put('a', v('alpha'));
    await store.put('b.c_d-E9', Buffer.alloc(0));
    const big = randomBytes(100_000);
    await store.put('big', big);
    expect((await store.get('a'))?.toString()).toBe('alpha');
    expect((await store.get('b.c_d-E9'))?.length).toBe(0);
    expect((await store.get('big'))?.equals(big)).toBe(true);
    expect(await store.get('missing')).toBeUndefined();
    expect(store.keys()).toEqual(['a', 'b.c_d-E9', 'big']);
    expect(store.size).toBe(3);
    expect(store.stats().writes).toBe(3);
    await store.close();
  });

  it('overwrites: the last record for a key wins, before and after reopen', async () => {
    const { store } = await open_();
    await store.put('k', v('one'));
    await store.put('k', v('two'));
    await store.put('other', v('x'));
    await store.put('k', v('three'));
    expect((await store.get('k'))?.toString()).toBe('three');
    expect(store.size).toBe(2);
    await store.close();

    const scanned = await open_();
    expect(scanned.recovery).toMatchObject({ mode: 'scan', records: 2 });
    expect((await scanned.store.get('k'))?.toString()).toBe('three');
    await scanned.store.put('k', v('four'));
    await scanned.store.persistIndex();
    await scanned.store.close();

    const clean = await open_();
    expect(clean.recovery).toMatchObject({ mode: 'clean', records: 2 });
    expect((await clean.store.get('k'))?.toString()).toBe('four');
    await clean.store.close();
  });

  it('reopens clean after persistIndex, with all records; the first put removes the index', async () => {
    const { store } = await open_();
    await fill(store, 50);
    expect(await store.persistIndex()).toEqual({ records: 50, written: true });
    await store.close();
    expect(await exists(indexPath())).toBe(true);

    const reopened = await open_();
    expect(reopened.recovery).toEqual({ mode: 'clean', records: 50, truncatedBytes: 0 });
    expect(await exists(indexPath())).toBe(true); // still valid: nothing appended yet
    await expectRecords(reopened.store, 50);
    expect(reopened.store.keys()).toHaveLength(50);
    await reopened.store.put('k7', v('value-7, again'));
    expect(await exists(indexPath())).toBe(false); // gone (durably) before the append
    await reopened.store.close();

    // Not persisted again: the next open must scan.
    const again = await open_();
    expect(again.recovery).toMatchObject({ mode: 'scan', records: 50, truncatedBytes: 0, reason: 'index missing' });
    expect((await again.store.get('k7'))?.toString()).toBe('value-7, again');
    await again.store.close();
  });

  it('a session with no put keeps the index and persists without writing it', async () => {
    const { store } = await open_();
    await fill(store, 5);
    expect(await store.persistIndex()).toEqual({ records: 5, written: true });
    // Nothing appended since: a second persist writes nothing (no temp file, no rename).
    const before = await stat(indexPath());
    expect(await store.persistIndex()).toEqual({ records: 5, written: false });
    await store.close();

    for (let session = 0; session < 2; session++) {
      const s = await open_();
      expect(s.recovery).toEqual({ mode: 'clean', records: 5, truncatedBytes: 0 });
      expect((await s.store.get('k3'))?.toString()).toBe('value-3');
      expect(await s.store.persistIndex()).toEqual({ records: 5, written: false });
      await s.store.close();
    }
    const after = await stat(indexPath());
    expect(after.ino).toBe(before.ino); // the very file the first persist renamed into place
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('persist after a put writes the index again, and a put after that removes it again', async () => {
    const { store } = await open_();
    await fill(store, 2);
    expect(await store.persistIndex()).toEqual({ records: 2, written: true });
    await store.put('k2', v('value-2'));
    expect(await exists(indexPath())).toBe(false);
    expect(await store.persistIndex()).toEqual({ records: 3, written: true });
    expect(await exists(indexPath())).toBe(true);
    await store.close();
    const reopened = await open_();
    expect(reopened.recovery).toEqual({ mode: 'clean', records: 3, truncatedBytes: 0 });
    await expectRecords(reopened.store, 3);
    await reopened.store.close();
  });

  it('persistIndex() covers writes queued behind a slow batch (batchDelayMs, SIGCERT_FAULT=slow-store)', async () => {
    const { store } = await Store.open({ dir, batchDelayMs: 50 });
    // one batch in flight (k0 alone), then 20 puts queued behind it while it waits on the slow disk
    const first = store.put('k0', v('value-0'));
    await new Promise((r) => setImmediate(r)); // k0's batch has started
    const queued = Array.from({ length: 20 }, (_, i) => store.put(`k${i + 1}`, v(`value-${i + 1}`)));
    const persisted = await store.persistIndex(); // while k0's batch and the queued ones are pending
    expect(persisted).toEqual({ records: 21, written: true });
    await Promise.all([first, ...queued]);
    await store.close();
    const reopened = await open_();
    expect(reopened.recovery).toEqual({ mode: 'clean', records: 21, truncatedBytes: 0 });
    await expectRecords(reopened.store, 21);
    await reopened.store.close();
  });

  it('persists an empty index, and persistIndex() still works after close()', async () => {
    const empty = await open_();
    expect(await empty.store.persistIndex()).toEqual({ records: 0, written: true });
    await empty.store.close();
    const a = await open_();
    expect(a.recovery).toEqual({ mode: 'clean', records: 0, truncatedBytes: 0 });
    await a.store.put('k0', v('value-0'));
    await a.store.close();
    expect(await a.store.persistIndex()).toEqual({ records: 1, written: true });
    const b = await open_();
    expect(b.recovery).toEqual({ mode: 'clean', records: 1, truncatedBytes: 0 });
    await expectRecords(b.store, 1);
    await b.store.close();
  });

  it('reopens with a scan, with all records, when the index was not persisted', async () => {
    const { store } = await open_();
    await fill(store, 20);
    await store.close();
    const reopened = await open_();
    expect(reopened.recovery).toEqual({ mode: 'scan', records: 20, truncatedBytes: 0, reason: 'index missing' });
    await expectRecords(reopened.store, 20);
    await reopened.store.close();
  });

  it('clean open: lookups hit the loaded table, new writes overlay it, persisting merges both', async () => {
    const { store } = await open_();
    const n = 3000;
    await Promise.all(Array.from({ length: n }, (_, i) => store.put(`key-${i}`, v(`v${i}`))));
    await store.persistIndex();
    await store.close();

    const a = await open_();
    expect(a.recovery).toMatchObject({ mode: 'clean', records: n });
    for (let i = 0; i < n; i += 7) expect((await a.store.get(`key-${i}`))?.toString()).toBe(`v${i}`);
    expect(await a.store.get('key-3000')).toBeUndefined();
    expect(await a.store.get('key-')).toBeUndefined();
    await a.store.put('key-5', v('new5'));
    await a.store.put('extra', v('e'));
    expect(a.store.size).toBe(n + 1);
    expect(a.store.keys()).toEqual([...Array.from({ length: n }, (_, i) => `key-${i}`), 'extra'].sort());
    await a.store.persistIndex();
    await a.store.close();

    const b = await open_();
    expect(b.recovery).toMatchObject({ mode: 'clean', records: n + 1 });
    expect((await b.store.get('key-5'))?.toString()).toBe('new5');
    expect((await b.store.get('extra'))?.toString()).toBe('e');
    expect((await b.store.get('key-2999'))?.toString()).toBe('v2999');
    await b.store.close();
  });

  it('torn tail: truncates the partial record, keeps every complete one', async () => {
    const { store } = await open_();
    const offsets = await fill(store, 10);
    await store.close();
    const fullSize = (await stat(logPath())).size;
    await truncate(logPath(), fullSize - 3);

    const { store: reopened, recovery } = await open_();
    expect(recovery.mode).toBe('scan');
    expect(recovery.truncatedBytes).toBe(fullSize - 3 - offsets[9]!);
    expect(recovery.truncatedBytes).toBeGreaterThan(0);
    expect(recovery.reason).toMatch(/torn record .* at offset/);
    expect(recovery.records).toBe(9);
    await expectRecords(reopened, 9);
    expect(await reopened.get('k9')).toBeUndefined();
    expect((await stat(logPath())).size).toBe(offsets[9]);
    // New appends follow the valid prefix directly.
    await reopened.put('k9', v('value-9'));
    await reopened.close();
    const again = await open_();
    expect(again.recovery).toMatchObject({ mode: 'scan', truncatedBytes: 0, records: 10 });
    await expectRecords(again.store, 10);
    await again.store.close();
  });

  it('torn header (fewer bytes than a header) is truncated too', async () => {
    const { store } = await open_();
    const offsets = await fill(store, 3);
    await store.close();
    await truncate(logPath(), offsets[2]! + RECORD_HEADER_BYTES - 5);
    const { store: reopened, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'scan', records: 2, truncatedBytes: RECORD_HEADER_BYTES - 5 });
    expect((await stat(logPath())).size).toBe(offsets[2]);
    await reopened.close();
  });

  it('garbage appended to the log is truncated', async () => {
    const { store } = await open_();
    await fill(store, 5);
    await store.close();
    const size = (await stat(logPath())).size;
    await appendFile(logPath(), Buffer.from('this is not a record, just garbage'));

    const { store: reopened, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'scan', records: 5, truncatedBytes: 34 });
    expect(recovery.reason).toMatch(/bad magic at offset/);
    expect((await stat(logPath())).size).toBe(size);
    await expectRecords(reopened, 5);
    await reopened.close();
  });

  it('a checksum mismatch mid-log drops that record and everything after it', async () => {
    // Documented choice: order matters for last-writer-wins, so nothing after a corrupt record is kept.
    const { store } = await open_();
    const offsets = await fill(store, 6);
    await store.close();
    const size = (await stat(logPath())).size;
    await flipByte(logPath(), offsets[2]! + RECORD_HEADER_BYTES + 4); // inside record 2's payload

    const { store: reopened, recovery } = await open_();
    expect(recovery.mode).toBe('scan');
    expect(recovery.reason).toMatch(new RegExp(`checksum mismatch at offset ${offsets[2]}`));
    expect(recovery.records).toBe(2);
    expect(recovery.truncatedBytes).toBe(size - offsets[2]!);
    expect((await stat(logPath())).size).toBe(offsets[2]);
    await expectRecords(reopened, 2);
    for (const k of ['k2', 'k3', 'k4', 'k5']) expect(await reopened.get(k)).toBeUndefined();
    await reopened.close();
  });

  it('a corrupt index (one flipped byte) forces a scan', async () => {
    const { store } = await open_();
    await fill(store, 30);
    await store.persistIndex();
    await store.close();
    const { size } = await stat(indexPath());
    await flipByte(indexPath(), Math.floor(size / 2));

    const { store: reopened, recovery } = await open_();
    expect(recovery).toEqual({
      mode: 'scan',
      records: 30,
      truncatedBytes: 0,
      reason: 'index corrupt: checksum mismatch',
    });
    expect(await exists(indexPath())).toBe(false);
    await expectRecords(reopened, 30);
    await reopened.close();
  });

  it('an index that is not an index (bad magic, too short) forces a scan', async () => {
    const { store } = await open_();
    await fill(store, 3);
    await store.close();
    await writeFile(indexPath(), 'x');
    const short = await open_();
    expect(short.recovery).toMatchObject({ mode: 'scan', records: 3, reason: 'index corrupt: file too short' });
    await short.store.close();
    await writeFile(indexPath(), Buffer.alloc(64, 7));
    const magic = await open_();
    expect(magic.recovery).toMatchObject({ mode: 'scan', records: 3, reason: 'index corrupt: bad magic' });
    await magic.store.close();
  });

  it('a stale index (log longer than it covers) forces a scan that sees the newer records', async () => {
    const { store } = await open_();
    await fill(store, 10);
    await store.persistIndex();
    const saved = await readFile(indexPath());
    await store.put('late', v('after the index'));
    await store.put('k0', v('overwritten after the index'));
    await store.close();
    // The store removed its index before the first append; put the old one back (say, a backup).
    await writeFile(indexPath(), saved);

    const { store: reopened, recovery } = await open_();
    expect(recovery.mode).toBe('scan');
    expect(recovery.reason).toMatch(/^index stale: covers \d+ log bytes, log has \d+$/);
    expect(recovery.records).toBe(11);
    expect((await reopened.get('late'))?.toString()).toBe('after the index');
    expect((await reopened.get('k0'))?.toString()).toBe('overwritten after the index');
    await reopened.close();
  });

  it('a leftover temp index from a crashed persistIndex is ignored and removed', async () => {
    const { store } = await open_();
    await fill(store, 2);
    await store.close();
    await writeFile(join(dir, 'store.index.tmp'), 'half-written');
    const { store: reopened, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'scan', records: 2, reason: 'index missing' });
    expect(await exists(join(dir, 'store.index.tmp'))).toBe(false);
    await reopened.close();
  });

  it('get() verifies the record it reads (clean mode trusts the index, not the bytes)', async () => {
    const { store } = await open_();
    const offsets = await fill(store, 3);
    await store.persistIndex();
    await store.close();
    const { store: reopened, recovery } = await open_();
    expect(recovery.mode).toBe('clean');
    await flipByte(logPath(), offsets[1]! + RECORD_HEADER_BYTES + 3);
    await expect(reopened.get('k1')).rejects.toThrow(/store corrupt: record for k1 .* checksum mismatch/);
    expect((await reopened.get('k2'))?.toString()).toBe('value-2');
    await reopened.close();
  });

  it('scans records larger than the scan buffer', async () => {
    const { store } = await open_();
    const huge = randomBytes(5 * 1024 * 1024 + 17);
    await store.put('before', v('b'));
    await store.put('huge', huge);
    await store.put('after', v('a'));
    await store.close();
    const { store: reopened, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'scan', records: 3, truncatedBytes: 0 });
    expect((await reopened.get('huge'))?.equals(huge)).toBe(true);
    expect((await reopened.get('after'))?.toString()).toBe('a');
    await reopened.close();
  });

  it('validates keys and values', async () => {
    const { store } = await open_();
    for (const key of ['', 'a b', 'k/'.repeat(2), 'é', 'x'.repeat(129)]) {
      await expect(store.put(key, v('x'))).rejects.toThrow(TypeError);
      await expect(store.get(key)).rejects.toThrow(TypeError);
    }
    await expect(store.put('ok', 'text' as unknown as Buffer)).rejects.toThrow(TypeError);
    await expect(store.put('too-big', Buffer.alloc(MAX_VALUE_BYTES + 1))).rejects.toThrow(RangeError);
    const max = Buffer.alloc(MAX_VALUE_BYTES, 1);
    await store.put('x'.repeat(128), max);
    expect((await store.get('x'.repeat(128)))?.equals(max)).toBe(true);
    expect(store.stats().writes).toBe(1);
    await store.close();
  });

  it('close() waits for pending puts; puts after close are rejected', async () => {
    const { store } = await open_();
    const pending = Array.from({ length: 8 }, (_, i) => store.put(`p${i}`, v(`${i}`)));
    const closed = store.close();
    await expect(store.put('late', v('x'))).rejects.toThrow(/closed/);
    await Promise.all(pending);
    await closed;
    expect(store.stats().writes).toBe(8);
    const { store: reopened } = await open_();
    expect(reopened.size).toBe(8);
    await reopened.close();
  });

  it('close() during reads: the running reads complete, the descriptor closes after them', async () => {
    const { store } = await open_();
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    await store.put('big', big);
    await store.put('small', v('small'));
    const reads = [store.get('big'), store.get('small'), store.get('big')];
    await store.close();
    const [a, b, c] = await Promise.all(reads);
    expect(a?.equals(big)).toBe(true);
    expect(b?.toString()).toBe('small');
    expect(c?.equals(big)).toBe(true);
    await expect(store.get('small')).rejects.toThrow(/closed/);
  });

  it('persistIndex() covers every put called before it, even if still in flight', async () => {
    const { store } = await open_();
    const puts = Array.from({ length: 10 }, (_, i) => store.put(`k${i}`, v(`value-${i}`)));
    const persisted = await store.persistIndex();
    expect(persisted.records).toBe(10);
    await Promise.all(puts);
    await store.close();
    const { store: reopened, recovery } = await open_();
    expect(recovery).toMatchObject({ mode: 'clean', records: 10 });
    await expectRecords(reopened, 10);
    await reopened.close();
  });

  it('group commit: 16 concurrent puts share far fewer than 16 fsyncs, all durable', async () => {
    const { store } = await open_(true);
    await Promise.all(Array.from({ length: 16 }, (_, i) => store.put(`g${i}`, randomBytes(256))));
    const { fsyncs, writes } = store.stats();
    expect(writes).toBe(16);
    expect(fsyncs).toBeGreaterThanOrEqual(1);
    expect(fsyncs).toBeLessThan(16);
    // Puts arriving while a batch is being written + fsynced are queued and share the next fsync.
    const first = store.put('first', v('1'));
    await Promise.resolve(); // the committer takes [first] and starts writing it
    await Promise.resolve();
    const rest = Array.from({ length: 15 }, (_, i) => store.put(`later${i}`, v(`${i}`)));
    await Promise.all([first, ...rest]);
    expect(store.stats().fsyncs - fsyncs).toBe(2);
    await store.close();
    const { store: reopened } = await open_();
    expect(reopened.size).toBe(32);
    await reopened.close();
  });

  it('groupCommit: false fsyncs once per write', async () => {
    const { store } = await open_(false);
    await Promise.all(Array.from({ length: 16 }, (_, i) => store.put(`s${i}`, randomBytes(256))));
    expect(store.stats()).toEqual({ fsyncs: 16, writes: 16 });
    await store.close();
    const { store: reopened } = await open_();
    expect(reopened.size).toBe(16);
    await reopened.close();
  });

  it('log bytes are exactly the encoded records', async () => {
    const { store } = await open_();
    await store.put('a', v('1'));
    await store.put('b', v('22'));
    await store.close();
    expect(
      (await readFile(logPath())).equals(Buffer.concat([encodeRecord('a', v('1')), encodeRecord('b', v('22'))])),
    ).toBe(true);
  });
});
