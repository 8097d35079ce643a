import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { percentiles } from '../../harness/src/grade/latency.js';
import { trimTimeline } from '../../harness/src/grade/result.js';
import { computeVerdict, outcomeFromVerdicts, rollupRequirements } from '../../harness/src/grade/rules.js';
import {
  buildReport,
  type CaseResult,
  countOutcomes,
  latencyTable,
  MAX_TIMELINE_EVENTS,
  MAX_TIMELINE_SAMPLES,
  OUTCOMES,
  progressLine,
  type Report,
  type RequirementInfo,
  readJsonReport,
  renderConsole,
  reportSchema,
  serializeReport,
  validateReport,
  verdictLine,
  writeJsonReport,
} from '../../harness/src/report/index.js';
import type { HistoryEvent, Level, Outcome, Verdict } from '../../harness/src/types.js';

// ---------------------------------------------------------------------------------------------
// Synthetic data

const REGISTRY: RequirementInfo[] = [
  { id: 'T.MUST_A', level: 'MUST', title: 'Must A' },
  { id: 'T.MUST_B', level: 'MUST', title: 'Must B' },
  { id: 'T.MUST_GATED', level: 'MUST', title: 'Must, capability-gated' },
  { id: 'T.SHOULD_S', level: 'SHOULD', title: 'Should S' },
  { id: 'T.MAY_M', level: 'MAY', title: 'May M' },
];
const LEVELS = new Map<string, Level>(REGISTRY.map((r) => [r.id, r.level]));

function v(requirement: string, status: Verdict['status'], extra: Partial<Verdict> = {}): Verdict {
  return { requirement, status, expected: `${requirement} holds`, actual: `${requirement} ${status}`, ...extra };
}

function kase(id: string, outcome: Outcome, verdicts: Verdict[], extra: Partial<CaseResult> = {}): CaseResult {
  return {
    id,
    title: `case ${id}`,
    requirements: [...new Set(verdicts.map((x) => x.requirement))],
    edgeCases: [],
    outcome,
    verdicts,
    metrics: {},
    durationMs: 1234,
    attempts: 1,
    timeline: [],
    ...extra,
  };
}

/** Cases under which every requirement of REGISTRY passes (the gated one is not applicable). */
function allGood(): CaseResult[] {
  return [
    kase('t.a', 'pass', [v('T.MUST_A', 'pass')]),
    kase('t.b', 'pass', [v('T.MUST_B', 'pass'), v('T.SHOULD_S', 'pass')]),
    kase('t.gated', 'not-applicable', [], { requirements: ['T.MUST_GATED'], reason: 'capability x not declared' }),
    kase('t.may', 'pass', [v('T.MAY_M', 'pass')]),
  ];
}

function replace(cases: CaseResult[], id: string, next: CaseResult): CaseResult[] {
  return cases.map((c) => (c.id === id ? next : c));
}

function judge(cases: CaseResult[]) {
  const rollups = rollupRequirements(cases, REGISTRY);
  return { rollups, verdict: computeVerdict(rollups, cases), status: (id: string) => rollups.find((r) => r.id === id) };
}

function report(cases: CaseResult[], extra: Partial<Parameters<typeof buildReport>[0]> = {}): Report {
  return buildReport({
    toolVersion: '0.1.0',
    specVersion: '1.0.0',
    startedAt: new Date('2025-01-02T03:04:05.678Z'),
    durationMs: 4321,
    subject: { name: 'synthetic', manifestFile: '/tmp/synthetic/manifest.json', manifest: { name: 'synthetic' } },
    options: { repeat: 1, retries: 0, timeoutScale: 1 },
    cases,
    requirements: REGISTRY,
    environment: {
      os: 'Linux 6.1',
      platform: 'linux',
      release: '6.1.0',
      arch: 'x64',
      node: 'v20.19.0',
      cpus: 4,
      cpuModel: 'test cpu',
      ci: false,
    },
    ...extra,
  });
}

