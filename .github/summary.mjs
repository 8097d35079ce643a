#!/usr/bin/env node
// A sigcert JSON report as Markdown for $GITHUB_STEP_SUMMARY (used by action.yml):
//
//   node .github/summary.mjs report.json [--title TEXT] >> "$GITHUB_STEP_SUMMARY"
//
// With $GITHUB_OUTPUT set it also writes the outputs `verdict` (the label) and `compliant` (true/false).
import { appendFileSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--title');
const title = args.includes('--title') ? args[args.indexOf('--title') + 1] : undefined;
if (!file) {
  process.stderr.write('usage: node .github/summary.mjs report.json [--title TEXT]\n');
  process.exit(2);
}
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  process.stderr.write(`summary: ${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  process.exit(2);
}

const cell = (s) =>
  String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s+/g, ' ')
    .slice(0, 300);
const v = report.verdict;
const env = report.environment ?? {};
const counts = Object.entries(report.summary?.counts ?? {})
  .filter(([, n]) => n > 0)
  .map(([o, n]) => `${o} ${n}`)
  .join(', ');
const out = [];
out.push(
  `## ${title ?? `sigcert: ${report.subject.name}`}: ${v.fullyCompliant ? '✅ fully compliant' : v.compliant ? '✅ compliant' : `❌ ${v.label}`}`,
);
out.push('');
out.push(
  `Clean Signal Handling ${report.specVersion} · sigcert ${report.tool.version} · ${env.platform ?? '?'}-${env.arch ?? '?'} · Node ${env.node ?? '?'} · ${report.cases.length} cases (${counts || 'none'})${report.partial ? ' · **partial (interrupted)**' : ''}`,
);
if (Array.isArray(report.options?.merged)) out.push('', `Merged from ${report.options.merged.length} shard reports.`);
const notOk = report.requirements.filter(
  (r) => r.status === 'fail' || r.status === 'non-strict' || (r.status === 'not-tested' && r.level === 'MUST'),
);
if (notOk.length > 0) {
  out.push('', '| requirement | level | status | cases |', '| --- | --- | --- | --- |');
  for (const r of notOk.slice(0, 60)) {
    out.push(
      `| ${cell(r.id)} | ${r.level} | ${r.status} | ${cell((r.failures.length ? r.failures : r.cases).join(', '))} |`,
    );
  }
}
const bad = report.cases.filter((c) =>
  ['fail', 'non-strict', 'flaky', 'timeout', 'crash', 'harness-error'].includes(c.outcome),
);
if (bad.length > 0) {
  out.push(
    '',
    '<details><summary>Cases that did not pass</summary>',
    '',
    '| case | outcome | evidence |',
    '| --- | --- | --- |',
  );
  for (const c of bad.slice(0, 60)) {
    const f = (c.verdicts ?? []).find((x) => x.status === 'fail' || x.status === 'unknown');
    const evidence = f ? `${f.requirement}: expected ${f.expected}; actual ${f.actual}` : (c.reason ?? '');
    out.push(`| ${cell(c.id)} | ${c.outcome} | ${cell(evidence)} |`);
  }
  out.push('', '</details>');
}
process.stdout.write(`${out.join('\n')}\n`);
if (process.env.GITHUB_OUTPUT) {
  appendFileSync(process.env.GITHUB_OUTPUT, `verdict=${v.label}\ncompliant=${v.compliant ? 'true' : 'false'}\n`);
}
