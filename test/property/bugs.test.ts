/**
 * The fuzzer against its own subjects with a sequence-dependent bug: it must find each bug, shrink the
 * sequence to at most 4 commands, and do both within 60 s. The seed is fixed so CI generates the same
 * sequences every time (`SIGCERT_FUZZ_BUG_SEED=<n>` or `=random` tries another; the seed is printed).
 * The saved case is then replayed without fast-check and must reproduce the same violation.
 *
 * - hup-loses-write: a reload reopens the store; writes waiting for their group commit are
 *   acknowledged (201) but never written. Expected counterexample: `put, reload`.
 * - term-after-hup-lost: a stop signal that arrives while a reload runs is acknowledged, then
 *   dropped. Expected counterexample: `SIGHUP, SIGTERM` (or `reload, SIGTERM`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeCmd, parseEntry, replayCase, runFuzz } from '../../harness/src/fuzz/index.js';
import type { CmdSpec } from '../../harness/src/fuzz/operations.js';
import { teardownAll } from '../../harness/src/launch/index.js';

const here = import.meta.dirname;
const corpusDir = mkdtempSync(path.join(tmpdir(), 'sigcert-bugs-corpus-'));
const workDir = mkdtempSync(path.join(tmpdir(), 'sigcert-bugs-runs-'));
const LIMIT_MS = 60_000;
const FIXED_SEED = 4242;
const seedEnv = process.env.SIGCERT_FUZZ_BUG_SEED;

afterAll(async () => {
  await teardownAll();
  rmSync(corpusDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

const bugs = [
  { subject: 'hup-loses-write', kind: 'write-lost', requirement: 'DURABLE.ACK_AFTER_SYNC' },
  { subject: 'term-after-hup-lost', kind: 'stop-lost', requirement: 'REPEAT.STOP_DOMINATES' },
] as const;

describe.skipIf(process.platform === 'win32')('the fuzzer finds sequence-dependent bugs', () => {
  for (const bug of bugs) {
    it(`${bug.subject}: found and shrunk to at most 4 commands within ${LIMIT_MS / 1000} s`, async () => {
      const seed = seedEnv === 'random' ? (Math.random() * 0x7fffffff) | 0 : seedEnv ? Number(seedEnv) : FIXED_SEED;
      const lines: string[] = [];
      const r = await runFuzz({
        manifestFile: path.join(here, 'subjects', bug.subject, 'manifest.json'),
        runs: 300,
        seed,
        timeLimitMs: LIMIT_MS,
        corpusDir,
        workDir: path.join(workDir, bug.subject),
        out: (l) => lines.push(l),
      });
      const shrunk = (r.shrunk ?? []) as CmdSpec[];
      console.log(
        `[fuzz] ${bug.subject}: seed ${seed}; first failure after ${r.firstFailureMs} ms, shrunk (${r.numShrinks} steps) ` +
          `in ${r.elapsedMs} ms total to [${shrunk.map(describeCmd).join(', ')}]; ${r.sequences} sequences\n  ${lines.join('\n  ')}`,
      );
      expect(r.ok).toBe(false);
      expect(r.error).toBeUndefined();
      expect(r.violation?.kind).toBe(bug.kind);
      expect(r.violation?.requirement).toBe(bug.requirement);
      expect(shrunk.length).toBeGreaterThan(0);
      expect(shrunk.length).toBeLessThanOrEqual(4);
      expect(r.elapsedMs).toBeLessThanOrEqual(LIMIT_MS);
      expect(r.savedCase).toBeDefined();

      // the saved case: data, marked as a zoo entry (the manifest lists `breaks`), and replayable
      const entry = parseEntry(JSON.parse(readFileSync(r.savedCase!, 'utf8')), r.savedCase!);
      expect(entry.expect).toBe('violation');
      expect(entry.seed).toBe(seed);
      expect(entry.subject).toBe(`test/property/subjects/${bug.subject}/manifest.json`);
      const replay = await replayCase(entry, { attempts: 3, workDir: path.join(workDir, `${bug.subject}-replay`) });
      expect(replay.reproduced).toBe(true);
    });
  }
});
