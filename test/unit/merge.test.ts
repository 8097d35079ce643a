/**
 * `sigcert merge`: shard reports become one report with one verdict; reports that do not belong to one
 * run (subject, spec, sigcert or report version differ, or two shards ran the same case) are refused.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { MergeError, mergeReportFiles, mergeReports } from '../../harness/src/merge.js';
import {
  buildReport,
  type CaseResult,
  type Report,
  type RequirementInfo,
  validateReport,
} from '../../harness/src/report/index.js';
import type { Outcome } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const REQS: RequirementInfo[] = [
  { id: 'T.A', level: 'MUST', title: 'A' },
  { id: 'T.B', level: 'MUST', title: 'B' },
];

function kase(id: string, req: string, outcome: Outcome): CaseResult {
  return {
    id,
    title: id,
    requirements: [req],
    edgeCases: [],
    outcome,
    verdicts: [
      {
        requirement: req,
        status: outcome === 'pass' ? 'pass' : 'fail',
        expected: 'exit 0',
        actual: outcome === 'pass' ? 'exit 0' : 'exit 1',
      },
    ],
    metrics: {},
    durationMs: 100,
    attempts: 1,
    timeline: [],
  };
}

function shard(
  cases: CaseResult[],
  over: Partial<{ subject: string; spec: string; tool: string; start: string }> = {},
) {
  return buildReport({
    toolVersion: over.tool ?? '0.1.0',
    specVersion: over.spec ?? '1.0.0',
    startedAt: over.start ?? '2025-01-01T00:00:00.000Z',
    durationMs: 1000,
    subject: { name: over.subject ?? 'demo', manifestFile: '/x/manifest.json', manifest: {} },
    options: { shard: [1, 2] },
    cases,
    requirements: REQS,
  });
}

describe('merge', () => {
  it('two shards make one certificate: every case, one verdict, the span of both runs', () => {
    const a = shard([kase('a.one', 'T.A', 'pass')]);
    const b = shard([kase('b.one', 'T.B', 'pass')], { start: '2025-01-01T00:00:05.000Z' });
    // alone, each shard leaves a MUST untested: not compliant
    expect(a.verdict.compliant).toBe(false);
    const m = mergeReports([a, b], ['a.json', 'b.json']);
    expect(validateReport(JSON.parse(JSON.stringify(m))).errors).toEqual([]);
    expect(m.cases.map((c) => c.id)).toEqual(['a.one', 'b.one']);
    expect(m.verdict.compliant).toBe(true);
    expect(m.startedAt).toBe('2025-01-01T00:00:00.000Z');
    expect(m.durationMs).toBe(6000);
    expect(m.options.merged).toEqual([
      { file: 'a.json', options: { shard: [1, 2] } },
      { file: 'b.json', options: { shard: [1, 2] } },
    ]);
    const failing = mergeReports([a, shard([kase('b.one', 'T.B', 'fail')])], ['a.json', 'b.json']);
    expect(failing.verdict.compliant).toBe(false);
  });

  it('refuses reports of another subject, spec or sigcert version, and overlapping shards', () => {
    const a = shard([kase('a.one', 'T.A', 'pass')]);
    const other = (over: Parameters<typeof shard>[1]) => () =>
      mergeReports([a, shard([kase('b.one', 'T.B', 'pass')], over)], ['a.json', 'b.json']);
    expect(other({ subject: 'nginx' })).toThrow(/b\.json: subject "nginx" differs from "demo" in a\.json/);
    expect(other({ spec: '1.1.0' })).toThrow(/spec version "1\.1\.0" differs/);
    expect(other({ tool: '0.2.0' })).toThrow(/sigcert version "0\.2\.0" differs/);
    expect(() => mergeReports([a, shard([kase('a.one', 'T.A', 'pass')])], ['a.json', 'b.json'])).toThrow(
      /case a\.one is in both a\.json and b\.json/,
    );
    expect(() => mergeReports([], [])).toThrow(MergeError);
  });

  it('a shard whose subject did not start makes the merge not certified', () => {
    const a = shard([kase('a.one', 'T.A', 'pass')]);
    const b = buildReport({
      ...{ toolVersion: '0.1.0', specVersion: '1.0.0', startedAt: '2025-01-01T00:00:00.000Z', durationMs: 10 },
      subject: { name: 'demo', manifestFile: '/x/manifest.json', manifest: {} },
      options: { shard: [2, 2] },
      cases: [{ ...kase('b.one', 'T.B', 'skipped'), reason: 'not run: the subject did not start: demo not ready' }],
      requirements: REQS,
      notStarted: { kind: 'not-ready', reason: 'demo not ready after 100 ms (readiness: probe)' },
    });
    const m = mergeReports([a, b], ['a.json', 'b.json']);
    expect(m.verdict.label).toBe('not certified');
    expect(m.verdict.notStarted?.kind).toBe('not-ready');
    expect(validateReport(JSON.parse(JSON.stringify(m))).errors).toEqual([]);
    expect(mergeReports([a, shard([kase('b.one', 'T.B', 'pass')])], ['a', 'b']).verdict.label).toBe('fully compliant');
  });

  it('a partial shard makes a partial merge', () => {
    const a: Report = { ...shard([kase('a.one', 'T.A', 'pass')]), partial: true };
    expect(mergeReports([a, shard([kase('b.one', 'T.B', 'pass')])], ['a', 'b']).partial).toBe(true);
  });

  it('files: missing, not JSON, not a report', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-merge-'));
    writeFileSync(path.join(dir, 'bad.json'), '{');
    writeFileSync(path.join(dir, 'other.json'), '{"hello": 1}');
    expect(() => mergeReportFiles([path.join(dir, 'nope.json')])).toThrow(/nope\.json: file not found/);
    expect(() => mergeReportFiles([path.join(dir, 'bad.json')])).toThrow(/bad\.json: not JSON/);
    expect(() => mergeReportFiles([path.join(dir, 'other.json')])).toThrow(/other\.json: not a sigcert JSON report/);
  });

  it('sigcert merge writes the merged JSON and JUnit and exits by the merged verdict', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-merge-cli-'));
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(shard([kase('a.one', 'T.A', 'pass')])));
    writeFileSync(b, JSON.stringify(shard([kase('b.one', 'T.B', 'pass')])));
    const run = (...args: string[]) =>
      execa('node', [path.join(root, 'bin/sigcert.js'), 'merge', ...args], {
        reject: false,
        env: { NO_COLOR: '1', CI: '1' },
      });
    const ok = await run(a, b, '--json', path.join(dir, 'm.json'), '--junit', path.join(dir, 'm.xml'));
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/merged 2 reports: 2 cases/);
    const merged = JSON.parse(readFileSync(path.join(dir, 'm.json'), 'utf8')) as Report;
    expect(merged.cases).toHaveLength(2);
    expect(readFileSync(path.join(dir, 'm.xml'), 'utf8')).toContain('name="a.one"');
    const one = await run(a);
    expect(one.exitCode).toBe(1); // one shard alone is not a certificate
    writeFileSync(b, JSON.stringify(shard([kase('b.one', 'T.B', 'pass')], { subject: 'nginx' })));
    const bad = await run(a, b);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^sigcert: .*b\.json: subject "nginx" differs/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
