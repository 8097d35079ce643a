import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import { loadRegistry } from '../../harness/src/spec.js';

const registry = loadRegistry();
// the fixed cases plus what the reference's declared map generates (one case per declared signal, ...)
const cases = await loadCases(
  loadManifest(new URL('../../subjects/reference/manifest.json', import.meta.url).pathname),
);
const edgeFile = JSON.parse(readFileSync(new URL('../../spec/edge-cases.json', import.meta.url), 'utf8')) as {
  edgeCases: { id: string }[];
};
const edgeIds = new Set(edgeFile.edgeCases.map((e) => e.id));

describe('the case catalog covers the spec', () => {
  it('finds the cases automatically, one per file, with unique ids', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  it('every case cites only requirement IDs that exist', () => {
    const ids = new Set(registry.requirements.map((r) => r.id));
    const unknown = cases.flatMap((c) => c.requirements.filter((r) => !ids.has(r)).map((r) => `${c.id}: ${r}`));
    expect(unknown).toEqual([]);
  });

  it('every case cites only edge cases that exist', () => {
    const bad = cases.flatMap((c) => (c.edgeCases ?? []).filter((e) => !edgeIds.has(e)).map((e) => `${c.id}: ${e}`));
    expect(bad).toEqual([]);
  });

  it('every MUST and SHOULD requirement has at least one case', () => {
    const covered = new Set<string>(cases.flatMap((c) => [...c.requirements, ...(c.alsoJudges ?? [])]));
    const missing = registry.requirements.filter((r) => r.level !== 'MAY' && !covered.has(r.id)).map((r) => r.id);
    expect(missing).toEqual([]);
  });

  it('every case says what it does and how long it may take', () => {
    for (const c of cases) {
      expect(c.title.length, c.id).toBeGreaterThan(10);
      expect(c.description.length, c.id).toBeGreaterThan(30);
      expect(['short', 'normal', 'long']).toContain(c.timeout);
    }
  });
});
