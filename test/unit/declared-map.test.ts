/**
 * The declared map decides: for every manifest in the project (the real servers, the references and
 * every zoo server), every declared (signal, action) pair and every repeat-map entry is delivered by at
 * least one case that applies to that subject on Linux, and the control channel's stop and fast stop are
 * exercised wherever it is declared.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { whyNotApplicable } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest } from '../../harness/src/launch/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const manifests = ['subjects', 'test/zoo']
  .flatMap((d) => readdirSync(path.join(root, d)).map((s) => path.join(root, d, s, 'manifest.json')))
  .filter((f) => existsSync(f))
  .map((f) => loadManifest(f));

describe('every declared (signal, action) pair is sent', () => {
  it('covers every manifest of the project', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(25);
  });

  it.each(manifests.map((m) => [m.name, m] as const))('%s', async (_name, m) => {
    const cases = (await loadCases(m)).filter((c) => whyNotApplicable(c, m, 'linux') === null);
    const sent = new Set(cases.flatMap((c) => (c.sends ?? []).map(([sig, a]) => `${sig}:${a}`)));
    const repeated = new Set(cases.flatMap((c) => (c.sendsRepeat ?? []).map(([sig, a]) => `${sig}:${a}`)));
    const declared = Object.entries(m.signals).map(([sig, a]) => `${sig}:${a}`);
    expect(declared.filter((p) => !sent.has(p))).toEqual([]);
    const declaredRepeat = Object.entries(m.signalsRepeat).map(([sig, a]) => `${sig}:${a}`);
    if (Object.values(m.signals).includes('stop')) expect(declaredRepeat.filter((p) => !repeated.has(p))).toEqual([]);
    if (m.capabilities.controlChannel) {
      const ids = cases.map((c) => c.id);
      expect(ids).toContain('map.stop.control');
      expect(ids).toContain('map.fast-stop.control');
    }
  });
});
