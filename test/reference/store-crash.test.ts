/**
 * Crash safety with real SIGKILL: a child process writes with 8 concurrent writers and prints an
 * `ack` line after each put() resolved; we SIGKILL it after a random number of acks, reopen the
 * store here and require every acked key with its acked value, a `scan` recovery, and every
 * surviving record intact. Lanes reuse their directory for several rounds, so recovery is also
 * exercised on logs that were recovered (and possibly truncated) before.
 *
 * Kill points come from a seeded PRNG; the seed is printed. Reproduce with STORE_CRASH_SEED=<seed>.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Store } from '../../reference/src/store/index.js';
import { hashOf, valueFor } from './fixtures/store-values.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');
const WRITER = join(HERE, 'fixtures', 'store-writer.ts');

const LANES = 10;
const ROUNDS_PER_LANE = 5; // 50 kill points
const CONCURRENT_LANES = 3;
const WRITERS = 8;
const MAX_ACKS_BEFORE_KILL = 150;
const DEADLINE_MS = 20_000;

/** mulberry32: tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rejects with `what` if `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms exceeded: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

interface RoundResult {
  acks: Map<string, string>;
  signal: NodeJS.Signals | null;
}

/** Runs one writer child, SIGKILLs it after `killAfter` acks, returns every ack it printed. */
async function runRound(dir: string, round: number, killAfter: number): Promise<RoundResult> {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', WRITER, dir, String(round), String(WRITERS)],
    { cwd: REPO_ROOT, stdio: 'pipe' },
  );
  const acks = new Map<string, string>();
  let stderr = '';
  let partial = '';
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveClose) =>
    child.once('close', (code, signal) => resolveClose({ code, signal })),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => undefined); // EPIPE once the child is gone

  try {
    await withDeadline(
      new Promise<void>((resolveAcks, rejectAcks) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop()!; // only complete lines count
          for (const line of lines) {
            const [tag, key, hash] = line.split(' ');
            if (tag === 'ack' && key && hash) acks.set(key, hash);
          }
          if (acks.size >= killAfter) resolveAcks();
        });
        child.once('error', rejectAcks);
        child.once('exit', (code, signal) => {
          if (acks.size < killAfter)
            rejectAcks(new Error(`writer exited early (code ${code}, signal ${signal}): ${stderr}`));
        });
      }),
      DEADLINE_MS,
      `waiting for ${killAfter} acks from writer (round ${round}); stderr: ${stderr}`,
    );
    if (alive() && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    // 'close' fires after exit AND after stdout is drained: every ack the child printed is read.
    const { signal } = await withDeadline(closed, DEADLINE_MS, 'waiting for the killed writer to exit');
    return { acks, signal };
  } finally {
    if (alive() && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await withDeadline(closed, DEADLINE_MS, 'waiting for the writer to exit after cleanup kill');
    }
  }
}

/** Reopens the store and checks it against every ack so far; returns the recovery report. */
async function verify(dir: string, acked: Map<string, string>, context: string) {
  const { store, recovery } = await Store.open({ dir });
  try {
    expect(recovery.mode, context).toBe('scan');
    const problems: string[] = [];
    for (const [key, hash] of acked) {
      const value = await store.get(key);
      if (value === undefined) problems.push(`acked ${key} missing`);
      else if (hashOf(value) !== hash) problems.push(`acked ${key} has hash ${hashOf(value)}, acked ${hash}`);
    }
    for (const key of store.keys()) {
      const value = await store.get(key); // throws if the record no longer verifies
      if (!value?.equals(valueFor(key))) problems.push(`record ${key} has a wrong value`);
    }
    expect(problems, context).toEqual([]);
    expect(recovery.records, context).toBe(store.size);
    return recovery;
  } finally {
    await store.close();
  }
}

describe('Store crash safety (real SIGKILL)', () => {
  it(`keeps every acknowledged write across ${LANES * ROUNDS_PER_LANE} kill points`, async () => {
    const seed = process.env.STORE_CRASH_SEED ? Number(process.env.STORE_CRASH_SEED) : randomInt(2 ** 31);
    console.log(`store crash test: seed=${seed} (reproduce with STORE_CRASH_SEED=${seed})`);
    const rng = mulberry32(seed);
    // Drawn up front, so the sequence does not depend on how lanes interleave.
    const killPoints = Array.from({ length: LANES }, () =>
      Array.from({ length: ROUNDS_PER_LANE }, () => 1 + Math.floor(rng() * MAX_ACKS_BEFORE_KILL)),
    );
    let kills = 0;
    let truncations = 0;
    let totalAcks = 0;

    let failed = false;
    const runLane = async (lane: number) => {
      const dir = await mkdtemp(join(tmpdir(), `sigcert-store-crash-${lane}-`));
      const acked = new Map<string, string>();
      try {
        for (let round = 0; round < ROUNDS_PER_LANE && !failed; round++) {
          const killAfter = killPoints[lane]![round]!;
          const context = `seed=${seed} lane=${lane} round=${round} killAfter=${killAfter}`;
          const { acks, signal } = await runRound(dir, round, killAfter);
          expect(signal, context).toBe('SIGKILL');
          expect(acks.size, context).toBeGreaterThanOrEqual(killAfter);
          for (const [key, hash] of acks) acked.set(key, hash);
          kills++;
          totalAcks += acks.size;
          const recovery = await verify(dir, acked, context);
          if (recovery.truncatedBytes > 0) truncations++;
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    };

    // On the first failure the other lanes finish their current round (killing their child) and
    // stop; allSettled makes sure no child outlives the test.
    let next = 0;
    const results = await Promise.allSettled(
      Array.from({ length: CONCURRENT_LANES }, async () => {
        while (next < LANES && !failed) {
          try {
            await runLane(next++);
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      }),
    );
    for (const result of results) if (result.status === 'rejected') throw result.reason;
    console.log(`store crash test: ${kills} kills, ${totalAcks} acks verified, ${truncations} recoveries truncated`);
    expect(kills).toBe(LANES * ROUNDS_PER_LANE);
  });
});
