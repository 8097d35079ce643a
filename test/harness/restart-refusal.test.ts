/**
 * A restart asked for while an old generation still drains may be refused (RESTART.BOUNDED_GENERATIONS:
 * "refused (and logged) or deferred"). restart.bounded-generations asks for restart 3 while generation 1
 * still drains a held request, and three restarts back to back: a subject that refuses them must pass,
 * the refused restart being asked for once more after the grace period. The subject is the zoo base with
 * ZOO_RESTART_REFUSE=1 (a correct choice, not a bug); the base that merges them instead is base-control,
 * and the one that starts a third generation is the zoo's restart-overlap.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import { runCases } from '../../harness/src/runner.js';
import type { Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const out = mkdtempSync(path.join(tmpdir(), 'sigcert-restart-refusal-'));

afterAll(async () => {
  await teardownAll();
  rmSync(out, { recursive: true, force: true });
});

describe.skipIf(process.platform === 'win32')('a refused overlapping restart', () => {
  it('restart.bounded-generations passes a base that refuses restarts while one runs, having asked again', {
    timeout: 180_000,
  }, async () => {
    const base = loadManifest(path.join(root, 'test/zoo/base-control/manifest.json'));
    const manifest: Manifest = { ...base, env: { ...base.env, ZOO_RESTART_REFUSE: '1' } };
    const { results } = await runCases({
      manifest,
      cases: await loadCases(manifest),
      outDir: out,
      grep: /^restart\.bounded-generations$/,
      concurrency: 1,
    });
    expect(
      results.map((r) => r.outcome),
      JSON.stringify(results[0]?.verdicts.map((v) => [v.requirement, v.status, v.actual])),
    ).toEqual(['pass']);
    const history = JSON.parse(readFileSync(path.join(results[0]!.runDir!, 'history.json'), 'utf8')) as {
      events: { source: string; kind: string; data: Record<string, unknown> }[];
    };
    const notes = (kind: string) => history.events.filter((e) => e.source === 'case' && e.kind === kind);
    // restart 3 came while generation 1 drained: refused, then asked again and complete
    expect(notes('restart-missed').map((e) => e.data.i)).toContain(3);
    expect(notes('completion').find((e) => e.data.i === 3)?.data).toMatchObject({ retried: true, how: 'probe' });
    const refused = history.events.filter((e) => e.source === 'probe' && e.data.ev === 'restart-failed');
    expect(refused.length).toBeGreaterThan(0);
  });
});
