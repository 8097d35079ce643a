import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../harness/src/workload.js';

describe('pollUntil: a bounded look at something without an event', () => {
  it('returns the first value the look sees, after as many looks as it took', async () => {
    let looks = 0;
    const got = await pollUntil(() => (++looks >= 3 ? `seen at ${looks}` : null), 5_000, 1);
    expect(got).toBe('seen at 3');
    expect(looks).toBe(3);
  });

  it('returns null only once the deadline has passed, having kept looking until then', async () => {
    const started = Date.now();
    let looks = 0;
    const got = await pollUntil(
      () => {
        looks++;
        return undefined;
      },
      30,
      5,
    );
    expect(got).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
    expect(looks).toBeGreaterThanOrEqual(2);
  });

  it('keeps a falsy value that is not null or undefined (0, "", false)', async () => {
    expect(await pollUntil(() => 0, 1_000, 1)).toBe(0);
    expect(await pollUntil(() => false, 1_000, 1)).toBe(false);
  });
});
