/**
 * Recovery scan: read the log front to back, verify every record, rebuild the index, and find
 * where the valid prefix ends.
 *
 * The scan stops at the FIRST record that is torn (runs past end of file) or corrupt (bad magic,
 * impossible length, CRC mismatch, bad key). Everything from there on is dropped, even if valid
 * records follow a corrupt one in the middle: (1) after a bad length field the next record
 * boundary cannot be trusted, and (2) skipping a record would break last-writer-wins - if the
 * damaged record was the newest write of key K, recovery would resurrect an older value of K next
 * to later writes, a state that never existed. A prefix of the history always did exist.
 */

import { KeyIndex } from './key-index.js';
import type { LogFile } from './log.js';
import { parseRecord } from './record.js';

export const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

export interface ScanResult {
  index: KeyIndex;
  /** Length of the valid prefix; bytes past it are torn or corrupt. */
  validEnd: number;
  /** Why the scan stopped before `logLength`, if it did. */
  stop?: string;
}

export async function scanLog(log: LogFile, logLength: number, chunkBytes = SCAN_CHUNK_BYTES): Promise<ScanResult> {
  const index = new KeyIndex();
  let buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(logLength, 1)));
  let bufStart = 0; // file position of buf[0]
  let bufLength = 0; // valid bytes in buf
  let pos = 0; // file position of the next record

  const result = (stop?: string): ScanResult =>
    stop === undefined ? { index, validEnd: pos } : { index, validEnd: pos, stop: `${stop} at offset ${pos}` };

  while (pos < logLength) {
    const rel = pos - bufStart;
    const parsed = parseRecord(buf, rel, bufLength);
    if (parsed.kind === 'record') {
      index.set(parsed.key, { offset: pos, length: parsed.length });
      pos += parsed.length;
      continue;
    }
    if (parsed.kind === 'corrupt') return result(parsed.reason);

    // Incomplete in the buffer: either the record is torn, or we need the next chunk.
    const fileLeft = logLength - pos;
    if (parsed.need > fileLeft) return result(`torn record (needs ${parsed.need} bytes, ${fileLeft} present)`);
    const keep = bufLength - rel;
    if (parsed.need > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(parsed.need, chunkBytes));
      buf.copy(bigger, 0, rel, bufLength);
      buf = bigger;
    } else {
      buf.copy(buf, 0, rel, bufLength);
    }
    bufStart = pos;
    const want = Math.min(buf.length - keep, logLength - (bufStart + keep));
    const got = await log.readInto(buf.subarray(0, keep + want), keep, bufStart + keep);
    bufLength = keep + got;
    if (got < want) return result('log shrank during scan');
  }
  return result();
}
