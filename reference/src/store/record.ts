/**
 * The log record codec: one self-checking record per `put()`.
 *
 * ```
 * offset  size  field
 *      0     4  magic 0x31524753 (u32 LE; the bytes "SGR1" on disk)
 *      4     4  payload length P (u32 LE) = 1 + K + V
 *      8     4  CRC-32 of the payload (u32 LE)
 *     12     1  key length K (1..128)
 *     13     K  key, ASCII [A-Za-z0-9._-]
 *   13+K     V  value (0..16 MiB)
 * ```
 *
 * A record is valid only if the magic matches, P is within limits, all 12 + P bytes are present
 * and the CRC over the payload matches. A corrupted length field is caught either by the limit
 * check, by running past the end of the file (a torn record) or by the CRC (the checksummed range
 * moves), so the length needs no checksum of its own.
 */
import { crc32 } from './crc32.js';

/** Bytes "SGR1" read as a little-endian u32. */
export const RECORD_MAGIC = 0x31524753;
export const RECORD_HEADER_BYTES = 12;
export const MAX_KEY_BYTES = 128;
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Largest legal payload: key-length byte + longest key + largest value. */
export const MAX_PAYLOAD_BYTES = 1 + MAX_KEY_BYTES + MAX_VALUE_BYTES;
export const MAX_RECORD_BYTES = RECORD_HEADER_BYTES + MAX_PAYLOAD_BYTES;

export const KEY_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_PATTERN.test(key);
}

/** Throws a TypeError / RangeError describing why `key`/`value` cannot be stored. */
export function assertStorable(key: unknown, value?: unknown): void {
  if (!isValidKey(key)) throw new TypeError(`invalid key ${JSON.stringify(key)}: must match ${KEY_PATTERN}`);
  if (value === undefined) return;
  if (!Buffer.isBuffer(value)) throw new TypeError('value must be a Buffer');
  if (value.length > MAX_VALUE_BYTES) {
    throw new RangeError(`value of ${value.length} bytes exceeds the limit of ${MAX_VALUE_BYTES} bytes`);
  }
}

/** Total on-disk size of the record for `key` (ASCII) and a value of `valueBytes` bytes. */
export function recordSize(key: string, valueBytes: number): number {
  return RECORD_HEADER_BYTES + 1 + key.length + valueBytes;
}

/**
 * Encodes one record into `target` at `pos` and returns the position after it. The caller has
 * validated key and value (see `assertStorable`) and sized `target` with `recordSize`.
 */
export function writeRecord(target: Buffer, pos: number, key: string, value: Uint8Array): number {
  const payloadStart = pos + RECORD_HEADER_BYTES;
  const payloadLength = 1 + key.length + value.length;
  target[payloadStart] = key.length;
  target.write(key, payloadStart + 1, 'latin1');
  target.set(value, payloadStart + 1 + key.length);
  const end = payloadStart + payloadLength;
  target.writeUInt32LE(RECORD_MAGIC, pos);
  target.writeUInt32LE(payloadLength, pos + 4);
  target.writeUInt32LE(crc32(target, payloadStart, end), pos + 8);
  return end;
}

/** Encodes one record into a fresh buffer. */
export function encodeRecord(key: string, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(recordSize(key, value.length));
  writeRecord(out, 0, key, value);
  return out;
}

export type ParsedRecord =
  /** A complete, verified record of `length` bytes; its value is `buf[valueStart, valueEnd)`. */
  | { kind: 'record'; key: string; length: number; valueStart: number; valueEnd: number }
  /** Not enough bytes in `buf[pos, end)`: the record (or its header) needs `need` bytes from `pos`. */
  | { kind: 'incomplete'; need: number }
  /** The bytes at `pos` are not a valid record. */
  | { kind: 'corrupt'; reason: string };

/** Parses and verifies the record starting at `buf[pos]`, looking no further than `buf[end - 1]`. */
export function parseRecord(buf: Buffer, pos: number, end: number): ParsedRecord {
  const available = end - pos;
  if (available < RECORD_HEADER_BYTES) {
    // A partial header can still be recognised as garbage early if its magic bytes are wrong.
    for (let i = 0; i < Math.min(available, 4); i++) {
      if (buf[pos + i] !== (RECORD_MAGIC >>> (8 * i)) % 256) return { kind: 'corrupt', reason: 'bad magic' };
    }
    return { kind: 'incomplete', need: RECORD_HEADER_BYTES };
  }
  if (buf.readUInt32LE(pos) !== RECORD_MAGIC) return { kind: 'corrupt', reason: 'bad magic' };
  const payloadLength = buf.readUInt32LE(pos + 4);
  if (payloadLength < 2 || payloadLength > MAX_PAYLOAD_BYTES) {
    return { kind: 'corrupt', reason: `impossible payload length ${payloadLength}` };
  }
  const length = RECORD_HEADER_BYTES + payloadLength;
  if (available < length) return { kind: 'incomplete', need: length };
  const payloadStart = pos + RECORD_HEADER_BYTES;
  const recordEnd = pos + length;
  if (crc32(buf, payloadStart, recordEnd) !== buf.readUInt32LE(pos + 8)) {
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  }
  const keyLength = buf[payloadStart]!;
  const keyEnd = payloadStart + 1 + keyLength;
  if (keyLength === 0 || keyLength > MAX_KEY_BYTES || keyEnd > recordEnd) {
    return { kind: 'corrupt', reason: `impossible key length ${keyLength}` };
  }
  const key = buf.toString('latin1', payloadStart + 1, keyEnd);
  if (!KEY_PATTERN.test(key)) return { kind: 'corrupt', reason: 'invalid key bytes' };
  return { kind: 'record', key, length, valueStart: keyEnd, valueEnd: recordEnd };
}
