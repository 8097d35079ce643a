/**
 * The fuzzer against the reference server: a bounded number of random signal sequences (a fixed
 * seed, then a random one, both printed) must find no violation. Also measures the fuzzer's speed,
 * sequences per minute, and prints it.
 *
 * Longer runs: `SIGCERT_FUZZ_RUNS=200 SIGCERT_FUZZ_SEED=42 npx vitest run test/property/reference.test.ts`
 * (the defaults keep this file to about 30-60 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FuzzResult, runFuzz } from '../../harness/src/fuzz/index.js';
import { teardownAll } from '../../harness/src/launch/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const manifestFile = path.join(root, 'subjects/reference/manifest.json');
const corpusDir = mkdtempSync(path.join(tmpdir(), 'sigcert-reference-corpus-'));
const FIXED_SEED = 20_260_101;
const runs = Number(process.env.SIGCERT_FUZZ_RUNS ?? 25);
const envSeed = process.env.SIGCERT_FUZZ_SEED;
const results: FuzzResult[] = [];

afterAll(async () => {
  await teardownAll();
  if (results.every((r) => r.ok)) rmSync(corpusDir, { recursive: true, force: true });
  const sequences = results.reduce((n, r) => n + r.sequences, 0);
  const ms = results.reduce((n, r) => n + r.elapsedMs, 0);
  if (ms > 0) {
    console.log(
      `[fuzz] reference: ${sequences} sequences in ${(ms / 1000).toFixed(1)} s = ${((sequences / ms) * 60_000).toFixed(1)} sequences/min`,
    );
  }
});

async function fuzz(seed: number): Promise<FuzzResult> {
  const lines: string[] = [];
  const r = await runFuzz({
    manifestFile,
    runs,
    seed,
    // a loaded machine runs fewer sequences in the time, never more time (passing runs so far count)
    timeLimitMs: process.env.SIGCERT_FUZZ_RUNS ? runs * 10_000 : 30_000,
    corpusDir,
    out: (l) => lines.push(l),
  });
  results.push(r);
  console.log(`[fuzz] reference, seed ${seed}:\n  ${lines.join('\n  ')}`);
  return r;
}

describe.skipIf(process.platform === 'win32')('the reference under random signal sequences', () => {
  it(`fixed seed ${envSeed ?? FIXED_SEED}: no violation`, async () => {
    const r = await fuzz(envSeed !== undefined ? Number(envSeed) : FIXED_SEED);
    expect(r.violation ?? null).toBeNull();
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.runs).toBeGreaterThan(0);
  });

  it('random seed: no violation', async () => {
    const r = await fuzz((Math.random() * 0x7fffffff) | 0);
    expect(r.violation ?? null).toBeNull();
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.runs).toBeGreaterThan(0);
  });
});