function event(i: number): HistoryEvent {
  return { ns: String(1_000_000 + i), t: i / 1000, source: 'harness', kind: `e${i}`, data: { i } };
}

// ---------------------------------------------------------------------------------------------

describe('outcomeFromVerdicts', () => {
  const cases: [string, Verdict[], Outcome][] = [
    ['all pass', [v('T.MUST_A', 'pass'), v('T.SHOULD_S', 'pass')], 'pass'],
    ['pass and info', [v('T.MUST_A', 'pass'), v('T.MAY_M', 'info')], 'pass'],
    ['a MUST fail', [v('T.MUST_A', 'fail'), v('T.SHOULD_S', 'pass')], 'fail'],
    ['a MUST fail beats unknown', [v('T.MUST_A', 'fail'), v('T.MUST_B', 'unknown')], 'fail'],
    ['only a SHOULD fail', [v('T.MUST_A', 'pass'), v('T.SHOULD_S', 'fail')], 'non-strict'],
    ['only a MAY fail', [v('T.MUST_A', 'pass'), v('T.MAY_M', 'fail')], 'non-strict'],
    ['only info', [v('T.MAY_M', 'info')], 'informational'],
    [
      'unknown without fail: the case passes what it could judge',
      [v('T.MUST_A', 'pass'), v('T.MUST_B', 'unknown')],
      'pass',
    ],
    ['only unknown: informational, never a harness error', [v('T.MUST_B', 'unknown')], 'informational'],
    ['unknown with a SHOULD fail', [v('T.SHOULD_S', 'fail'), v('T.MUST_B', 'unknown')], 'non-strict'],
    ['no verdicts', [], 'harness-error'],
    ['a fail on an ID missing from the registry counts as MUST', [v('X.UNKNOWN', 'fail')], 'fail'],
  ];
  it.each(cases)('%s', (_name, verdicts, expected) => {
    expect(outcomeFromVerdicts(verdicts, LEVELS)).toBe(expected);
  });
});

