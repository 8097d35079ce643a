/**
 * Ground truth for the real servers: every subject folder with an expectations.json (schema
 * spec/schema/expectations.schema.json) is certified on the cases that bear on its expectations, and
 * both directions are asserted, the way the zoo asserts `breaks`:
 *
 *  - every reproducible finding is reported: its requirement fails (or is non-strict, for a SHOULD) in
 *    the rollup, and the case the finding names is among the failing cases;
 *  - every requirement in `pass` is judged by the selected cases and passes.
 *
 * Intermittent findings (timing-dependent) explain failures in the matrix and are not asserted; they are
 * exempt from `pass` too (the file's own consistency check forbids listing a requirement in both).
 * Failures outside the expectations are printed, not asserted: the selection is not a certificate.
 *
 * Who runs what: this file checks every expectations file's consistency, and certifies the subjects
 * test/peers/matrix.test.ts leaves out (the Node shutdown libraries and caddy-notify) on their selected
 * cases, two cases at a time per server, one server after another. The eight real servers of the matrix
 * test have their expectations judged there, on the selected cases of their full certification
 * (expectations-check.ts): certifying them twice cost about 70 s of the suite.
 *
 * A server that is not installed is skipped with the Debian package that installs it; under
 * SIGCERT_REQUIRE_TOOLS=1 (.ci/run) that skip is a failure.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import { prepareSubject } from '../../harness/src/matrix/discovery.js';
import { EXPECTATIONS_FILE, type Expectations } from '../../harness/src/matrix/expectations.js';
import { runCases } from '../../harness/src/runner.js';
import { loadRegistry } from '../../harness/src/spec.js';
import { needTool, systemTool } from '../harness/system-tools.js';
import { inMatrixTest, judgeExpectations, selectionOf, subjectsWithExpectations } from './expectations-check.js';

const root = path.resolve(import.meta.dirname, '../..');
const subjectsDir = path.join(root, 'subjects');
const CASES_AT_ONCE = 2;

/** Problems of an expectations file against the registry, the catalog and itself. */
function consistency(e: Expectations, name: string, requirementIds: Set<string>, caseIds: Set<string>): string[] {
  const p: string[] = [];
  if (e.subject !== name) p.push(`subject "${e.subject}" is not the folder name "${name}"`);
  for (const f of e.findings) {
    if (!requirementIds.has(f.requirement)) p.push(`finding ${f.requirement}: unknown requirement`);
    if (!f.intermittent && f.case === undefined)
      p.push(`finding ${f.requirement}: a reproducible finding names its case`);
    if (f.case !== undefined && !caseIds.has(f.case)) p.push(`finding ${f.requirement}: unknown case ${f.case}`);
    if (!f.intermittent && f.case !== undefined && !e.cases.includes(f.case))
      p.push(`finding ${f.requirement}: its case ${f.case} is not in the selection`);
    if (f.when !== undefined) {
      try {
        new RegExp(f.when);
      } catch {
        p.push(`finding ${f.requirement}: \`when\` is not a regular expression`);
      }
    }
  }
  for (const r of e.pass) {
    if (!requirementIds.has(r)) p.push(`pass ${r}: unknown requirement`);
    if (e.findings.some((f) => f.requirement === r)) p.push(`${r} is both a finding and in pass`);
  }
  for (const c of e.cases) if (!caseIds.has(c)) p.push(`cases: unknown case ${c}`);
  return p;
}

afterAll(async () => {
  await teardownAll();
});

const subjects = subjectsWithExpectations(subjectsDir);

describe('real servers: the expectations hold', () => {
  it('there are expectations for every real server, and each file is consistent', async () => {
    const registry = loadRegistry();
    const ids = new Set(registry.requirements.map((r) => r.id));
    const folders = readdirSync(subjectsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('reference'))
      .map((d) => d.name)
      .sort();
    expect(
      subjects.map((s) => s.name),
      `every real server has ${EXPECTATIONS_FILE}`,
    ).toEqual(folders);
    for (const s of subjects) {
      // the catalog depends on the manifest (cases generated from the declared map)
      const manifest = loadManifest(path.join(subjectsDir, s.name, 'manifest.json'));
      const caseIds = new Set((await loadCases(manifest)).map((c) => c.id));
      expect(consistency(s.expectations, s.name, ids, caseIds), s.name).toEqual([]);
    }
  });

  for (const { name, expectations: e } of subjects.filter((s) => !inMatrixTest(s.name))) {
    it(`${name}: reports every expected finding and passes what it must`, async (ctx) => {
      const candidate = await prepareSubject(subjectsDir, name);
      const missing = candidate.problem?.status === 'not-installed' ? candidate.problem.reason : null;
      needTool(ctx, systemTool(name, missing === null, `apt-get install -y ${e.install}`));
      expect(candidate.problem, `${name}: ${candidate.problem?.reason ?? ''}`).toBeUndefined();
      const manifest = candidate.manifest!;

      const registry = loadRegistry();
      const catalog = await loadCases(manifest);
      const started = Date.now();
      const run = await runCases({
        manifest,
        cases: catalog,
        grep: selectionOf(e),
        outDir: path.join(root, '.sigcert', 'test-runs', `expectations-${Date.now()}`, name),
        concurrency: CASES_AT_ONCE,
      });
      const j = judgeExpectations(name, e, run.results, registry.requirements);
      console.log(`${j.line} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      expect(j.errors, `${name}: harness errors`).toEqual([]);
      expect(j.missed, `${name}: expected findings not reported`).toEqual([]);
      expect(j.notPassed, `${name}: requirements that must pass`).toEqual([]);
    });
  }
});
