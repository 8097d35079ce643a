/**
 * The short crash soak (`npm run soak` runs 100 kills): 10 SIGKILLs at random moments (startup, store
 * recovery, under 4 concurrent writers) on one state directory of the reference; every acknowledged write
 * must read back intact. The seed is printed; reproduce with SOAK_SEED=<seed>.
 */
import { expect, it } from 'vitest';
import { formatSoak, runSoak } from '../../bench/soak.js';

it('10 kills of the reference lose and corrupt no acknowledged write', async () => {
  const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const r = await runSoak({ kills: 10, writers: 4, maxDelayMs: 1200, seed });
  console.log(formatSoak(r, 4).join('\n'));
  expect(r.kills).toBe(10);
  expect(r.acknowledged).toBeGreaterThan(0);
  expect(r.examples).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.corrupt).toBe(0);
  expect(r.recoveryMs.length).toBeGreaterThan(0);
}, 180_000);
