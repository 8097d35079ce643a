/**
 * The canonical JSON report: writing, reading and validation against spec/schema/report.schema.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Report } from './model.js';

const SCHEMA_RELATIVE = path.join('spec', 'schema', 'report.schema.json');

/**
 * Absolute path of report.schema.json: the nearest `spec/schema/report.schema.json` above this
 * module (works from the sources and from dist/).
 */
function reportSchemaPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, SCHEMA_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${SCHEMA_RELATIVE} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

let schemaCache: Record<string, unknown> | undefined;
let validatorCache: ValidateFunction | undefined;

/** The parsed report schema (draft-07). */
export function reportSchema(): Record<string, unknown> {
  schemaCache ??= JSON.parse(readFileSync(reportSchemaPath(), 'utf8')) as Record<string, unknown>;
  return schemaCache;
}

function validator(): ValidateFunction {
  validatorCache ??= new Ajv({ allErrors: true, strict: true }).compile(reportSchema());
  return validatorCache;
}

export interface ReportValidation {
  valid: boolean;
  /** one line per problem: `<json pointer> <message>` */
  errors: string[];
}

/** Validate any value against the report schema. */
export function validateReport(obj: unknown): ReportValidation {
  const validate = validator();
  if (validate(obj)) return { valid: true, errors: [] };
  const errors = (validate.errors ?? []).map((e) => {
    const where = e.instancePath === '' ? '(root)' : e.instancePath;
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
        : e.keyword === 'enum'
          ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
          : '';
    return `${where} ${e.message ?? e.keyword}${extra}`;
  });
  return { valid: false, errors };
}

const TOP_LEVEL_ORDER: readonly (keyof Report)[] = [
  'reportVersion',
  'tool',
  'specVersion',
  'startedAt',
  'durationMs',
  'partial',
  'environment',
  'subject',
  'options',
  'verdict',
  'summary',
  'requirements',
  'latency',
  'cases',
];

/** The report as JSON text: top-level keys in a fixed order (verdict before the long lists), 2-space indent. */
export function serializeReport(report: Report): string {
  const ordered: Record<string, unknown> = {};
  for (const k of TOP_LEVEL_ORDER) if (report[k] !== undefined) ordered[k] = report[k];
  for (const [k, v] of Object.entries(report)) if (!(k in ordered) && v !== undefined) ordered[k] = v;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Write the report atomically (temporary file + rename), creating the folder if needed. */
export async function writeJsonReport(report: Report, file: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, serializeReport(report), 'utf8');
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Read and validate a stored report; throws with the schema problems when it does not validate. */
export async function readJsonReport(file: string): Promise<Report> {
  const obj: unknown = JSON.parse(await readFile(file, 'utf8'));
  const { valid, errors } = validateReport(obj);
  if (!valid) throw new Error(`${file} is not a valid sigcert report:\n  ${errors.join('\n  ')}`);
  return obj as Report;
}
