/**
 * Every `npm test` replays the regression corpus (test/property/corpus/*.json) directly, without
 * fast-check: a case against a subject built to be broken (`"expect": "violation"`) must still find
 * the same kind of violation (so the corpus is a regression test of the fuzzer itself); any other
 * case must pass (its subject was fixed).
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCorpus, replayCase } from '../../harness/src/fuzz/index.js';
import { teardownAll } from '../../harness/src/launch/index.js';

const corpus = loadCorpus(path.join(import.meta.dirname, 'corpus'));

afterAll(async () => {
  await teardownAll();
});

describe.skipIf(process.platform === 'win32')('the regression corpus', () => {
  it('is not empty', () => {
    expect(corpus.length).toBeGreaterThan(0);
  });
  for (const { file, entry } of corpus) {
    const name = path.basename(file);
    const want = entry.expect === 'violation' ? `still finds ${entry.violation.kind}` : 'passes';
    it(`${name}: ${want}`, async () => {
      const r = await replayCase(entry, {
        attempts: entry.expect === 'violation' ? 3 : 1,
        out: (l) => console.log(`[corpus] ${name}: ${l}`),
      });
      if (entry.expect === 'violation') {
        expect(r.violation?.kind ?? 'no violation').toBe(entry.violation.kind);
      } else {
        expect(r.violation).toBeNull();
      }
      expect(r.asExpected).toBe(true);
    });
  }
});