describe('rollup and verdict', () => {
  it('everything passing (gated MUST not applicable) is fully compliant', () => {
    const { verdict, status } = judge(allGood());
    expect(verdict).toEqual({
      compliant: true,
      fullyCompliant: true,
      label: 'fully compliant',
      mustFailures: [],
      shouldFailures: [],
      untestedMust: [],
      harnessErrors: 0,
    });
    expect(status('T.MUST_A')?.status).toBe('pass');
    expect(status('T.MUST_GATED')?.status).toBe('not-applicable');
    expect(status('T.MUST_B')?.cases).toEqual(['t.b']);
  });

  it('a MUST failure makes the run not compliant and names the failing case', () => {
    const cases = replace(allGood(), 't.a', kase('t.a', 'fail', [v('T.MUST_A', 'fail')]));
    const { verdict, status } = judge(cases);
    expect(verdict.compliant).toBe(false);
    expect(verdict.label).toBe('not compliant');
    expect(verdict.mustFailures).toEqual(['T.MUST_A']);
    expect(status('T.MUST_A')).toMatchObject({ status: 'fail', failures: ['t.a'] });
  });

  it('a MUST failure in one case wins over a pass in another', () => {
    const cases = [...allGood(), kase('t.a2', 'fail', [v('T.MUST_A', 'fail')])];
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_A')).toMatchObject({ status: 'fail', cases: ['t.a', 't.a2'], failures: ['t.a2'] });
    expect(verdict.compliant).toBe(false);
  });

  it('a SHOULD failure only: compliant but not fully compliant', () => {
    const cases = replace(
      allGood(),
      't.b',
      kase('t.b', 'non-strict', [v('T.MUST_B', 'pass'), v('T.SHOULD_S', 'fail')]),
    );
    const { verdict, status } = judge(cases);
    expect(verdict).toMatchObject({ compliant: true, fullyCompliant: false, label: 'compliant' });
    expect(verdict.shouldFailures).toEqual(['T.SHOULD_S']);
    expect(status('T.SHOULD_S')?.status).toBe('non-strict');
    expect(status('T.MUST_B')?.status).toBe('pass');
  });

  it('a SHOULD that was not tested keeps the run from being fully compliant', () => {
    const cases = replace(allGood(), 't.b', kase('t.b', 'pass', [v('T.MUST_B', 'pass')]));
    const { verdict, status } = judge(cases);
    expect(status('T.SHOULD_S')?.status).toBe('not-tested');
    expect(verdict).toMatchObject({ compliant: true, fullyCompliant: false, label: 'compliant' });
  });

  it('a MUST without any case is not tested and breaks compliance', () => {
    const cases = allGood().filter((c) => c.id !== 't.a');
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_A')).toMatchObject({ status: 'not-tested', cases: [] });
    expect(verdict.untestedMust).toEqual(['T.MUST_A']);
    expect(verdict.compliant).toBe(false);
  });

  it('not-applicable requirements are excluded; one applicable case makes them count again', () => {
    expect(judge(allGood()).verdict.compliant).toBe(true);
    const cases = [...allGood(), kase('t.gated2', 'fail', [v('T.MUST_GATED', 'fail')])];
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_GATED')?.status).toBe('fail');
    expect(verdict.mustFailures).toEqual(['T.MUST_GATED']);
  });

  it('a skipped case leaves its requirement not tested, even when another case passed it', () => {
    const skipped = kase('t.a-skip', 'skipped', [], { requirements: ['T.MUST_A'], reason: '--grep' });
    const { verdict, status } = judge([...allGood(), skipped]);
    expect(status('T.MUST_A')?.status).toBe('not-tested');
    expect(verdict.untestedMust).toEqual(['T.MUST_A']);
    expect(verdict.compliant).toBe(false);
  });

  it('unsupported counts as not tested', () => {
    const cases = replace(
      allGood(),
      't.a',
      kase('t.a', 'unsupported', [], { requirements: ['T.MUST_A'], reason: 'exit 127' }),
    );
    expect(judge(cases).status('T.MUST_A')?.status).toBe('not-tested');
  });

  it('flaky never counts as pass: the requirement fails', () => {
    const cases = replace(allGood(), 't.a', kase('t.a', 'flaky', [v('T.MUST_A', 'pass')], { attempts: 2 }));
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_A')).toMatchObject({ status: 'fail', failures: ['t.a'] });
    expect(verdict.compliant).toBe(false);
    expect(verdict.mustFailures).toEqual(['T.MUST_A']);
  });

  it('a flaky SHOULD-only case makes the SHOULD non-strict', () => {
    const cases = [
      ...replace(allGood(), 't.b', kase('t.b', 'pass', [v('T.MUST_B', 'pass')])),
      kase('t.s', 'flaky', [v('T.SHOULD_S', 'pass')], { attempts: 3 }),
    ];
    const { verdict, status } = judge(cases);
    expect(status('T.SHOULD_S')?.status).toBe('non-strict');
    expect(verdict.label).toBe('compliant');
  });

  it('a harness error touching a MUST: not compliant, requirement not tested, counted', () => {
    const cases = replace(
      allGood(),
      't.a',
      kase('t.a', 'harness-error', [v('T.MUST_A', 'pass'), v('T.MUST_A', 'unknown')], { reason: 'probe lost' }),
    );
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_A')?.status).toBe('not-tested');
    expect(verdict).toMatchObject({ compliant: false, harnessErrors: 1, untestedMust: ['T.MUST_A'] });
  });

  it('a harness error on an ID missing from the registry still breaks compliance', () => {
    const cases = [...allGood(), kase('t.x', 'harness-error', [v('X.NOT_IN_REGISTRY', 'unknown')])];
    const { verdict } = judge(cases);
    expect(verdict.mustFailures).toEqual([]);
    expect(verdict.untestedMust).toEqual([]);
    expect(verdict.compliant).toBe(false);
  });

  it('timeout and crash: not tested unless the case carries a fail verdict for the requirement', () => {
    const timeout = judge(replace(allGood(), 't.a', kase('t.a', 'timeout', [v('T.MUST_A', 'pass')])));
    expect(timeout.status('T.MUST_A')?.status).toBe('not-tested');
    expect(timeout.verdict.compliant).toBe(false);

    const timeoutFail = judge(replace(allGood(), 't.a', kase('t.a', 'timeout', [v('T.MUST_A', 'fail')])));
    expect(timeoutFail.status('T.MUST_A')?.status).toBe('fail');

    // the death itself is a PROC.NO_CRASH_SIGNAL fail verdict (grade.ts); the case's other verdicts are
    // not trusted either way: a pass is undecided, a fail still fails
    const crash = judge(replace(allGood(), 't.a', kase('t.a', 'crash', [v('T.MUST_A', 'pass')])));
    expect(crash.status('T.MUST_A')?.status).toBe('not-tested');
    expect(crash.verdict.compliant).toBe(false);
    const crashFail = judge(replace(allGood(), 't.a', kase('t.a', 'crash', [v('T.MUST_A', 'fail')])));
    expect(crashFail.status('T.MUST_A')).toMatchObject({ status: 'fail', failures: ['t.a'] });
    expect(crashFail.verdict.mustFailures).toEqual(['T.MUST_A']);
  });

  it('a MUST with only informational evidence is not demonstrated', () => {
    const cases = replace(allGood(), 't.a', kase('t.a', 'informational', [v('T.MUST_A', 'info')]));
    const { verdict, status } = judge(cases);
    expect(status('T.MUST_A')?.status).toBe('informational');
    expect(verdict.untestedMust).toEqual(['T.MUST_A']);
    expect(verdict.compliant).toBe(false);
  });

  it('a cited requirement without a verdict for it is not tested', () => {
    const cases = replace(
      allGood(),
      't.a',
      kase('t.a', 'pass', [v('T.MAY_M', 'pass')], { requirements: ['T.MUST_A'] }),
    );
    expect(judge(cases).status('T.MUST_A')?.status).toBe('not-tested');
  });

  it('a MAY failure never affects the verdict', () => {
    const cases = replace(allGood(), 't.may', kase('t.may', 'non-strict', [v('T.MAY_M', 'fail')]));
    const { verdict, status } = judge(cases);
    expect(status('T.MAY_M')?.status).toBe('non-strict');
    expect(verdict.label).toBe('fully compliant');
  });

  it('repeats of one case are listed once', () => {
    const cases = [...allGood(), { ...kase('t.a', 'pass', [v('T.MUST_A', 'pass')]), repeat: 1 }];
    expect(judge(cases).status('T.MUST_A')?.cases).toEqual(['t.a']);
  });

  it('the real registry with no cases: every MUST untested', () => {
    const registry = JSON.parse(readFileSync(path.join(process.cwd(), 'spec', 'requirements.json'), 'utf8')) as {
      requirements: RequirementInfo[];
    };
    const rollups = rollupRequirements([], registry.requirements);
    const verdict = computeVerdict(rollups, []);
    const musts = registry.requirements.filter((r) => r.level === 'MUST').map((r) => r.id);
    expect(musts.length).toBeGreaterThan(0);
    expect(verdict.untestedMust).toEqual(musts);
    expect(verdict.label).toBe('not compliant');
  });

  it('a subject that did not start is not certified, whatever its cases say, and says why in one line', () => {
    const notStarted = {
      kind: 'exited',
      reason: 'synthetic exited before it was ready (exit 1)',
      exit: { code: 1, signal: null },
      stderrTail: 'Error: listen EACCES 127.0.0.1:80',
    };
    const r = report(allGood(), { notStarted });
    expect(r.verdict).toMatchObject({ label: 'not certified', compliant: false, fullyCompliant: false, notStarted });
    expect(r.verdict.harnessErrors).toBe(0);
    const line = verdictLine(r);
    expect(line).toBe(
      'VERDICT: not certified — the subject did not start: synthetic exited before it was ready (exit 1); its stderr ends: Error: listen EACCES 127.0.0.1:80; no case ran',
    );
    expect(validateReport(JSON.parse(serializeReport(r))).errors).toEqual([]);
    // the schema ties the label to its reason, both ways
    const bare = JSON.parse(serializeReport(r)) as Report;
    delete bare.verdict.notStarted;
    expect(validateReport(bare).errors.join('\n')).toMatch(/notStarted/);
    const certified = JSON.parse(serializeReport(r)) as Report;
    certified.verdict.compliant = true;
    expect(validateReport(certified).errors.length).toBeGreaterThan(0);
  });
});

