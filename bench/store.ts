/**
 * Store benchmark (not part of `npm test`):
 *
 *   node --import tsx bench/store.ts [--writes 2000] [--records 1000000] [--trials 5] [--dir /tmp]
 *
 * 1. Durable writes per second, 16 concurrent writers, `--writes` puts in total: group commit vs
 *    fsync-per-write (`groupCommit: false`). Goal: >= 10x.
 * 2. `Store.open` time over a log of `--records` small records: with a valid index (clean) vs with
 *    the index removed (scan). Goal: >= 10x. The log is built directly through the record codec in
 *    large batches with one fsync, not through put().
 *
 * Prints a Markdown table of medians over `--trials` trials (part 1 after one untimed warm-up
 * round per mode). Use a `--dir` on a real disk: on tmpfs
 * fsync is free and (1) measures nothing.
 */
import { copyFile, type FileHandle, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CRC32_IMPL, INDEX_FILE, LOG_FILE, Store } from '../reference/src/store/index.js';
import { recordSize, writeRecord } from '../reference/src/store/record.js';

const { values: args } = parseArgs({
  options: {
    writes: { type: 'string', default: '2000' },
    records: { type: 'string', default: '1000000' },
    trials: { type: 'string', default: '5' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const WRITES = Number(args.writes);
const RECORDS = Number(args.records);
const TRIALS = Math.max(1, Number(args.trials));
const WRITERS = 16;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(args.dir, 'sigcert-store-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One trial of part 1: returns durable puts per second and fsyncs used. */
async function writeTrial(groupCommit: boolean): Promise<{ perSecond: number; fsyncs: number }> {
  return withTempDir(async (dir) => {
    const { store } = await Store.open({ dir, groupCommit });
    const value = Buffer.alloc(100, 0x61);
    const perWriter = Math.ceil(WRITES / WRITERS);
    const start = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) await store.put(`w${w}-${i}`, value);
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const { fsyncs, writes } = store.stats();
    await store.close();
    return { perSecond: writes / seconds, fsyncs };
  });
}

/** Writes `n` records k0000000.. with 16-byte values straight through the codec, one fsync. */
async function buildLog(path: string, n: number): Promise<void> {
  const value = Buffer.alloc(16, 0x62);
  const handle: FileHandle = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
    let used = 0;
    let position = 0;
    for (let i = 0; i < n; i++) {
      const key = `k${String(i).padStart(7, '0')}`;
      if (used + recordSize(key, value.length) > chunk.length) {
        await handle.write(chunk, 0, used, position);
        position += used;
        used = 0;
      }
      used = writeRecord(chunk, used, key, value);
    }
    await handle.write(chunk, 0, used, position);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Puts the saved index back as `persistIndex()` would leave it: contents and directory entry
 * already durable. (Otherwise the timed open's directory fsync would pay for flushing the copy.)
 */
async function restoreIndex(saved: string, dir: string): Promise<void> {
  const path = join(dir, INDEX_FILE);
  await copyFile(saved, path);
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Removes the index (durably, untimed), as a crash after the first put of a session leaves it. */
async function removeIndex(dir: string): Promise<void> {
  await rm(join(dir, INDEX_FILE));
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

async function timedOpen(dir: string, expected: 'clean' | 'scan'): Promise<number> {
  const start = performance.now();
  const { store, recovery } = await Store.open({ dir });
  const ms = performance.now() - start;
  if (recovery.mode !== expected || recovery.records !== RECORDS) {
    throw new Error(`expected ${expected} with ${RECORDS} records, got ${JSON.stringify(recovery)}`);
  }
  await store.close();
  return ms;
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version} ${process.platform}/${process.arch}, crc32=${CRC32_IMPL}, dir=${args.dir}, trials=${TRIALS}\n`,
  );

  // Part 1: group commit vs fsync-per-write.
  const grouped: { perSecond: number; fsyncs: number }[] = [];
  const single: { perSecond: number; fsyncs: number }[] = [];
  // One untimed round first: JIT warm-up and the first fsyncs of a fresh process are much slower.
  await writeTrial(true);
  await writeTrial(false);
  for (let t = 0; t < TRIALS; t++) {
    grouped.push(await writeTrial(true));
    single.push(await writeTrial(false));
  }
  const groupedRate = median(grouped.map((r) => r.perSecond));
  const singleRate = median(single.map((r) => r.perSecond));

  // Part 2: index load vs log scan.
  const { cleanMs, scanMs, logBytes, indexBytes, buildMs } = await withTempDir(async (dir) => {
    const buildStart = performance.now();
    await buildLog(join(dir, LOG_FILE), RECORDS);
    const first = await Store.open({ dir }); // scan, then write the index once
    await first.store.persistIndex();
    await first.store.close();
    const built = performance.now() - buildStart;
    const saved = join(dir, 'index.saved');
    await copyFile(join(dir, INDEX_FILE), saved);
    const [logStat, indexStat] = await Promise.all([stat(join(dir, LOG_FILE)), stat(saved)]);

    const clean: number[] = [];
    const scan: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      await restoreIndex(saved, dir);
      clean.push(await timedOpen(dir, 'clean')); // a session with no put keeps the index
      await removeIndex(dir);
      scan.push(await timedOpen(dir, 'scan'));
    }
    return {
      cleanMs: median(clean),
      scanMs: median(scan),
      logBytes: logStat.size,
      indexBytes: indexStat.size,
      buildMs: built,
    };
  });

  const ok = (ratio: number) => (ratio >= 10 ? 'yes' : 'NO');
  const writeRatio = groupedRate / singleRate;
  const openRatio = scanMs / cleanMs;
  console.log(`| benchmark | fast path | baseline | ratio | goal >= 10x | trials |`);
  console.log(`|---|---:|---:|---:|:---:|---:|`);
  console.log(
    `| durable puts/s, ${WRITERS} writers, ${fmt(WRITES)} puts: group commit vs fsync-per-write | ` +
      `${fmt(groupedRate)}/s (${fmt(median(grouped.map((r) => r.fsyncs)))} fsyncs) | ` +
      `${fmt(singleRate)}/s (${fmt(median(single.map((r) => r.fsyncs)))} fsyncs) | ${fmt(writeRatio, 1)}x | ${ok(writeRatio)} | ${TRIALS} |`,
  );
  console.log(
    `| Store.open, ${fmt(RECORDS)} records: index load vs log scan | ${fmt(cleanMs, 1)} ms | ` +
      `${fmt(scanMs, 1)} ms | ${fmt(openRatio, 1)}x | ${ok(openRatio)} | ${TRIALS} |`,
  );
  console.log(
    `\nlog ${fmt(logBytes / 2 ** 20, 1)} MiB, index ${fmt(indexBytes / 2 ** 20, 1)} MiB; ` +
      `building the log + first scan + persistIndex took ${fmt(buildMs)} ms. Medians over ${TRIALS} trials.`,
  );
}

await main();
