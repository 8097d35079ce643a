/**
 * JUnit XML in the Jenkins/Ant shape most CI tools read (validated against test/fixtures/junit.xsd
 * in our own tests; h2spec's missing `testcase@name` is the pitfall we guard against).
 *
 * Also valid against the stricter common denominator of Jenkins's "JUnit 10" format and Ant
 * (test/fixtures/junit-jenkins.xsd): no `skipped` on <testsuites>, no <properties> inside a testcase,
 * `timestamp` and `hostname` on every suite. So the per-case data lives where those tools show it:
 * the requirement IDs and outcome open <system-out> and the failure text, and are repeated as
 * suite-level properties named `<testcase name>.<key>` for tools that read properties.
 *
 *   <testsuites name="sigcert" tests failures errors time>
 *     <testsuite name="sigcert.<subject>.<family>" ... timestamp hostname>   one suite per case family
 *       <properties> subject, spec and tool versions, verdict;
 *                    per case: <name>.requirements, <name>.outcome, <name>.attempts, ... </properties>
 *       <testcase name="<case id>" classname="sigcert.<subject>.<family>" time="seconds">
 *         fail, non-strict, flaky                    -> <failure type="fail|non-strict|flaky" message>evidence</failure>
 *         harness-error, timeout, crash              -> <error type="<outcome>" message>evidence</error>
 *         not-applicable, skipped, unsupported       -> <skipped message="<outcome>: <reason>"/>
 *         pass, informational                        -> no child
 *     <testsuite name="sigcert.<subject>.start">    only when the subject did not start (verdict `not certified`):
 *       <testcase name="subject.start"> <failure type="not-started" message="the subject did not start: ..."/>
 *       so CI shows the run red with the reason, not as every case skipped
 *         <system-out> verdicts and a short timeline excerpt </system-out>
 */
import path from 'node:path';
import type { HistoryEvent, Level, Outcome, Verdict } from '../types.js';
import { notStartedText } from './labels.js';
import type { CaseResult, Report } from './model.js';
import { stripInvalidXmlChars } from './text.js';

/** Events of the timeline shown in <system-out>. */
export const JUNIT_TIMELINE_EVENTS = 40;
const MESSAGE_MAX = 500;
const DATA_MAX = 160;

const FAILURE_OUTCOMES: ReadonlySet<Outcome> = new Set(['fail', 'non-strict', 'flaky']);
const ERROR_OUTCOMES: ReadonlySet<Outcome> = new Set(['harness-error', 'timeout', 'crash']);
const SKIPPED_OUTCOMES: ReadonlySet<Outcome> = new Set(['not-applicable', 'skipped', 'unsupported']);

