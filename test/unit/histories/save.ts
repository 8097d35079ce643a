/**
 * Save one attempt of a real run as a golden history for test/unit/grade-golden.test.ts:
 *
 *   npx tsx test/unit/histories/save.ts <run-dir>/<case-dir> <name> "<why this history is kept>"
 *
 * Copies history.json and the run's manifest.json, and writes expected.json with the outcome and the
 * status of each requirement as graded now. Read expected.json before committing it: it is the
 * oracle, so a zoo history must show its defect failed and a correct server's must pass.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCases } from '../../../harness/src/cases/index.js';
import { attemptOf, caseResult } from '../../../harness/src/grade/result.js';
import { History } from '../../../harness/src/history.js';
import type { HistoryJSON, Manifest } from '../../../harness/src/types.js';
import { verdictStatuses } from './statuses.js';

const [caseDir, name, why] = process.argv.slice(2);
if (!caseDir || !name || !why) {
  process.stderr.write('usage: save.ts <run-dir>/<case-dir> <name> "<why>"\n');
  process.exit(2);
}
const json = JSON.parse(readFileSync(path.join(caseDir, 'history.json'), 'utf8')) as HistoryJSON;
const manifest = JSON.parse(readFileSync(path.join(caseDir, '..', 'manifest.json'), 'utf8')) as Manifest;
const events = History.fromJSON(json).sorted();
const id = attemptOf(events)?.case;
const c = (await loadCases(manifest)).find((x) => x.id === id);
if (!c) throw new Error(`no case ${id}`);
const r = caseResult(c, events, manifest);
const out = path.join(import.meta.dirname, name);
mkdirSync(out, { recursive: true });
copyFileSync(path.join(caseDir, 'history.json'), path.join(out, 'history.json'));
writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
const expected = {
  case: c.id,
  subject: manifest.name,
  why,
  outcome: r.outcome,
  requirements: verdictStatuses(r.verdicts),
};
writeFileSync(path.join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
process.stdout.write(`${name}: ${r.outcome} ${JSON.stringify(expected.requirements)}\n`);
