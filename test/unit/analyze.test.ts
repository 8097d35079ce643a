/**
 * `sigcert analyze` of a run directory gives back the run's own report (timestamps aside), whatever
 * happened in the run: passes, failures, harness errors, timeouts, unsupported signals, retries that
 * end flaky, repeats, an interruption. The cases here are in-process fakes that follow a random plan
 * per attempt, so the property runs the real runner and the real analyzer without starting a process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { reportOfRunDir } from '../../harness/src/analyze.js';
import { type CaseDef, defineCase } from '../../harness/src/case.js';
import { notes, verdict } from '../../harness/src/grade/index.js';
import { SignalUnsupportedError } from '../../harness/src/launch/index.js';
import { makeReport } from '../../harness/src/report/assemble.js';
import { verdictLine } from '../../harness/src/report/labels.js';
import { runCases, selectCases } from '../../harness/src/runner.js';
import type { Manifest } from '../../harness/src/types.js';

type Step = 'pass' | 'fail' | 'throw' | 'hang' | 'unsupported' | 'interrupt';

const manifest = {
  protocol: '1',
  name: 'fake',
  command: 'true',
  args: [],
  cwd: '/',
  env: {},
  ports: ['http'],
  readiness: { kind: 'tcp', path: '/', port: 'http', timeoutMs: 1000 },
  signals: { SIGTERM: 'stop' },
  signalsRepeat: {},
  capabilities: {},
  gracePeriodMs: 1000,
  preDrainDelayMs: 0,
  exitCodes: { graceful: 0, deadline: 1, fastStop: 'signal' },
  platforms: ['linux', 'darwin', 'win32'],
  endpoints: [],
  file: '/fake/manifest.json',
  dir: '/fake',
} satisfies Manifest;

/** A case that does, on its n-th call, what its plan says. */
function fakeCase(
  id: string,
  plan: Step[],
  abort: AbortController,
  opts: { na?: boolean; exclusive?: boolean },
): CaseDef {
  let call = 0;
  return defineCase({
    id,
    title: `fake ${id}`,
    description: 'follows a plan',
    requirements: ['BUS.STATES'],
    timeout: 'short',
    ...(opts.exclusive ? { exclusive: true } : {}),
    ...(opts.na ? { notApplicable: () => 'the plan says so' } : {}),
    async run(ctx) {
      const step = plan[Math.min(call++, plan.length - 1)]!;
      if (step === 'throw') throw new Error(`planned failure of ${id}`);
      if (step === 'unsupported') throw new SignalUnsupportedError('SIGWINCH', 'linux', 'planned');
      if (step === 'hang') await new Promise(() => {});
      if (step === 'interrupt') abort.abort();
      ctx.note('step', { ok: step === 'pass' });
    },
    grade({ events }) {
      const ok = notes(events, 'step')[0]?.ok === true;
      return [verdict('BUS.STATES', ok, 'the plan passes', ok ? 'passed' : 'failed')];
    },
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const step = fc.constantFrom<Step>('pass', 'pass', 'fail', 'throw', 'hang', 'unsupported', 'interrupt');
const caseArb = fc.record({
  plan: fc.array(step, { minLength: 1, maxLength: 3 }),
  na: fc.boolean(),
  exclusive: fc.boolean(),
});

describe('analyze reproduces the run', () => {
  it('gives the same report as the run for any mix of outcomes, retries, repeats and interruptions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(caseArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 2 }),
        async (specs, retries, repeat) => {
          const outDir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-analyze-'));
          dirs.push(outDir);
          const abort = new AbortController();
          const cases = specs.map((s, i) => fakeCase(`fake.c${i}`, s.plan, abort, s));
          writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest));
          const startedAt = new Date();
          // a short case budget: 15 s x 0.001 = 15 ms, so a hanging case times out at once
          const run = await runCases({
            manifest,
            cases,
            outDir,
            retries,
            repeat,
            timeoutScale: 0.001,
            abort: abort.signal,
          });
          const report = makeReport(manifest, run.results, { retries, repeat }, startedAt, run.partial);
          writeFileSync(path.join(outDir, 'report.json'), JSON.stringify(report));
          const again = await reportOfRunDir(outDir, () => cases);
          expect(again.cases).toEqual(report.cases);
          expect(again.requirements).toEqual(report.requirements);
          expect(again.summary).toEqual(report.summary);
          expect(again.verdict).toEqual(report.verdict);
          expect(again.partial ?? false).toBe(report.partial ?? false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rebuilds flaky from the attempts: a pass after a failure is never a pass', async () => {
    const outDir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-analyze-'));
    dirs.push(outDir);
    const abort = new AbortController();
    const cases = [fakeCase('fake.flaky', ['fail', 'pass'], abort, {}), fakeCase('fake.slow', ['hang'], abort, {})];
    writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest));
    const run = await runCases({ manifest, cases, outDir, retries: 1, timeoutScale: 0.001 });
    const again = await reportOfRunDir(outDir, () => cases);
    expect(run.results.map((r) => [r.id, r.outcome, r.attempts])).toEqual([
      ['fake.flaky', 'flaky', 2],
      ['fake.slow', 'timeout', 2],
    ]);
    expect(again.cases.map((r) => [r.id, r.outcome, r.attempts, r.reason])).toEqual(
      run.results.map((r) => [r.id, r.outcome, r.attempts, r.reason]),
    );
  });
});

