/**
 * The weekly mutation workflow (.github/workflows/mutation.yml) covers what the Stryker configurations
 * mutate: every file of each configuration has jobs, a file split by --part has every part once, and a
 * job names only files a configuration lists. A file added to a configuration and forgotten here would
 * otherwise never be measured.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// @ts-expect-error: plain ES modules of the project root, without type declarations
import { REFERENCE_FILES } from '../../stryker.config.mjs';
// @ts-expect-error: as above
import { SUPERVISED_FILES } from '../../stryker.supervised.config.mjs';

const root = path.resolve(import.meta.dirname, '../..');

interface Job {
  name: string;
  file: string;
  part: string;
  supervised?: boolean;
}

const workflow = parse(readFileSync(path.join(root, '.github/workflows/mutation.yml'), 'utf8')) as {
  jobs: { mutate: { strategy: { matrix: { include: Job[] } } } };
};
const jobs = workflow.jobs.mutate.strategy.matrix.include;
const fileOf = (j: Job) => j.file.replace(/:\d+-\d+$/, '');

describe('the weekly mutation workflow', () => {
  it('has jobs for every file of both configurations, and only for those', () => {
    const listed = new Set<string>([...(REFERENCE_FILES as string[]), ...(SUPERVISED_FILES as string[])]);
    expect(listed.size).toBeGreaterThan(10);
    const covered = new Set(jobs.filter((j) => !/:\d+-\d+$/.test(j.file)).map(fileOf));
    expect(
      [...listed].filter((f) => !covered.has(f)),
      'files without a whole-file job',
    ).toEqual([]);
    expect(
      jobs.map(fileOf).filter((f) => !listed.has(f)),
      'jobs for files no configuration mutates',
    ).toEqual([]);
  });

  it('runs every part of a split file exactly once', () => {
    const parts = new Map<string, string[]>();
    for (const j of jobs.filter((x) => x.part !== '' && x.supervised !== true)) {
      parts.set(j.file, [...(parts.get(j.file) ?? []), j.part]);
    }
    expect(parts.size).toBeGreaterThan(0);
    for (const [file, ps] of parts) {
      const n = Number(ps[0]!.split('/')[1]);
      expect(ps.sort(), file).toEqual(Array.from({ length: n }, (_, i) => `${i + 1}/${n}`));
    }
  });

  it('gives every job a unique name (the artifact name)', () => {
    const names = jobs.map((j) => j.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