/** Escape for element text. */
export function escapeXmlText(s: string): string {
  return stripInvalidXmlChars(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape for a double- or single-quoted attribute value (whitespace kept as character references). */
export function escapeXmlAttr(s: string): string {
  return stripInvalidXmlChars(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/** The family of a case: the first dotted segment of its id (`stop` for `stop.in-flight`). */
function caseFamily(caseId: string): string {
  const first = caseId.split('.')[0] ?? '';
  return safeName(first === '' ? 'cases' : first);
}

function safeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_-]/g, '_');
  return cleaned === '' ? '_' : cleaned;
}

function seconds(ms: number): string {
  return (Math.max(0, Number.isFinite(ms) ? ms : 0) / 1000).toFixed(3);
}

function attrs(pairs: Record<string, string | number | undefined>): string {
  return Object.entries(pairs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXmlAttr(String(v))}"`)
    .join('');
}

function oneLine(s: string, max = MESSAGE_MAX): string {
  const flat = stripInvalidXmlChars(s).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Ant-style timestamp (no zone, no fraction), in UTC; undefined when `iso` is not a date. */
function antTimestamp(iso: string): string | undefined {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().slice(0, 19);
}

function formatMetrics(metrics: Record<string, number> | undefined): string {
  if (!metrics) return '';
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The verdicts worth showing as evidence: the non-passing ones, or all when every one passed. */
function evidenceVerdicts(c: CaseResult): Verdict[] {
  const bad = c.verdicts.filter((v) => v.status === 'fail' || v.status === 'unknown');
  return bad.length > 0 ? bad : c.verdicts;
}

/** Expected vs actual per verdict, as plain text. */
function evidenceText(c: CaseResult, levels: ReadonlyMap<string, Level>): string {
  const lines: string[] = [`outcome: ${c.outcome}`, `requirements: ${c.requirements.join(', ') || '(none)'}`];
  if (c.reason) lines.push(`reason: ${c.reason}`);
  if (c.attempts > 1) lines.push(`attempts: ${c.attempts}`);
  for (const v of evidenceVerdicts(c)) {
    lines.push(`[${v.status.toUpperCase()}] ${v.requirement} (${levels.get(v.requirement) ?? '?'})`);
    lines.push(`  expected: ${v.expected}`);
    lines.push(`  actual:   ${v.actual}`);
    const m = formatMetrics(v.metrics);
    if (m) lines.push(`  metrics:  ${m}`);
  }
  if (c.runDir) lines.push(`run folder: ${c.runDir}`);
  return lines.join('\n');
}

function failureMessage(c: CaseResult): string {
  if (c.outcome === 'flaky') {
    return oneLine(`passed only after ${c.attempts} attempts${c.reason ? `: ${c.reason}` : ''}`);
  }
  const failing = c.verdicts.filter((v) => v.status === 'fail');
  const first = failing[0];
  if (!first) return oneLine(c.reason ?? c.outcome);
  const more = failing.length > 1 ? ` (+${failing.length - 1} more)` : '';
  return oneLine(`${first.requirement}: expected ${first.expected}; actual ${first.actual}${more}`);
}

function formatEvent(e: HistoryEvent): string {
  const launch = e.launch !== undefined ? ` [launch ${e.launch}]` : '';
  let data = '';
  try {
    data = JSON.stringify(e.data) ?? '';
  } catch {
    data = '[unserialisable]';
  }
  if (data === '{}') data = '';
  if (data.length > DATA_MAX) data = `${data.slice(0, DATA_MAX - 1)}…`;
  return `  +${e.t.toFixed(3)}ms ${e.source} ${e.kind}${launch}${data ? ` ${data}` : ''}`;
}

function systemOut(c: CaseResult): string {
  const lines: string[] = [
    `${c.id}: ${c.title}`,
    `requirements: ${c.requirements.join(', ') || '(none)'}`,
    `outcome: ${c.outcome}${c.reason ? ` (${oneLine(c.reason, 300)})` : ''}`,
  ];
  if (c.verdicts.length > 0) {
    lines.push('verdicts:');
    for (const v of c.verdicts) lines.push(`  [${v.status}] ${v.requirement}: ${oneLine(v.actual, 300)}`);
  }
  const m = formatMetrics(c.metrics);
  if (m) lines.push(`metrics: ${m}`);
  if (c.timeline.length > 0) {
    const shown = c.timeline.slice(-JUNIT_TIMELINE_EVENTS);
    const where = c.runDir ? `; full history in ${path.join(c.runDir, 'history.json')}` : '';
    lines.push(`timeline (last ${shown.length} of ${c.timeline.length} events in the excerpt${where}):`);
    for (const e of shown) lines.push(formatEvent(e));
  } else if (c.runDir) {
    lines.push(`run folder: ${c.runDir}`);
  }
  return lines.join('\n');
}

function property(name: string, value: string | number): string {
  return `<property${attrs({ name, value })}/>`;
}

function testcaseName(c: CaseResult): string {
  return c.repeat !== undefined ? `${c.id} [repeat ${c.repeat}]` : c.id;
}

/** A case's data as suite-level properties (Jenkins and Ant allow no <properties> inside a testcase). */
function caseProperties(c: CaseResult): string[] {
  const name = testcaseName(c);
  const props = [
    property(`${name}.requirements`, c.requirements.join(' ')),
    property(`${name}.outcome`, c.outcome),
    property(`${name}.attempts`, c.attempts),
  ];
  if (c.edgeCases.length > 0) props.push(property(`${name}.edgeCases`, c.edgeCases.join(' ')));
  if (c.repeat !== undefined) props.push(property(`${name}.repeat`, c.repeat));
  if (c.runDir) props.push(property(`${name}.runDir`, c.runDir));
  return props;
}

function testcaseXml(c: CaseResult, classname: string, levels: ReadonlyMap<string, Level>, indent: string): string {
  const name = testcaseName(c);
  const inner = `${indent}  `;
  const out: string[] = [`${indent}<testcase${attrs({ name, classname, time: seconds(c.durationMs) })}>`];

  if (FAILURE_OUTCOMES.has(c.outcome)) {
    out.push(
      `${inner}<failure${attrs({ message: failureMessage(c), type: c.outcome })}>${escapeXmlText(evidenceText(c, levels))}</failure>`,
    );
  } else if (ERROR_OUTCOMES.has(c.outcome)) {
    const message = oneLine(c.reason ?? c.outcome);
    out.push(`${inner}<error${attrs({ message, type: c.outcome })}>${escapeXmlText(evidenceText(c, levels))}</error>`);
  } else if (SKIPPED_OUTCOMES.has(c.outcome)) {
    out.push(`${inner}<skipped${attrs({ message: oneLine(`${c.outcome}: ${c.reason ?? 'no reason given'}`) })}/>`);
  }
  out.push(`${inner}<system-out>${escapeXmlText(systemOut(c))}</system-out>`);
  out.push(`${indent}</testcase>`);
  return out.join('\n');
}

interface Tally {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  ms: number;
}

function tally(cases: readonly CaseResult[]): Tally {
  const t: Tally = { tests: cases.length, failures: 0, errors: 0, skipped: 0, ms: 0 };
  for (const c of cases) {
    if (FAILURE_OUTCOMES.has(c.outcome)) t.failures += 1;
    else if (ERROR_OUTCOMES.has(c.outcome)) t.errors += 1;
    else if (SKIPPED_OUTCOMES.has(c.outcome)) t.skipped += 1;
    t.ms += c.durationMs;
  }
  return t;
}

/** The report as JUnit XML (one <testsuite> per case family, in order of first appearance). */
export function toJUnitXml(report: Report): string {
  const subject = safeName(report.subject.name);
  const levels = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const timestamp = antTimestamp(report.startedAt) ?? '1970-01-01T00:00:00';
  // reports get published, so the harness records no hostname unless asked; Ant's schema needs one
  const hostname = report.environment.hostname ?? 'not-recorded';

  const families = new Map<string, CaseResult[]>();
  for (const c of report.cases) {
    const f = caseFamily(c.id);
    const list = families.get(f);
    if (list) list.push(c);
    else families.set(f, [c]);
  }

  const all = tally(report.cases);
  const notStarted = report.verdict.notStarted;
  if (notStarted) {
    all.tests += 1;
    all.failures += 1;
  }
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({
      name: 'sigcert',
      tests: all.tests,
      failures: all.failures,
      errors: all.errors,
      time: seconds(report.durationMs),
    })}>`,
  ];
  const suiteProps = [
    property('sigcert.subject', report.subject.name),
    property('sigcert.manifest', report.subject.manifestFile),
    property('sigcert.specVersion', report.specVersion),
    property('sigcert.toolVersion', report.tool.version),
    property('sigcert.reportVersion', report.reportVersion),
    property('sigcert.verdict', report.verdict.label),
    property('sigcert.platform', `${report.environment.platform}-${report.environment.arch}`),
    property('sigcert.node', report.environment.node),
  ];
  if (report.partial) suiteProps.push(property('sigcert.partial', 'true'));

  let id = 0;
  for (const [family, cases] of families) {
    const name = `sigcert.${subject}.${family}`;
    const t = tally(cases);
    out.push(
      `  <testsuite${attrs({
        name,
        tests: t.tests,
        failures: t.failures,
        errors: t.errors,
        skipped: t.skipped,
        time: seconds(t.ms),
        timestamp,
        hostname,
        id: id++,
        package: `sigcert.${subject}`,
      })}>`,
      '    <properties>',
      ...suiteProps.map((p) => `      ${p}`),
      ...cases.flatMap(caseProperties).map((p) => `      ${p}`),
      '    </properties>',
      ...cases.map((c) => testcaseXml(c, name, levels, '    ')),
      '  </testsuite>',
    );
  }
  if (notStarted) {
    const name = `sigcert.${subject}.start`;
    const text = notStartedText(notStarted);
    out.push(
      `  <testsuite${attrs({ name, tests: 1, failures: 1, errors: 0, skipped: 0, time: seconds(0), timestamp, hostname, id: id++, package: `sigcert.${subject}` })}>`,
      '    <properties>',
      ...suiteProps.map((p) => `      ${p}`),
      '    </properties>',
      `    <testcase${attrs({ name: 'subject.start', classname: name, time: seconds(0) })}>`,
      `      <failure${attrs({ message: oneLine(text), type: 'not-started' })}>${escapeXmlText(`${text}\nNo case ran: the subject must start and become ready (manifest readiness) before it can be certified.`)}</failure>`,
      '    </testcase>',
      '  </testsuite>',
    );
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
