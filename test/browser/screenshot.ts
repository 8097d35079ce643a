/**
 * Regenerates docs/report-example.html and docs/report-screenshot.png:
 *
 *   npx tsx test/browser/screenshot.ts [report.json]
 *
 * Without an argument it uses reports/reference.json, else the newest .sigcert/runs/<run>/report.json
 * of the reference subject, else the synthetic report of the tests (and says which).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderHtml } from '../../harness/src/report/html.js';
import type { Report } from '../../harness/src/report/index.js';
import { screenshot } from './chromium.js';
import { findReferenceReport, syntheticReport } from './synthetic-report.js';

const root = path.resolve(import.meta.dirname, '../..');

const arg = process.argv[2];
const source = arg ? path.resolve(arg) : findReferenceReport(root);
const report: Report = source ? (JSON.parse(readFileSync(source, 'utf8')) as Report) : syntheticReport();
const docs = path.join(root, 'docs');
mkdirSync(docs, { recursive: true });
const html = path.join(docs, 'report-example.html');
const png = path.join(docs, 'report-screenshot.png');
writeFileSync(html, renderHtml(report));
const height = Number(process.env.SHOT_HEIGHT ?? 2000);
const r = await screenshot(html, png, { width: 1400, height }, 60_000);
if (r.timedOut || !existsSync(png)) {
  process.stderr.write(`screenshot failed (timedOut=${r.timedOut}, code=${r.code})\n${r.stderr.slice(-2000)}\n`);
  process.exit(1);
}
process.stdout.write(
  `${source ? `report: ${path.relative(root, source)}` : 'report: synthetic (no reference run found)'}\n${html}\n${png}\n`,
);
