import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildReport,
  type CaseResult,
  escapeXmlAttr,
  escapeXmlText,
  OUTCOMES,
  type Report,
  type RequirementInfo,
  stripInvalidXmlChars,
  toJUnitXml,
} from '../../harness/src/report/index.js';
import type { Outcome, Verdict } from '../../harness/src/types.js';

const XSD = path.join(process.cwd(), 'test', 'fixtures', 'junit.xsd');
const NASTY = `<&"'\u0001`;

const REGISTRY: RequirementInfo[] = [
  { id: 'T.MUST_A', level: 'MUST', title: 'Must A' },
  { id: 'T.SHOULD_S', level: 'SHOULD', title: 'Should S' },
];

function v(requirement: string, status: Verdict['status'], expected: string, actual: string): Verdict {
  return { requirement, status, expected, actual, metrics: { ms: 12 } };
}

function verdictsFor(o: Outcome): Verdict[] {
  switch (o) {
    case 'fail':
      return [
        v('T.MUST_A', 'fail', 'exit code 0', 'exit code 137 after 5000 ms'),
        v('T.SHOULD_S', 'fail', 'FIN', 'RST'),
      ];
    case 'non-strict':
      return [v('T.MUST_A', 'pass', 'exit code 0', 'exit code 0'), v('T.SHOULD_S', 'fail', 'FIN', 'RST seen')];
    case 'informational':
      return [v('T.SHOULD_S', 'info', 'SIGHUP semantics', 'reload')];
    case 'harness-error':
      return [v('T.MUST_A', 'unknown', 'a probe event', 'the probe stream closed early')];
    case 'not-applicable':
    case 'skipped':
    case 'unsupported':
      return [];
    default:
      return [v('T.MUST_A', 'pass', 'exit code 0', 'exit code 0')];
  }
}

/** One case per outcome (family = outcome name), a repeated case, and a case full of special characters. */
function syntheticReport(): Report {
  const cases: CaseResult[] = OUTCOMES.map((o, i) => ({
    id: `${o}.case`,
    title: `the ${o} case`,
    requirements: ['T.MUST_A'],
    edgeCases: ['E01'],
    outcome: o,
    ...(o === 'pass' ? {} : { reason: `reason for ${o}` }),
    verdicts: verdictsFor(o),
    metrics: { signalToExitMs: 10 + i },
    durationMs: 1000 + i,
    attempts: o === 'flaky' ? 2 : 1,
    timeline: [
      { ns: '100', t: 0, source: 'harness', kind: 'spawn', launch: 0, data: { pid: 42 } },
      { ns: '200', t: 0.1, source: 'harness', kind: 'signal-sent', launch: 0, data: { sig: 'SIGTERM' } },
      { ns: '300', t: 5.25, source: 'process', kind: 'exit', launch: 0, data: { code: 0, signal: null } },
    ],
    runDir: `/tmp/runs/${o}.case`,
  }));
  cases.push({ ...cases[0]!, repeat: 1 }, { ...cases[0]!, repeat: 2 });
  cases.push({
    id: 'escape.case',
    title: `title ${NASTY}`,
    requirements: ['T.MUST_A'],
    edgeCases: [],
    outcome: 'fail',
    reason: `reason ${NASTY}`,
    verdicts: [
      v('T.MUST_A', 'fail', `expected ${NASTY} ]]> \u001b[31mred\u001b[39m`, `actual ${NASTY} \uD800 \uFFFE 😀`),
    ],
    metrics: {},
    durationMs: 5,
    attempts: 1,
    timeline: [{ ns: '1', t: 0, source: 'client', kind: 'http', data: { body: NASTY } }],
  });
  return buildReport({
    toolVersion: '0.1.0',
    specVersion: '1.0.0',
    startedAt: '2025-01-02T03:04:05.678Z',
    durationMs: 98765,
    subject: { name: 'synthetic.subject', manifestFile: '/tmp/synthetic/manifest.json', manifest: {} },
    options: {},
    cases,
    requirements: REGISTRY,
    environment: {
      os: 'Linux',
      platform: 'linux',
      release: '6.1',
      arch: 'x64',
      node: 'v20.19.0',
      cpus: 2,
      cpuModel: 'cpu',
      ci: true,
    },
  });
}

