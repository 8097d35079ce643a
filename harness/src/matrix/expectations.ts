/**
 * A real server's ground truth: `subjects/<name>/expectations.json` (schema
 * spec/schema/expectations.schema.json). Its findings are the requirements the server fails, each with
 * why and the documentation or issue that shows it; `pass` lists the requirements it must pass. The
 * peers tests (test/peers/matrix.test.ts, expectations.test.ts) assert both; the matrix turns the findings into its
 * server notes (notes.ts), so the explanation of a failure is written once.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { repoRoot } from '../launch/paths.js';
import type { SubjectNote } from './model.js';

export interface ExpectedFinding {
  requirement: string;
  /** the case that shows it; absent only when intermittent */
  case?: string;
  edgeCases?: string[];
  why: string;
  sources: string[];
  /** regular expression over the failing verdicts' `actual` */
  when?: string;
  /** seen only sometimes: a matrix note, not asserted */
  intermittent?: boolean;
}

export interface Expectations {
  subject: string;
  writtenFor: string;
  writtenFrom?: string;
  /** the Debian package(s) that install the server */
  install: string;
  cases: string[];
  findings: ExpectedFinding[];
  pass: string[];
}

export const EXPECTATIONS_FILE = 'expectations.json';

const schemaPath = (): string => path.join(repoRoot(), 'spec', 'schema', 'expectations.schema.json');

let validator: ValidateFunction | null = null;

/** Problems of a parsed expectations file against the schema (empty when valid). */
function validateExpectations(data: unknown): string[] {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    validator = ajv.compile(JSON.parse(readFileSync(schemaPath(), 'utf8')) as object);
  }
  if (validator(data)) return [];
  return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** The expectations of the subject folder `dir`, or null when it has none. Throws on an invalid file. */
export function loadExpectations(dir: string): Expectations | null {
  const file = path.join(dir, EXPECTATIONS_FILE);
  if (!existsSync(file)) return null;
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const problems = validateExpectations(data);
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
  return data as Expectations;
}

/** The findings as matrix notes of kind `server`, by requirement (the sources follow the text). */
export function findingNotes(e: Expectations | null): Record<string, SubjectNote[]> {
  const out: Record<string, SubjectNote[]> = {};
  for (const f of e?.findings ?? []) {
    const note: SubjectNote = {
      kind: 'server',
      text: `${f.why} (${f.sources.join('; ')})`,
      ...(f.when !== undefined ? { when: f.when } : {}),
    };
    out[f.requirement] = [...(out[f.requirement] ?? []), note];
  }
  return out;
}
