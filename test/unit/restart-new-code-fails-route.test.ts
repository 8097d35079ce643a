/**
 * restart.new-code-fails asks for its restarts through the declared restart signal, or through the
 * control channel when the map has none: a server that restarts only on request is still judged on a
 * restart whose new code cannot start.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { whyNotApplicable } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import type { Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const supervised = loadManifest(path.join(root, 'subjects/reference-supervised/manifest.json'));

function variant(opts: { restartSignal: boolean; control: boolean }): Manifest {
  const signals = { ...supervised.signals };
  if (!opts.restartSignal) for (const [sig, act] of Object.entries(signals)) if (act === 'restart') delete signals[sig];
  return {
    ...supervised,
    signals,
    capabilities: { ...supervised.capabilities, controlChannel: opts.control },
  };
}

async function why(m: Manifest): Promise<string | null> {
  const c = (await loadCases(m)).find((k) => k.id === 'restart.new-code-fails');
  expect(c, 'the case exists').toBeDefined();
  return whyNotApplicable(c!, m, 'linux');
}

describe('restart.new-code-fails: the route of its restarts', () => {
  it('applies with a restart signal, with or without a control channel', async () => {
    expect(await why(variant({ restartSignal: true, control: true }))).toBeNull();
    expect(await why(variant({ restartSignal: true, control: false }))).toBeNull();
  });

  it('applies through the control channel when the map has no restart signal', async () => {
    expect(await why(variant({ restartSignal: false, control: true }))).toBeNull();
  });

  it('does not apply with neither, and says why', async () => {
    expect(await why(variant({ restartSignal: false, control: false }))).toMatch(
      /no signal for restart.*no control channel/,
    );
  });
});
