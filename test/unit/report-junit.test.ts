/**
 * The JUnit report, validated with libxml2 compiled to WebAssembly (xmllint-wasm, from npm: no system
 * xmllint needed) against two schemas: sigcert's own (test/fixtures/junit.xsd, strict about names) and the
 * common Jenkins/Ant denominator (test/fixtures/junit-jenkins.xsd). Structure is read with XPath over
 * a pure-JS DOM (@xmldom/xmldom + xpath).
 */
import { DOMParser } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import * as xpathLib from 'xpath';
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
import { JENKINS_JUNIT_XSD, JUNIT_XSD, validateXmlSchema } from '../harness/xml-schema.js';

const XSD = JUNIT_XSD;
const JENKINS_XSD = JENKINS_JUNIT_XSD;
const validateAgainst = (xsd: string, xml: string) => validateXmlSchema(xml, xsd);
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

describe('JUnit XML', () => {
  let xml: string;
  let doc: ReturnType<DOMParser['parseFromString']>;
  const report = syntheticReport();

  /** The XPath expression's value as text (a node set: the text of its first node), trimmed. */
  const xpath = (expr: string): string => {
    const r = xpathLib.select(expr, doc as unknown as Node);
    if (Array.isArray(r)) return (r[0]?.textContent ?? '').trim();
    return String(r).trim();
  };

  beforeAll(() => {
    xml = toJUnitXml(report);
    doc = new DOMParser({
      onError: (level, msg) => {
        throw new Error(`not well-formed XML (${level}): ${msg}`);
      },
    }).parseFromString(xml, 'text/xml');
  });

  it('validates against test/fixtures/junit.xsd', async () => {
    const r = await validateAgainst(XSD, xml);
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('validates against the common Jenkins/Ant JUnit schema (test/fixtures/junit-jenkins.xsd)', async () => {
    const r = await validateAgainst(JENKINS_XSD, xml);
    expect(r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('the Jenkins/Ant schema rejects what those tools reject (so the test above can fail)', async () => {
    const caseProps = xml.replace(
      '<testcase name="pass.case" classname="sigcert.synthetic_subject.pass" time="1.000">',
      '$&<properties><property name="requirement" value="T.MUST_A"/></properties>',
    );
    expect(caseProps).not.toBe(xml);
    expect((await validateAgainst(JENKINS_XSD, caseProps)).valid).toBe(false);
    const rootSkipped = xml.replace('<testsuites name="sigcert"', '<testsuites name="sigcert" skipped="3"');
    expect((await validateAgainst(JENKINS_XSD, rootSkipped)).valid).toBe(false);
    const noHost = xml.replace(/ hostname="[^"]*"/g, '');
    expect(noHost).not.toBe(xml);
    expect((await validateAgainst(JENKINS_XSD, noHost)).valid).toBe(false);
  });

  it('the XSD rejects a testcase without a name (the h2spec pitfall) or with an empty classname', async () => {
    const noName = xml.replace('<testcase name="pass.case" ', '<testcase ');
    expect(noName).not.toBe(xml);
    expect((await validateAgainst(XSD, noName)).valid).toBe(false);
    expect((await validateAgainst(JENKINS_XSD, noName)).valid).toBe(false);
    const emptyClass = xml.replace('classname="sigcert.synthetic_subject.fail"', 'classname=""');
    expect(emptyClass).not.toBe(xml);
    expect((await validateAgainst(XSD, emptyClass)).valid).toBe(false);
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
    const child = (o: Outcome) => xpath(`name(//testcase[@name="${o}.case"]/*[1])`);
    const type = (o: Outcome) => xpath(`string(//testcase[@name="${o}.case"]/*[1]/@type)`);
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
    expect(xpath('sum(//testsuite/@skipped)')).toBe(String(c['not-applicable'] + c.skipped + c.unsupported));
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

  it('requirement IDs and the timeline excerpt are attached where Jenkins and GitLab show them', () => {
    // as suite properties (testcases may carry none in the Jenkins/Ant schema) ...
    const prop = (name: string) => xpath(`string(//testsuite/properties/property[@name="${name}"]/@value)`);
    expect(prop('fail.case.requirements')).toBe('T.MUST_A');
    expect(prop('fail.case.outcome')).toBe('fail');
    expect(prop('flaky.case.attempts')).toBe('2');
    expect(prop('pass.case [repeat 2].repeat')).toBe('2');
    expect(prop('fail.case.runDir')).toBe('/tmp/runs/fail.case');
    // ... and as text in the testcase itself: the failure body and system-out
    expect(xpath('string(//testcase[@name="fail.case"]/failure)')).toContain('requirements: T.MUST_A');
    expect(xpath('string(//testcase[@name="skipped.case"]/system-out)')).toContain('requirements: T.MUST_A');
    expect(xpath('string(//testcase[@name="skipped.case"]/system-out)')).toContain(
      'outcome: skipped (reason for skipped)',
    );
    expect(xpath('count(//testcase/properties)')).toBe('0');
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
