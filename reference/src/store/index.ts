/**
 * The durable store of the reference server: an append-only log of checksummed records plus a
 * key -> offset index, in one directory. (The Zope FileStorage design, made measurable.)
 *
 * ## Files in the store directory
 *
 * - `store.log`    the log: records back to back, each `magic | length | CRC-32 | key length | key | value`
 *                  (exact layout in `record.ts`). Last record for a key wins.
 * - `store.index`  a binary hash table key -> {offset, length} of the latest record, the log
 *                  length it covers and a CRC-32 over the whole file (layout in `index-file.ts`).
 *                  Present from a clean `persistIndex()` until the next append to the log (in this
 *                  session or a later one): a session that writes nothing keeps it as it is.
 * - `store.index.tmp`  transient, while `persistIndex()` runs; deleted at open.
 *
 * ## Write path (`put`)
 *
 * The record is encoded and queued. One batch at a time is written with a single positional
 * write at the end of the log and made durable with a single `fdatasync`; puts that arrive
 * meanwhile form the next batch (group commit, `group-commit.ts`). A put resolves only after the
 * fdatasync covering its record returned, and only then does the in-memory index point at it.
 * With `groupCommit: false` each batch is one record (fsync-per-write).
 *
 * ## Open / recovery
 *
 * 1. If `store.index` exists, its CRC verifies and the log length it covers equals the actual log
 *    length, it is loaded as is (mode `clean`): nothing is read from the log, values are read
 *    lazily by offset and verified on each `get()`.
 * 2. Otherwise (missing, corrupt, stale) the log is scanned (mode `scan`, `scan.ts`): every record
 *    is verified and the index rebuilt; at the first torn or corrupt record the log is truncated
 *    there and fsynced. Everything after a corrupt record is dropped, because skipping it could
 *    resurrect an overwritten value (see `scan.ts`).
 * 3. An index that was not used (stale, corrupt) is deleted and the directory fsynced before
 *    `open()` resolves. A valid one stays: the first append of the session deletes it durably
 *    before it writes (so a crash from then on finds no index and scans), and `persistIndex()`
 *    writes nothing while it still covers exactly the log (a session with no put: the stop
 *    neither writes nor fsyncs). A clean stop after puts calls `persistIndex()`, which writes it.
 *
 * ## Why an acknowledged put survives a crash (SIGKILL or power loss)
 *
 * - Acked => durable: a put resolves after fdatasync returned for a write that contained its
 *   record. Batches are strictly sequential, so when batch k is acked every byte of batches 1..k
 *   is durable: the durable log is a prefix that contains every acked record, intact.
 * - The scan cannot cut an acked record: it stops only at a record that fails verification, and
 *   every record inside the durable prefix verifies, so the cut is at or after the prefix end.
 *   Only bytes of un-acked batches (a torn or half-persisted tail) are removed. Un-acked puts may
 *   or may not survive; acked ones always do. Replaying in log order restores last-writer-wins.
 * - Truncation is fsynced before any new append, so new records never follow old garbage.
 * - A stale index cannot be trusted by mistake: the log only grows during a session and is truncated
 *   only by a scan at open, which deletes the index durably before anything is appended; a valid
 *   index is deleted durably before the first append after it was loaded or written; and
 *   `persistIndex()` records the exact length of the durable records it indexes (snapshotted
 *   together, synchronously). After a crash the log is either that long - then its bytes are
 *   exactly those indexed - or longer, which is detected.
 * - The index file itself is replaced atomically (temp file, fsync, rename, directory fsync), so a
 *   reader sees a complete old file, a complete new file or none; the CRC catches anything else.
 *   Directory fsync is skipped on win32, where it is not possible.
 *
 * Assumptions: one process owns the directory (there is no lock); storage honours fdatasync (on
 * macOS fdatasync does not flush the drive cache - F_FULLFSYNC would be needed for power loss).
 * Limits: keys match `[A-Za-z0-9._-]{1,128}`, values up to 16 MiB, the log up to 2^48 bytes, the
 * index file below 4 GiB.
 */
export { CRC32_IMPL, crc32 } from './crc32.js';
export { KEY_PATTERN, MAX_VALUE_BYTES } from './record.js';
export { INDEX_FILE, LOG_FILE, type RecoveryReport, Store, type StoreOptions } from './store.js';
