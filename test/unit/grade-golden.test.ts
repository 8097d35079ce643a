/**
 * The graders on golden histories: real runs (the reference, zoo servers, nginx, gunicorn, runner
 * timeouts and retries) saved by test/unit/histories/save.ts with the outcome and per-requirement
 * statuses they were graded with, reviewed by hand. No process is started: grading is a pure function
 * of the stored history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { attemptOf, caseResult } from '../../harness/src/grade/result.js';
import { History } from '../../harness/src/history.js';
import { type HistoryJSON, type Manifest, storedManifest } from '../../harness/src/types.js';
import { verdictStatuses } from './histories/statuses.js';

const dir = path.join(import.meta.dirname, 'histories');
const golden = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => {
    const read = <T>(f: string) => JSON.parse(readFileSync(path.join(dir, d.name, f), 'utf8')) as T;
    return {
      name: d.name,
      history: read<HistoryJSON>('history.json'),
      manifest: storedManifest(read<Manifest>('manifest.json')),
      expected: read<{ case: string; outcome: string; requirements: Record<string, string> }>('expected.json'),
    };
  });

describe('graders on golden histories', () => {
  it('has at least 20 histories from real runs, each of the current history format', () => {
    expect(golden.length).toBeGreaterThanOrEqual(20);
    for (const g of golden) expect(g.history.historyVersion, g.name).toBe(2);
  });

  it.each(golden.map((g) => [g.name, g] as const))('%s grades as recorded', async (_name, g) => {
    const events = History.fromJSON(g.history).sorted();
    expect(attemptOf(events)?.case).toBe(g.expected.case);
    const c = (await loadCases(g.manifest)).find((k) => k.id === g.expected.case);
    expect(c, `case ${g.expected.case} exists`).toBeDefined();
    const r = caseResult(c!, events, g.manifest);
    expect({ outcome: r.outcome, requirements: verdictStatuses(r.verdicts) }).toEqual({
      outcome: g.expected.outcome,
      requirements: g.expected.requirements,
    });
  });

  it('a zoo server fails only what it declares it breaks; the reference fails nothing', () => {
    for (const g of golden) {
      const failed = Object.entries(g.expected.requirements)
        .filter(([, s]) => s === 'fail')
        .map(([id]) => id);
      const breaks = g.manifest.breaks ?? [];
      if (g.manifest.name.startsWith('zoo-')) {
        expect(failed.length, `${g.name} catches its defect`).toBeGreaterThan(0);
        for (const id of failed) expect(breaks, `${g.name}: ${id} is a declared defect`).toContain(id);
      } else if (g.manifest.name.startsWith('reference')) {
        expect(failed, g.name).toEqual([]);
      }
    }
  });

  it('grades every history in well under a second', async () => {
    const cases = await Promise.all(
      golden.map(async (g) => (await loadCases(g.manifest)).find((k) => k.id === g.expected.case)!),
    );
    const t0 = performance.now();
    for (const [i, g] of golden.entries()) caseResult(cases[i]!, History.fromJSON(g.history).sorted(), g.manifest);
    const ms = performance.now() - t0;
    // a generous ceiling so a loaded CI machine never flakes; the figure itself is printed
    expect(ms).toBeLessThan(5000);
    process.stdout.write(`graded ${golden.length} golden histories in ${ms.toFixed(1)} ms\n`);
  });
});
