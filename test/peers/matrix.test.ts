/**
 * The conformance matrix over the real servers in subjects/ (nginx, Caddy, gunicorn, CherryPy, uvicorn,
 * lighttpd, hypercorn, waitress; the reference subjects are certified in full by
 * test/conformance/reference.test.ts), end to end: real processes, real signals, the whole catalog.
 *
 * It does not assert that any server passes. It asserts that the matrix is trustworthy: every
 * installed subject starts, every case of the catalog gets an outcome for it, no case ends in a
 * harness error, no case leaves a process running after its teardown, and every report validates
 * against spec/schema/report.schema.json. A server that is not installed here (macOS, Windows, a runner without the Debian
 * packages) shows `not installed` in its column and is skipped. matrix.md / matrix.json go to
 * reports/ for CI to upload.
 *
 * It then judges each real server's expectations (subjects/<name>/expectations.json: its findings
 * reproduced, its `pass` requirements passed) on the results of the cases that file selects, one test per
 * server: the same judgement test/peers/expectations.test.ts makes for the subjects left out here, without
 * certifying the real servers a second time (expectations-check.ts).
 *
 * Budget: about 110 s on 2 cores at concurrency 3; the longest cases are the deadline cases of servers that enforce no
 * deadline (CherryPy, uvicorn), which wait for an 11 s request. The Node shutdown-library subjects
 * (LEFT_TO_MATRIX_COMMAND) are left out: their whole columns take about 70 s more, which the suite's
 * 15 minutes cannot hold; test/peers/expectations.test.ts certifies each of them on the cases that
 * bear on its expectations, and `npm run matrix` gives them their full column.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { teardownAll } from '../../harness/src/launch/index.js';
import { listSubjects } from '../../harness/src/matrix/discovery.js';
import { type MatrixResult, runMatrix } from '../../harness/src/matrix.js';
import type { Report } from '../../harness/src/report/index.js';
import { loadRegistry } from '../../harness/src/spec.js';
import { type Manifest, storedManifest } from '../../harness/src/types.js';
import {
  needTool,
  REAL_SERVERS_INSTALL,
  REQUIRE_TOOLS_VAR,
  systemTool,
  toolsRequired,
} from '../harness/system-tools.js';
import { inMatrixTest, judgeExpectations, subjectsWithExpectations } from './expectations-check.js';

const root = path.resolve(import.meta.dirname, '../..');
const subjectsDir = path.join(root, 'subjects');
const LEFT_OUT = /^lifecycle\./;

/** The matrix run, for the expectations tests after it (undefined when it did not complete). */
let matrix: { result: MatrixResult; outDir: string } | undefined;

/**
 * Harness errors that are known harness bugs, each waiting for the patch named (see the matrix
 * hand-over). Remove an entry in the same change that applies its patch: an entry whose case ran
 * without a harness error fails this test, so the list cannot go stale.
 */
const KNOWN_HARNESS_ERRORS: Record<string, string> = {};

/**
 * Processes the harness's teardown left running (the matrix finds them by session and kills them), by
 * the same rule: remove an entry with the patch that fixes it.
 */
const KNOWN_LEAKS: Record<string, string> = {};

afterAll(async () => {
  await teardownAll();
});

