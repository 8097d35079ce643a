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
 * Selection: the file's `cases`, passed to runCases as a `--grep`-style anchored alternation; the cases
 * run two at a time per server and the servers one after another: about 75 s on two cores for the eight
 * real servers, most of it the deadline cases of CherryPy and uvicorn, which wait for an 11 s request.
 *
 * A server that is not installed is skipped with the Debian package that installs it; under
 * SIGCERT_REQUIRE_TOOLS=1 (.ci/run) that skip is a failure.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { rollupRequirements } from '../../harness/src/grade/rules.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import { prepareSubject } from '../../harness/src/matrix/discovery.js';
import { EXPECTATIONS_FILE, type Expectations, loadExpectations } from '../../harness/src/matrix/expectations.js';
import { runCases } from '../../harness/src/runner.js';
import { loadRegistry } from '../../harness/src/spec.js';
import { needTool, systemTool } from '../harness/system-tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const subjectsDir = path.join(root, 'subjects');
const CASES_AT_ONCE = 2;

/** Subject folders with an expectations file (the reference subjects have none: their truth is the spec). */
function subjectsWithExpectations(): { name: string; expectations: Expectations }[] {
  return readdirSync(subjectsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ name: d.name, expectations: loadExpectations(path.join(subjectsDir, d.name)) }))
    .filter((x): x is { name: string; expectations: Expectations } => x.expectations !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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

const subjects = subjectsWithExpectations();

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

  for (const { name, expectations: e } of subjects) {
    it(`${name}: reports every expected finding and passes what it must`, async (ctx) => {
      const candidate = await prepareSubject(subjectsDir, name);
      const missing = candidate.problem?.status === 'not-installed' ? candidate.problem.reason : null;
      needTool(ctx, systemTool(name, missing === null, `apt-get install -y ${e.install}`));
      expect(candidate.problem, `${name}: ${candidate.problem?.reason ?? ''}`).toBeUndefined();
      const manifest = candidate.manifest!;

      const registry = loadRegistry();
      const catalog = await loadCases(manifest);
      const grep = new RegExp(`^(${e.cases.map(escapeRe).join('|')})$`);
      const started = Date.now();
      const run = await runCases({
        manifest,
        cases: catalog,
        grep,
        outDir: path.join(root, '.sigcert', 'test-runs', `expectations-${Date.now()}`, name),
        concurrency: CASES_AT_ONCE,
      });
      const rollups = new Map(rollupRequirements(run.results, registry.requirements).map((r) => [r.id, r] as const));
      const outcome = (id: string) => {
        const r = run.results.find((x) => x.id === id);
        return r ? `${r.outcome}${r.reason ? ` (${r.reason})` : ''}` : 'not run';
      };
      const actual = (req: string, caseId?: string) =>
        run.results
          .filter((r) => caseId === undefined || r.id === caseId)
          .flatMap((r) =>
            r.verdicts.filter((v) => v.requirement === req).map((v) => `${r.id}: ${v.status}: ${v.actual}`),
          )
          .join(' | ') || (caseId ? `${caseId}: ${outcome(caseId)}` : 'no verdict');

      const missed: string[] = [];
      for (const f of e.findings.filter((x) => !x.intermittent)) {
        const roll = rollups.get(f.requirement);
        const failed = roll?.status === 'fail' || roll?.status === 'non-strict';
        if (!failed || !roll.failures.includes(f.case!)) {
          missed.push(
            `${f.requirement} (${f.case}): ${roll?.status ?? 'not-tested'}; ${actual(f.requirement, f.case)}`,
          );
        }
      }
      const notPassed: string[] = [];
      for (const req of e.pass) {
        const status = rollups.get(req)?.status ?? 'not-tested';
        if (status !== 'pass') notPassed.push(`${req}: ${status}; ${actual(req)}`);
      }
      const expected = new Set(e.findings.map((f) => f.requirement));
      const other = [...rollups.values()]
        .filter((r) => (r.status === 'fail' || r.status === 'non-strict') && !expected.has(r.id))
        .map((r) => `${r.id} (${r.failures.join(', ')})`);
      console.log(
        `${name}: ${run.results.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
          `${e.findings.filter((x) => !x.intermittent).length - missed.length} findings reproduced, ` +
          `${e.pass.length - notPassed.length}/${e.pass.length} must-pass passed` +
          (other.length ? `; also failed (not asserted): ${other.join(', ')}` : ''),
      );
      const errors = run.results.filter((r) => r.outcome === 'harness-error').map((r) => `${r.id}: ${r.reason ?? ''}`);
      expect(errors, `${name}: harness errors`).toEqual([]);
      expect(missed, `${name}: expected findings not reported`).toEqual([]);
      expect(notPassed, `${name}: requirements that must pass`).toEqual([]);
    });
  }
});
