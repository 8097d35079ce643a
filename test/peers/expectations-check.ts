/**
 * The peers tests' shared parts: which subject each test certifies, and the judgement of a real server's
 * expectations (subjects/<name>/expectations.json) against the results of its `cases`.
 *
 * The eight real servers are certified once per `npm test`, on their whole catalog, by
 * test/peers/matrix.test.ts, which then judges their expectations on the results of the cases each file
 * selects (a case's outcome does not depend on the cases run beside it: each starts its own subject).
 * test/peers/expectations.test.ts certifies only the subjects the matrix test leaves out, on their
 * selected cases. Certifying the real servers a second time for their expectations cost about 70 s of the
 * suite's 15 minutes.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { rollupRequirements } from '../../harness/src/grade/rules.js';
import { type Expectations, loadExpectations } from '../../harness/src/matrix/expectations.js';
import type { CaseResult, RequirementInfo } from '../../harness/src/report/model.js';

/**
 * Subjects whose full column is left to `npm run matrix` (suite time budget): six Node libraries over
 * the same node:http server, about 70 s together here. test/peers/expectations.test.ts certifies each
 * of them on the cases that bear on its expectations on every `npm test`.
 */
export const LEFT_TO_MATRIX_COMMAND: ReadonlySet<string> = new Set([
  'caddy-notify', // the caddy column again, ready through sd_notify: its expectations test covers what notify adds
  'node-close-with-grace',
  'node-fastify',
  'node-http-terminator',
  'node-lightship',
  'node-stoppable',
  'node-terminus',
]);

/**
 * Subjects whose whole catalog another test already certifies on every `npm test`:
 * test/conformance/reference.test.ts runs both reference subjects in full and requires them fully
 * compliant with no harness error, which is more than the matrix test asks. Running them there again
 * cost about 60 s of the suite's 15 minutes.
 */
export const CERTIFIED_ELSEWHERE: ReadonlySet<string> = new Set(['reference', 'reference-supervised']);

/** Whether test/peers/matrix.test.ts certifies `name` (and so judges its expectations). */
export const inMatrixTest = (name: string): boolean =>
  !LEFT_TO_MATRIX_COMMAND.has(name) && !CERTIFIED_ELSEWHERE.has(name);

/** Subject folders with an expectations file (the reference subjects have none: their truth is the spec). */
export function subjectsWithExpectations(subjectsDir: string): { name: string; expectations: Expectations }[] {
  return readdirSync(subjectsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ name: d.name, expectations: loadExpectations(path.join(subjectsDir, d.name)) }))
    .filter((x): x is { name: string; expectations: Expectations } => x.expectations !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The file's `cases` as a `--grep`-style anchored alternation. */
export const selectionOf = (e: Expectations): RegExp => new RegExp(`^(${e.cases.map(escapeRe).join('|')})$`);

export interface ExpectationsJudgement {
  /** reproducible findings the results do not report */
  missed: string[];
  /** requirements in `pass` that did not pass */
  notPassed: string[];
  /** failures outside the expectations (printed, not asserted: the selection is not a certificate) */
  other: string[];
  /** cases of the selection that ended in a harness error */
  errors: string[];
  /** one line for the log */
  line: string;
}

/**
 * Judges `e` against `results`, restricted to the file's `cases`: every reproducible finding is reported
 * (its requirement fails, or is non-strict for a SHOULD, and the case it names is among the failing
 * cases), and every requirement in `pass` is judged by the selected cases and passes.
 */
export function judgeExpectations(
  name: string,
  e: Expectations,
  allResults: readonly CaseResult[],
  requirements: readonly RequirementInfo[],
): ExpectationsJudgement {
  const selection = selectionOf(e);
  const results = allResults.filter((r) => selection.test(r.id));
  const rollups = new Map(rollupRequirements(results, requirements).map((r) => [r.id, r] as const));
  const outcome = (id: string) => {
    const r = results.find((x) => x.id === id);
    return r ? `${r.outcome}${r.reason ? ` (${r.reason})` : ''}` : 'not run';
  };
  const actual = (req: string, caseId?: string) =>
    results
      .filter((r) => caseId === undefined || r.id === caseId)
      .flatMap((r) => r.verdicts.filter((v) => v.requirement === req).map((v) => `${r.id}: ${v.status}: ${v.actual}`))
      .join(' | ') || (caseId ? `${caseId}: ${outcome(caseId)}` : 'no verdict');

  const missed: string[] = [];
  for (const f of e.findings.filter((x) => !x.intermittent)) {
    const roll = rollups.get(f.requirement);
    const failed = roll?.status === 'fail' || roll?.status === 'non-strict';
    if (!failed || !roll.failures.includes(f.case!)) {
      missed.push(`${f.requirement} (${f.case}): ${roll?.status ?? 'not-tested'}; ${actual(f.requirement, f.case)}`);
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
  const errors = results.filter((r) => r.outcome === 'harness-error').map((r) => `${r.id}: ${r.reason ?? ''}`);
  const reproducible = e.findings.filter((x) => !x.intermittent).length;
  const line =
    `${name}: ${results.length} of ${e.cases.length} selected cases; ` +
    `${reproducible - missed.length}/${reproducible} findings reproduced, ` +
    `${e.pass.length - notPassed.length}/${e.pass.length} must-pass passed` +
    (other.length ? `; also failed (not asserted): ${other.join(', ')}` : '');
  return { missed, notPassed, other, errors, line };
}
