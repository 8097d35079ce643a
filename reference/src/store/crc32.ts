/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the one zip/gzip/PNG use).
 *
 * `zlib.crc32` exists only from Node 20.15 / 22.2; where it is missing we fall back to the classic
 * table-driven loop below. Both produce identical values (the tests check that), so a log written
 * by one Node version verifies on another.
 */
import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array, start: number, end: number) => number;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Portable CRC-32 of `data[start, end)`. Exported so tests can compare it with `zlib.crc32`. */
export function crc32Table(data: Uint8Array, start = 0, end: number = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const impl: Crc32Fn =
  typeof native === 'function'
    ? (data, start, end) => native(start === 0 && end === data.length ? data : data.subarray(start, end), 0) >>> 0
    : crc32Table;

/** Which implementation is in use: `'zlib'` (native) or `'table'` (portable fallback). */
export const CRC32_IMPL: 'zlib' | 'table' = typeof native === 'function' ? 'zlib' : 'table';

/** CRC-32 of `data[start, end)` as an unsigned 32-bit number. */
export function crc32(data: Uint8Array, start = 0, end: number = data.length): number {
  return impl(data, start, end);
}