describe('percentiles (nearest rank)', () => {
  it('1..100', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(samples)).toEqual({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(samples[0]).toBe(100); // input untouched
  });
  it('small samples pick real samples, never interpolate', () => {
    expect(percentiles([7])).toEqual({ n: 1, p50: 7, p90: 7, p99: 7, max: 7 });
    expect(percentiles([2, 1])).toEqual({ n: 2, p50: 1, p90: 2, p99: 2, max: 2 });
    expect(percentiles([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])).toEqual({
      n: 10,
      p50: 50,
      p90: 90,
      p99: 100,
      max: 100,
    });
    expect(percentiles([3.5, 1.25, 2])).toEqual({ n: 3, p50: 2, p90: 3.5, p99: 3.5, max: 3.5 });
    // rank = ceil(p/100 * n): for n = 7, p50 is the 4th sample and p90 the 7th (not the 6th)
    expect(percentiles([1, 2, 3, 4, 5, 6, 7])).toEqual({ n: 7, p50: 4, p90: 7, p99: 7, max: 7 });
  });
  it('rejects empty and non-finite samples', () => {
    expect(() => percentiles([])).toThrow(RangeError);
    expect(() => percentiles([1, Number.NaN])).toThrow(RangeError);
  });
  it('latencyTable wraps them', () => {
    expect(latencyTable('idle', 'LATENCY.IDLE', [1, 2, 3, 4], 50)).toEqual({
      scenario: 'idle',
      requirement: 'LATENCY.IDLE',
      n: 4,
      p50: 2,
      p90: 4,
      p99: 4,
      max: 4,
      budgetMs: 50,
      unit: 'ms',
    });
  });
});

