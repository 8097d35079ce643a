/**
 * The index file `store.index`: a compact binary open-addressing hash table, key -> {offset,
 * length} of the key's latest record, plus the log length it covers and a CRC-32 over the file.
 *
 * ```
 * offset      size     field
 *      0         4     magic 0x31494753 (u32 LE; the bytes "SGI1" on disk)
 *      4         4     entry count N (u32 LE)
 *      8         4     slot count S (u32 LE; a power of two, S >= 2N)
 *     12         8     covered log length (u64 LE)
 *     20      4 * S    slots: file position of an entry (u32 LE), 0 = empty; linear probing from
 *                      fnv1a32(key) & (S - 1)
 * 20 + 4S        ...   N entries, back to back: record offset (u48 LE, 6 bytes), record length
 *                      (u32 LE), key length K (u8), key (K ASCII bytes)
 * size - 4       4     CRC-32 of every byte before it (u32 LE)
 * ```
 *
 * Why a hash table and not JSON or a sorted list: loading must be much faster than a log scan.
 * Loading this file is one read plus one CRC pass (native `zlib.crc32` runs at GB/s); nothing is
 * parsed per key. Lookups probe the loaded buffer directly (`IndexTable.get`), so the cost of
 * building a 1M-entry `Map` is never paid at startup. Writing is O(N) (no sort).
 *
 * Written atomically by `writeIndexFile`: temp file, fsync, rename over, fsync the directory.
 * A reader therefore sees either the old complete file or the new complete file; the CRC catches
 * anything else (bit rot, a foreign file, a truncated copy).
 */
import { open, readFile, rename } from 'node:fs/promises';
import { crc32 } from './crc32.js';
import { fsyncDir, isErrno, writeAll } from './fs-util.js';

export const INDEX_MAGIC = 0x31494753;
const HEADER_BYTES = 20;
const ENTRY_FIXED_BYTES = 11; // offset u48 + length u32 + key length u8
const CRC_BYTES = 4;
/** Slot values and entry positions are u32, so the whole file must stay below 4 GiB. */
const MAX_INDEX_BYTES = 0xffffffff;

/** Where a key's latest record lives in the log. */
export interface Location {
  offset: number;
  length: number;
}

/** FNV-1a (32-bit) over the key's ASCII bytes. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

/** A read-only view of a loaded, verified index file. Lookups read the buffer; nothing is copied. */
export class IndexTable {
  private readonly mask: number;
  private readonly entriesStart: number;

  constructor(
    private readonly buf: Buffer,
    readonly count: number,
    slotCount: number,
    readonly logLength: number,
  ) {
    this.mask = slotCount - 1;
    this.entriesStart = HEADER_BYTES + 4 * slotCount;
  }

  get(key: string): Location | undefined {
    const pos = this.find(key);
    if (pos === 0) return undefined;
    return { offset: this.buf.readUIntLE(pos, 6), length: this.buf.readUInt32LE(pos + 6) };
  }

  has(key: string): boolean {
    return this.find(key) !== 0;
  }

  /** All entries, in file order. */
  *entries(): Generator<[string, Location]> {
    const buf = this.buf;
    let pos = this.entriesStart;
    for (let i = 0; i < this.count; i++) {
      const keyLength = buf[pos + 10]!;
      const key = buf.toString('latin1', pos + ENTRY_FIXED_BYTES, pos + ENTRY_FIXED_BYTES + keyLength);
      yield [key, { offset: buf.readUIntLE(pos, 6), length: buf.readUInt32LE(pos + 6) }];
      pos += ENTRY_FIXED_BYTES + keyLength;
    }
  }

  /** File position of the entry for `key`, or 0. */
  private find(key: string): number {
    const buf = this.buf;
    let slot = hashKey(key) & this.mask;
    for (let probes = 0; probes <= this.mask; probes++) {
      const pos = buf.readUInt32LE(HEADER_BYTES + 4 * slot);
      if (pos === 0) return 0;
      if (buf[pos + 10] === key.length && keyEquals(buf, pos + ENTRY_FIXED_BYTES, key)) return pos;
      slot = (slot + 1) & this.mask;
    }
    return 0;
  }
}

function keyEquals(buf: Buffer, start: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) if (buf[start + i] !== key.charCodeAt(i)) return false;
  return true;
}