describe('--bail', () => {
  it('starts no case after the first that did not pass, and skips the rest with the reason', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Step>('pass', 'fail', 'throw', 'hang'), { minLength: 1, maxLength: 5 }),
        async (plans) => {
          const outDir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-bail-'));
          dirs.push(outDir);
          const abort = new AbortController();
          const calls: string[] = [];
          const cases = plans.map((p, i) => {
            const c = fakeCase(`fake.c${i}`, [p], abort, {});
            const run = c.run;
            return {
              ...c,
              run: (ctx: Parameters<typeof run>[0]) => {
                calls.push(c.id);
                return run(ctx);
              },
            };
          });
          const run = await runCases({ manifest, cases, outDir, timeoutScale: 0.001, concurrency: 1, bail: true });
          const first = plans.findIndex((p) => p !== 'pass');
          expect(calls).toEqual(cases.slice(0, first === -1 ? cases.length : first + 1).map((c) => c.id));
          if (first === -1) {
            expect(run.bailedAfter).toBeUndefined();
            expect(run.results.every((r) => r.outcome === 'pass')).toBe(true);
          } else {
            expect(run.bailedAfter?.id).toBe(`fake.c${first}`);
            expect(run.results[first]!.outcome).not.toBe('pass');
            for (const r of run.results.slice(first + 1)) {
              expect(r.outcome).toBe('skipped');
              expect(r.reason).toContain(`--bail stopped the run after fake.c${first}`);
            }
            const report = makeReport(manifest, run.results, { bailedAfter: run.bailedAfter?.id }, new Date(), false);
            expect(report.verdict.fullyCompliant).toBe(false);
            expect(verdictLine(report)).toContain(`stopped after fake.c${first} (--bail)`);
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('--first', () => {
  it('starts the matching cases first, in id order, and selects exactly the same cases', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 9 }),
        (ids, digit) => {
          const abort = new AbortController();
          const cases = ids.map((n) => fakeCase(`fake.c${String(n).padStart(2, '0')}`, ['pass'], abort, {}));
          const first = new RegExp(`${digit}$`);
          const plain = selectCases(cases).map((c) => c.id);
          const ordered = selectCases(cases, undefined, undefined, first).map((c) => c.id);
          expect([...ordered].sort()).toEqual(plain);
          const k = ordered.filter((id) => first.test(id)).length;
          expect(ordered.slice(0, k)).toEqual(plain.filter((id) => first.test(id)));
          expect(ordered.slice(k)).toEqual(plain.filter((id) => !first.test(id)));
        },
      ),
    );
  });
});