describe('report assembly helpers', () => {
  it('countOutcomes has every outcome', () => {
    const counts = countOutcomes(allGood());
    expect(Object.keys(counts).sort()).toEqual([...OUTCOMES].sort());
    expect(counts.pass).toBe(3);
    expect(counts['not-applicable']).toBe(1);
    expect(counts.fail).toBe(0);
  });
  it('trimTimeline keeps at most MAX_TIMELINE_EVENTS, the start and the end', () => {
    const events = Array.from({ length: 1000 }, (_, i) => event(i));
    const trimmed = trimTimeline(events);
    expect(trimmed).toHaveLength(MAX_TIMELINE_EVENTS);
    expect(trimmed[0]?.kind).toBe('e0');
    expect(trimmed.at(-1)?.kind).toBe('e999');
    expect(trimTimeline(events.slice(0, 5))).toHaveLength(5);
  });
  it('buildReport derives summary, rollups and verdict', () => {
    const r = report(replace(allGood(), 't.a', kase('t.a', 'fail', [v('T.MUST_A', 'fail')])));
    expect(r.reportVersion).toBe('1.1.0');
    expect(r.summary.total).toBe(4);
    expect(r.summary.counts.fail).toBe(1);
    expect(r.verdict.mustFailures).toEqual(['T.MUST_A']);
    expect(r.startedAt).toBe('2025-01-02T03:04:05.678Z');
    expect(r.partial).toBeUndefined();
    expect(report(allGood(), { partial: true }).partial).toBe(true);
  });
});