/** Serialises `count` entries covering a log of `logLength` bytes into the index file format. */
export function encodeIndex(entries: Iterable<[string, Location]>, count: number, logLength: number): Buffer {
  const entryList: [string, Location][] = [];
  let entryBytes = 0;
  for (const entry of entries) {
    entryList.push(entry);
    entryBytes += ENTRY_FIXED_BYTES + entry[0].length;
  }
  if (entryList.length !== count) throw new Error(`index has ${entryList.length} entries, expected ${count}`);
  let slotCount = 2;
  while (slotCount < 2 * count) slotCount *= 2;
  const total = HEADER_BYTES + 4 * slotCount + entryBytes + CRC_BYTES;
  if (total > MAX_INDEX_BYTES) throw new RangeError(`index of ${total} bytes exceeds the 4 GiB format limit`);

  const buf = Buffer.alloc(total); // zeroed: empty slots are 0
  buf.writeUInt32LE(INDEX_MAGIC, 0);
  buf.writeUInt32LE(count, 4);
  buf.writeUInt32LE(slotCount, 8);
  buf.writeBigUInt64LE(BigInt(logLength), 12);
  const mask = slotCount - 1;
  let pos = HEADER_BYTES + 4 * slotCount;
  for (const [key, { offset, length }] of entryList) {
    buf.writeUIntLE(offset, pos, 6);
    buf.writeUInt32LE(length, pos + 6);
    buf[pos + 10] = key.length;
    buf.write(key, pos + ENTRY_FIXED_BYTES, 'latin1');
    let slot = hashBytes(buf, pos + ENTRY_FIXED_BYTES, pos + ENTRY_FIXED_BYTES + key.length) & mask;
    while (buf.readUInt32LE(HEADER_BYTES + 4 * slot) !== 0) slot = (slot + 1) & mask;
    buf.writeUInt32LE(pos, HEADER_BYTES + 4 * slot);
    pos += ENTRY_FIXED_BYTES + key.length;
  }
  buf.writeUInt32LE(crc32(buf, 0, pos), pos);
  return buf;
}

export type IndexLoad = { ok: true; table: IndexTable } | { ok: false; reason: string };

/**
 * Verifies an index file image against the actual log length. Returns the table, or why the
 * index cannot be trusted (then the caller scans the log).
 */
export function decodeIndex(buf: Buffer, actualLogLength: number): IndexLoad {
  if (buf.length < HEADER_BYTES + 2 * 4 + CRC_BYTES) return { ok: false, reason: 'index corrupt: file too short' };
  if (buf.readUInt32LE(0) !== INDEX_MAGIC) return { ok: false, reason: 'index corrupt: bad magic' };
  const crcPos = buf.length - CRC_BYTES;
  if (crc32(buf, 0, crcPos) !== buf.readUInt32LE(crcPos)) {
    return { ok: false, reason: 'index corrupt: checksum mismatch' };
  }
  const count = buf.readUInt32LE(4);
  const slotCount = buf.readUInt32LE(8);
  const logLength = Number(buf.readBigUInt64LE(12));
  const slotsEnd = HEADER_BYTES + 4 * slotCount;
  const powerOfTwo = slotCount >= 2 && (slotCount & (slotCount - 1)) === 0;
  if (!powerOfTwo || slotCount < 2 * count || slotsEnd + count * (ENTRY_FIXED_BYTES + 1) > crcPos) {
    return { ok: false, reason: 'index corrupt: inconsistent header' };
  }
  if (logLength !== actualLogLength) {
    return { ok: false, reason: `index stale: covers ${logLength} log bytes, log has ${actualLogLength}` };
  }
  return { ok: true, table: new IndexTable(buf, count, slotCount, logLength) };
}

/** Reads and verifies the index file at `path`; a missing file is reported, not thrown. */
export async function loadIndexFile(path: string, actualLogLength: number): Promise<IndexLoad> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { ok: false, reason: 'index missing' };
    throw err;
  }
  return decodeIndex(buf, actualLogLength);
}

/** Atomically replaces `path` with `image`: write `tmpPath`, fsync, rename over, fsync `dir`. */
export async function writeIndexFile(dir: string, path: string, tmpPath: string, image: Buffer): Promise<void> {
  const handle = await open(tmpPath, 'w');
  try {
    await writeAll(handle, image, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmpPath, path);
  await fsyncDir(dir);
}