describe('peer servers: the conformance matrix', () => {
  it('gives every installed subject a complete report with no harness error', async () => {
    const outDir = path.join(root, '.sigcert', 'test-runs', `matrix-${Date.now()}`);
    const started = Date.now();
    const result: MatrixResult = await runMatrix({
      subjectsDir,
      only: listSubjects(subjectsDir).filter(inMatrixTest),
      outDir,
      concurrency: 3,
      // the lifecycle cells of the real servers are left to `npm run matrix`: this test is about the
      // matrix's trustworthiness, and the suite has a time budget
      exclude: LEFT_OUT,
      out: (line) => {
        if (!line.includes('✔') && !line.includes(' N/A ')) console.log(line);
      },
    });
    const wall = Math.round((Date.now() - started) / 1000);
    matrix = { result, outDir };
    mkdirSync(path.join(root, 'reports'), { recursive: true });
    copyFileSync(result.files.markdown, path.join(root, 'reports', 'matrix.md'));
    copyFileSync(result.files.json, path.join(root, 'reports', 'matrix.json'));

    const problems: string[] = [];
    const known = new Set<string>();
    for (const s of result.subjects) {
      if (s.status === 'not-installed' && toolsRequired()) {
        problems.push(`${s.name}: not installed, and ${REQUIRE_TOOLS_VAR} is set (install: ${REAL_SERVERS_INSTALL})`);
        continue;
      }
      if (s.status === 'not-installed' || s.status === 'unsupported-platform') {
        console.log(`${s.name}: ${s.status} (${s.reason ?? ''}), skipped (install: ${REAL_SERVERS_INSTALL})`);
        continue;
      }
      if (s.status !== 'certified' || !s.reportFile) {
        problems.push(`${s.name}: ${s.status}: ${s.reason ?? 'no report'}`);
        continue;
      }
      // validity against the report schema is checked by the matrix itself (listed in harnessErrors)
      for (const e of s.harnessErrors ?? []) if (e.startsWith('report.json')) problems.push(`${s.name}: ${e}`);
      const report = JSON.parse(readFileSync(path.join(outDir, s.reportFile), 'utf8')) as Report;
      // every case of the catalog for this subject's declared map (fixed and generated) has an outcome
      const catalog = (await loadCases(storedManifest(report.subject.manifest as Manifest)))
        .map((c) => c.id)
        .filter((id) => !LEFT_OUT.test(id))
        .sort();
      const ids = report.cases.map((c) => c.id).sort();
      if (JSON.stringify(ids) !== JSON.stringify(catalog)) {
        problems.push(`${s.name}: cases without an outcome: ${catalog.filter((id) => !ids.includes(id)).join(', ')}`);
      }
      const leaked = new Set((s.leaks ?? []).map((l) => l.slice(0, l.indexOf(':'))));
      for (const c of report.cases) {
        const key = `${s.name}/${c.id}`;
        if (leaked.has(c.id)) {
          if (KNOWN_LEAKS[key]) known.add(key);
          else problems.push(...(s.leaks ?? []).filter((l) => l.startsWith(`${c.id}:`)).map((l) => `${s.name}: ${l}`));
        } else if (KNOWN_LEAKS[key] && c.outcome !== 'not-applicable') {
          problems.push(`${key}: listed in KNOWN_LEAKS but left nothing running: remove the entry`);
        }
        if (c.outcome === 'skipped') problems.push(`${key}: skipped (${c.reason ?? ''})`);
        if (c.outcome === 'harness-error') {
          if (KNOWN_HARNESS_ERRORS[key]) known.add(key);
          else problems.push(`${key}: harness error: ${c.reason ?? ''}`);
        } else if (KNOWN_HARNESS_ERRORS[key] && c.outcome !== 'not-applicable') {
          problems.push(`${key}: listed in KNOWN_HARNESS_ERRORS but ran without one (${c.outcome}): remove the entry`);
        }
      }
      console.log(`${s.name.padEnd(10)} ${s.verdict}; ${JSON.stringify(s.counts)}`);
    }
    for (const k of known) {
      console.log(`known harness bug, not a server failure: ${k}: ${KNOWN_HARNESS_ERRORS[k] ?? KNOWN_LEAKS[k]}`);
    }
    for (const f of result.findings.filter((x) => x.kind === 'unexplained')) {
      console.log(
        `unexplained failure (add a note to subjects/${f.subject}/matrix.json): ${f.requirement}: ${f.observed.join(' / ')}`,
      );
    }
    console.log(`matrix: ${result.files.markdown} (${wall} s)`);
    expect(problems).toEqual([]);
  });

  for (const { name, expectations: e } of subjectsWithExpectations(subjectsDir).filter((x) => inMatrixTest(x.name))) {
    it(`${name}: its expected findings are reported and it passes what it must (the matrix's cases)`, (ctx) => {
      expect(matrix, 'the matrix run did not complete').toBeDefined();
      const s = matrix!.result.subjects.find((x) => x.name === name);
      expect(s, `${name}: not in the matrix`).toBeDefined();
      needTool(ctx, systemTool(name, s!.status !== 'not-installed', `apt-get install -y ${e.install}`));
      expect(s!.reportFile, `${name}: ${s!.status}: ${s!.reason ?? 'no report'}`).toBeDefined();
      const report = JSON.parse(readFileSync(path.join(matrix!.outDir, s!.reportFile!), 'utf8')) as Report;
      const j = judgeExpectations(name, e, report.cases, loadRegistry().requirements);
      console.log(j.line);
      expect(j.errors, `${name}: harness errors`).toEqual([]);
      expect(j.missed, `${name}: expected findings not reported`).toEqual([]);
      expect(j.notPassed, `${name}: requirements that must pass`).toEqual([]);
    });
  }
});