describe('console rendering', () => {
  const failing = () =>
    report(
      [
        ...replace(
          allGood(),
          't.a',
          kase('t.a', 'fail', [
            v('T.MUST_A', 'fail', { expected: 'exit code 0', actual: 'exit code 137 after 5000 ms' }),
          ]),
        ),
        kase('t.b2', 'fail', [v('T.MUST_B', 'fail')]),
      ],
      { latency: [latencyTable('idle', 'T.MUST_A', [1, 2, 3, 40], 50)] },
    );

  it('fully compliant verdict line with MUST and SHOULD tallies', () => {
    const text = renderConsole(report(allGood()), { color: false });
    expect(text).toContain('VERDICT: fully compliant (2/2 MUST, 1/1 SHOULD)');
    expect(text.trimEnd().split('\n').at(-1)).toBe('VERDICT: fully compliant (2/2 MUST, 1/1 SHOULD)');
  });

  it('not compliant verdict line lists the failed MUSTs', () => {
    const r = failing();
    expect(verdictLine(r)).toBe('VERDICT: not compliant — 2 MUST failed: T.MUST_A, T.MUST_B (0/2 MUST, 1/1 SHOULD)');
    expect(renderConsole(r, { color: false })).toContain('VERDICT: not compliant — 2 MUST failed: T.MUST_A, T.MUST_B');
  });

  it('compliant verdict line names the unmet SHOULDs; partial runs say so', () => {
    const r = report(
      replace(allGood(), 't.b', kase('t.b', 'non-strict', [v('T.MUST_B', 'pass'), v('T.SHOULD_S', 'fail')])),
      {
        partial: true,
      },
    );
    expect(verdictLine(r)).toBe(
      'VERDICT: compliant (2/2 MUST, 0/1 SHOULD) — 1 SHOULD not met: T.SHOULD_S [partial run: interrupted]',
    );
  });

  it('untested MUSTs and harness errors appear in the verdict line', () => {
    const cases = [
      ...allGood().filter((c) => c.id !== 't.a'),
      kase('t.err', 'harness-error', [], { requirements: ['T.MUST_B'], reason: 'probe lost' }),
    ];
    const line = verdictLine(report(cases));
    expect(line).toContain('MUST not tested: T.MUST_A, T.MUST_B');
    expect(line).toContain('1 harness error');
  });

  it('per-case lines, the requirement table, the latency table, counts', () => {
    const text = renderConsole(failing(), { color: false });
    expect(text).toMatch(/^ {2}✘ FAIL\s+t\.a\s+case t\.a \(1\.23s\)$/m);
    expect(text).toContain('T.MUST_A: expected exit code 0; actual exit code 137 after 5000 ms');
    expect(text).toMatch(/^ {2}- N\/A\s+t\.gated\s+case t\.gated/m);
    expect(text).toContain('capability x not declared');
    expect(text).toMatch(/^ {2}ID\s+LEVEL\s+STATUS\s+CASES$/m);
    expect(text).toMatch(/^ {2}T\.MUST_A\s+MUST\s+fail\s+t\.a$/m);
    expect(text).toMatch(/^ {2}T\.MUST_GATED\s+MUST\s+not-applicable\s+t\.gated$/m);
    expect(text).toMatch(/^ {2}T\.SHOULD_S\s+SHOULD\s+pass\s+t\.b$/m);
    expect(text).toMatch(/^ {2}SCENARIO\s+REQUIREMENT\s+N\s+P50\s+P90\s+P99\s+MAX\s+BUDGET$/m);
    expect(text).toMatch(/^ {2}idle\s+T\.MUST_A\s+4\s+2\s+40\s+40\s+40\s+50$/m);
    expect(text).toContain('5 cases: 2 pass, 2 fail, 1 not-applicable');
    expect(text).not.toContain('\u001b[');
  });

  it('colours only when asked', () => {
    const text = renderConsole(failing(), { color: true });
    expect(text).toContain('\u001b[31m');
    expect(text).toContain('VERDICT: not compliant');
  });

  it('progressLine', () => {
    const pass = kase('t.a', 'pass', [v('T.MUST_A', 'pass')]);
    expect(progressLine(3, 12, pass)).toMatch(/^\[ 3\/12\] ✔ PASS\s+t\.a \(1\.23s\)$/);
    const fail = kase('t.b', 'fail', [v('T.MUST_B', 'fail', { expected: 'E', actual: 'A' })]);
    expect(progressLine(12, 12, fail)).toMatch(
      /^\[12\/12\] ✘ FAIL\s+t\.b \(1\.23s\) — T\.MUST_B: expected E; actual A$/,
    );
    expect(progressLine(1, 1, fail, { color: true })).toContain('\u001b[31m');
  });
});

