/**
 * Blame the right party: a subject that exits with no stop asked of it, so that the case then cannot
 * go on (its port refuses), fails the requirement the exit violates; it is not a harness error.
 *
 * The subject is the zoo base with the bug `control-reload-exits` (a control-channel reload ends the
 * process), which three connections.ts mutants of issue 15 showed: `control.channel` used to end in
 * harness-error (exit 3) there. It is not a zoo folder: the lifecycle cells the zoo would then run for it
 * hit the exit at varying points, which would make its `breaks` list timing-dependent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import { runCases } from '../../harness/src/runner.js';
import type { Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const out = mkdtempSync(path.join(tmpdir(), 'sigcert-blame-exit-'));

afterAll(async () => {
  await teardownAll();
  rmSync(out, { recursive: true, force: true });
});

/** control.channel alone, against the zoo base with `bug` (or none). */
async function controlChannel(bug?: string) {
  const base = loadManifest(path.join(root, 'test/zoo/base-control/manifest.json'));
  const manifest: Manifest = bug ? { ...base, env: { ...base.env, ZOO_BUG: bug } } : base;
  const { results } = await runCases({
    manifest,
    cases: await loadCases(manifest),
    outDir: out,
    grep: /^control\.channel$/,
    concurrency: 1,
  });
  return results;
}

/** One case, against the zoo base with `bug`. */
async function runOne(grep: RegExp, bug: string) {
  const base = loadManifest(path.join(root, 'test/zoo/base-control/manifest.json'));
  const manifest: Manifest = { ...base, env: { ...base.env, ZOO_BUG: bug } };
  const { results } = await runCases({ manifest, cases: await loadCases(manifest), outDir: out, grep, concurrency: 1 });
  return results;
}

describe.skipIf(process.platform === 'win32')('a start the case asks for and the subject refuses is its fault', () => {
  it('durable.graceful-stop: a relaunch that exits on its own stale lock fails DURABLE.ACK_AFTER_SYNC, not the harness', async () => {
    const results = await runOne(/^durable\.graceful-stop$/, 'stale-store-lock');
    expect(results.map((r) => r.outcome)).toEqual(['fail']);
    const v = results[0]!.verdicts.find((x) => x.status === 'fail');
    expect(v?.requirement).toBe('DURABLE.ACK_AFTER_SYNC');
    expect(v?.actual).toMatch(/did not start for this case: .*exited before it was ready \(exit 1\)/);
  });
});

describe.skipIf(process.platform === 'win32')('an unasked exit is the subject fault', () => {
  it('control.channel: the reload that ends the process fails CONTROL.EQUIVALENT, with the exit as evidence', async () => {
    const results = await controlChannel('control-reload-exits');
    expect(results.map((r) => r.outcome)).toEqual(['fail']);
    const v = results[0]!.verdicts.find((x) => x.status === 'fail');
    expect(v?.requirement).toBe('CONTROL.EQUIVALENT');
    expect(v?.actual).toMatch(/exited with code 1 after a control request for reload, with no stop asked for/);
  });

  it('the same case on the correct base passes: the rule does not blame a subject that exits when asked', async () => {
    const results = await controlChannel();
    expect(results.map((r) => r.outcome)).toEqual(['pass']);
  });
});