function haveXmllint(): boolean {
  return spawnSync('xmllint', ['--version']).status === 0;
}

function xmllint(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('xmllint', args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('JUnit XML', () => {
  let dir: string;
  let file: string;
  let xml: string;
  const report = syntheticReport();

  const xpath = (expr: string): string => execFileSync('xmllint', ['--xpath', expr, file], { encoding: 'utf8' }).trim();

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-junit-'));
    file = path.join(dir, 'junit.xml');
    xml = toJUnitXml(report);
    writeFileSync(file, xml);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('xmllint is installed (Debian: apt-get install -y libxml2-utils)', () => {
    expect(haveXmllint()).toBe(true);
  });

  it('validates against test/fixtures/junit.xsd', () => {
    const r = xmllint(['--noout', '--schema', XSD, file]);
    expect(r.stderr).toContain('validates');
    expect(r.status).toBe(0);
  });

  it('the XSD rejects a testcase without a name (the h2spec pitfall) or with an empty classname', () => {
    const bad = path.join(dir, 'bad.xml');
    writeFileSync(bad, xml.replace('<testcase name="pass.case" ', '<testcase '));
    expect(xmllint(['--noout', '--schema', XSD, bad]).status).not.toBe(0);
    writeFileSync(bad, xml.replace('classname="sigcert.synthetic_subject.fail"', 'classname=""'));
    expect(xmllint(['--noout', '--schema', XSD, bad]).status).not.toBe(0);
  });

  it('one testcase per case result, each with a non-empty name and classname', () => {
    expect(Number(xpath('count(//testcase)'))).toBe(report.cases.length);
    expect(Number(xpath('count(//testcase[not(@name) or normalize-space(@name)=""])'))).toBe(0);
    expect(Number(xpath('count(//testcase[not(@classname) or normalize-space(@classname)=""])'))).toBe(0);
    expect(xpath('string(//testcase[@name="pass.case"]/../@name)')).toBe('sigcert.synthetic_subject.pass');
    expect(xpath('string(//testcase[@name="fail.case"]/@classname)')).toBe('sigcert.synthetic_subject.fail');
    expect(xpath('string(//testcase[@name="fail.case"]/@time)')).toBe('1.001');
    // repeats stay distinguishable
    expect(xpath('count(//testcase[@name="pass.case [repeat 2]"])')).toBe('1');
  });

  it('maps every outcome to the right element', () => {
    const child = (o: Outcome) => xpath(`name(//testcase[@name="${o}.case"]/*[not(self::properties)][1])`);
    const type = (o: Outcome) => xpath(`string(//testcase[@name="${o}.case"]/*[not(self::properties)][1]/@type)`);
    for (const o of ['fail', 'non-strict', 'flaky'] as const) {
      expect(child(o)).toBe('failure');
      expect(type(o)).toBe(o);
    }
    for (const o of ['harness-error', 'timeout', 'crash'] as const) {
      expect(child(o)).toBe('error');
      expect(type(o)).toBe(o);
    }
    for (const o of ['not-applicable', 'skipped', 'unsupported'] as const) {
      expect(child(o)).toBe('skipped');
      expect(xpath(`string(//testcase[@name="${o}.case"]/skipped/@message)`)).toBe(`${o}: reason for ${o}`);
    }
    for (const o of ['pass', 'informational'] as const) expect(child(o)).toBe('system-out');
  });

  it('totals agree with the cases', () => {
    const c = report.summary.counts;
    expect(xpath('string(/testsuites/@tests)')).toBe(String(report.cases.length));
    expect(xpath('string(/testsuites/@failures)')).toBe(String(c.fail + c['non-strict'] + c.flaky));
    expect(xpath('string(/testsuites/@errors)')).toBe(String(c['harness-error'] + c.timeout + c.crash));
    expect(xpath('string(/testsuites/@skipped)')).toBe(String(c['not-applicable'] + c.skipped + c.unsupported));
    expect(xpath('string(/testsuites/@time)')).toBe('98.765');
    expect(xpath('sum(//testsuite/@tests)')).toBe(String(report.cases.length));
    expect(xpath('sum(//testsuite/@failures)')).toBe(xpath('string(/testsuites/@failures)'));
  });

  it('failures and errors carry the evidence: expected vs actual per failing verdict', () => {
    const failure = xpath('string(//testcase[@name="fail.case"]/failure)');
    expect(failure).toContain('[FAIL] T.MUST_A (MUST)');
    expect(failure).toContain('expected: exit code 0');
    expect(failure).toContain('actual:   exit code 137 after 5000 ms');
    expect(failure).toContain('[FAIL] T.SHOULD_S (SHOULD)');
    expect(failure).toContain('metrics:  ms=12');
    expect(xpath('string(//testcase[@name="fail.case"]/failure/@message)')).toBe(
      'T.MUST_A: expected exit code 0; actual exit code 137 after 5000 ms (+1 more)',
    );
    expect(xpath('string(//testcase[@name="non-strict.case"]/failure)')).toContain('actual:   RST seen');
    expect(xpath('string(//testcase[@name="flaky.case"]/failure/@message)')).toBe(
      'passed only after 2 attempts: reason for flaky',
    );
    const error = xpath('string(//testcase[@name="harness-error.case"]/error)');
    expect(error).toContain('[UNKNOWN] T.MUST_A (MUST)');
    expect(error).toContain('actual:   the probe stream closed early');
    expect(xpath('string(//testcase[@name="timeout.case"]/error/@message)')).toBe('reason for timeout');
  });

  it('requirement IDs and the timeline excerpt are attached', () => {
    expect(xpath('string(//testcase[@name="fail.case"]/properties/property[@name="requirement"]/@value)')).toBe(
      'T.MUST_A',
    );
    expect(xpath('string(//testcase[@name="fail.case"]/properties/property[@name="outcome"]/@value)')).toBe('fail');
    const out = xpath('string(//testcase[@name="pass.case"]/system-out)');
    expect(out).toContain('+0.100ms harness signal-sent [launch 0] {"sig":"SIGTERM"}');
    expect(out).toContain('/tmp/runs/pass.case/history.json');
    expect(xpath('string(//testcase[@name="informational.case"]/system-out)')).toContain('[info] T.SHOULD_S: reload');
    expect(xpath('string(//testsuite[1]/properties/property[@name="sigcert.verdict"]/@value)')).toBe(
      report.verdict.label,
    );
  });

  it(`escapes ${JSON.stringify(NASTY)} and strips characters XML 1.0 forbids`, () => {
    expect(xml).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/);
    expect(xml).not.toMatch(/[\uD800-\uDFFF]/u);
    expect(xml).toContain('expected: expected &lt;&amp;"\' ]]&gt; red');
    expect(xml).toContain('<failure message="T.MUST_A: expected expected &lt;&amp;&quot;&apos; ]]&gt; red;');
    expect(xml).toContain('reason: reason &lt;&amp;"\'\n');
    const failure = xpath('string(//testcase[@name="escape.case"]/failure)');
    expect(failure).toContain(`expected: expected <&"' ]]> red`);
    expect(failure).toContain(`actual:   actual <&"'   😀`);
    expect(xpath('string(//testcase[@name="escape.case"]/failure/@message)')).toBe(
      `T.MUST_A: expected expected <&"' ]]> red; actual actual <&"' 😀`,
    );
    expect(xpath('string(//testcase[@name="escape.case"]/system-out)')).toContain(`title <&"'`);
  });
});

describe('XML escaping helpers', () => {
  it('stripInvalidXmlChars keeps tab, newline, return, astral characters; drops the rest', () => {
    expect(stripInvalidXmlChars('a\tb\nc\rd')).toBe('a\tb\nc\rd');
    expect(stripInvalidXmlChars('x\u0000\u0008\u000B\u000C\u001F\u007Fy')).toBe('x\u007Fy');
    expect(stripInvalidXmlChars('lone \uD800 \uDC00 pair 😀 end \uFFFE\uFFFF')).toBe('lone   pair 😀 end ');
    expect(stripInvalidXmlChars('\u001b[1;31mbold red\u001b[0m')).toBe('bold red');
  });
  it('escapeXmlText / escapeXmlAttr', () => {
    expect(escapeXmlText(`a<b>&c"d'e`)).toBe(`a&lt;b&gt;&amp;c"d'e`);
    expect(escapeXmlAttr(`a<b>&c"d'e\tf\ng\u0001`)).toBe('a&lt;b&gt;&amp;c&quot;d&apos;e&#9;f&#10;g');
  });
});