describe('JSON report and schema', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sigcert-report-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  function everyOutcome(): CaseResult[] {
    return OUTCOMES.map((o, i) =>
      kase(`t.${o}`, o, [v('T.MUST_A', o === 'fail' ? 'fail' : 'pass', { metrics: { ms: i } })], {
        ...(o === 'pass' ? {} : { reason: `because ${o}` }),
        timeline: [event(i)],
        runDir: `/tmp/run/t.${o}`,
        metrics: { signalToExitMs: 12.5 },
      }),
    );
  }

  it('a built report validates, and survives a write/read round trip', async () => {
    const r = report(everyOutcome(), { latency: [latencyTable('idle', 'T.MUST_A', [1, 2, 3], 50)], partial: true });
    expect(validateReport(r)).toEqual({ valid: true, errors: [] });
    const file = path.join(tmp, 'nested', 'report.json');
    await writeJsonReport(r, file);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('{\n  "reportVersion": "1.1.0",')).toBe(true);
    expect(text.indexOf('"verdict"')).toBeLessThan(text.indexOf('"cases"'));
    expect(await readJsonReport(file)).toEqual(JSON.parse(serializeReport(r)));
  });

  it('a report missing a required field fails validation', () => {
    const broken = JSON.parse(JSON.stringify(report(allGood()))) as Record<string, unknown>;
    delete broken.verdict;
    const res = validateReport(broken);
    expect(res.valid).toBe(false);
    expect(res.errors.join('\n')).toMatch(/verdict/);
  });

  it('a case missing its outcome, or with an unknown outcome, fails validation', () => {
    const a = JSON.parse(JSON.stringify(report(allGood()))) as Report;
    delete (a.cases[0] as Partial<CaseResult>).outcome;
    expect(validateReport(a).valid).toBe(false);
    const b = JSON.parse(JSON.stringify(report(allGood()))) as Report;
    (b.cases[0] as { outcome: string }).outcome = 'passed';
    expect(validateReport(b).errors.join('\n')).toMatch(/\/cases\/0\/outcome/);
  });

  it('an inconsistent verdict label fails validation', () => {
    const r = JSON.parse(JSON.stringify(report(allGood()))) as Report;
    r.verdict.compliant = false;
    expect(validateReport(r).valid).toBe(false);
  });

  it('a timeline longer than its excerpt limit fails validation; readJsonReport rejects it', async () => {
    const long = Array.from({ length: MAX_TIMELINE_EVENTS + MAX_TIMELINE_SAMPLES + 1 }, (_, i) => event(i));
    const r = report([kase('t.a', 'pass', [v('T.MUST_A', 'pass')], { timeline: long })]);
    expect(validateReport(r).valid).toBe(false);
    const file = path.join(tmp, 'long.json');
    await writeJsonReport(r, file);
    await expect(readJsonReport(file)).rejects.toThrow(/not a valid sigcert report/);
  });

  it('the schema agrees with the model constants', () => {
    const s = reportSchema() as {
      definitions: { outcome: { enum: string[] }; caseResult: { properties: { timeline: { maxItems: number } } } };
      properties: { summary: { properties: { counts: { required: string[] } } } };
    };
    expect(s.definitions.outcome.enum).toEqual([...OUTCOMES]);
    expect(s.properties.summary.properties.counts.required).toEqual([...OUTCOMES]);
    expect(s.definitions.caseResult.properties.timeline.maxItems).toBe(MAX_TIMELINE_EVENTS + MAX_TIMELINE_SAMPLES);
  });
});
