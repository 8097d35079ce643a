/**
 * The judgement of a real server's expectations (test/peers/expectations-check.ts), on synthetic case
 * results: the matrix test applies it to a full certification, so what it judges must be the file's
 * selected cases only.
 */
import { describe, expect, it } from 'vitest';
import type { Expectations } from '../../harness/src/matrix/expectations.js';
import type { CaseResult } from '../../harness/src/report/model.js';
import { loadRegistry } from '../../harness/src/spec.js';
import { judgeExpectations, selectionOf } from '../peers/expectations-check.js';

const requirements = loadRegistry().requirements;

function result(id: string, verdicts: [requirement: string, status: 'pass' | 'fail'][]): CaseResult {
  return {
    id,
    title: id,
    requirements: verdicts.map(([r]) => r),
    edgeCases: [],
    outcome: verdicts.some(([, s]) => s === 'fail') ? 'fail' : 'pass',
    verdicts: verdicts.map(([requirement, status]) => ({
      requirement,
      status,
      expected: 'e',
      actual: `${status} here`,
    })),
    metrics: {},
    durationMs: 1,
    attempts: 1,
    timeline: [],
  };
}

const base: Expectations = {
  subject: 's',
  writtenFor: 'test',
  install: 'x',
  cases: ['stop.deadline', 'stop.in-flight'],
  findings: [{ requirement: 'STOP.DEADLINE_EXIT_CODE', case: 'stop.deadline', why: 'w', sources: [] }],
  pass: ['STOP.DRAIN.IN_FLIGHT'],
};

describe('judging expectations on a certification', () => {
  it('the selection matches exactly the listed case ids', () => {
    const re = selectionOf({ ...base, cases: ['map.stop.SIGTERM', 'stop.in-flight'] });
    expect(re.test('map.stop.SIGTERM')).toBe(true);
    expect(re.test('map.stopXSIGTERM')).toBe(false); // the dot is literal
    expect(re.test('stop.in-flight.extra')).toBe(false);
  });

  it('holds when the finding fails in its case and the pass requirement passes', () => {
    const j = judgeExpectations(
      's',
      base,
      [
        result('stop.deadline', [['STOP.DEADLINE_EXIT_CODE', 'fail']]),
        result('stop.in-flight', [['STOP.DRAIN.IN_FLIGHT', 'pass']]),
      ],
      requirements,
    );
    expect(j).toMatchObject({ missed: [], notPassed: [], errors: [] });
  });

  it('reports a finding that passed, and a pass requirement that failed', () => {
    const j = judgeExpectations(
      's',
      base,
      [
        result('stop.deadline', [['STOP.DEADLINE_EXIT_CODE', 'pass']]),
        result('stop.in-flight', [['STOP.DRAIN.IN_FLIGHT', 'fail']]),
      ],
      requirements,
    );
    expect(j.missed).toEqual([expect.stringContaining('STOP.DEADLINE_EXIT_CODE (stop.deadline): pass')]);
    expect(j.notPassed).toEqual([expect.stringContaining('STOP.DRAIN.IN_FLIGHT: fail')]);
  });

  it('judges only the selected cases of a full certification', () => {
    const j = judgeExpectations(
      's',
      base,
      [
        result('stop.deadline', [['STOP.DEADLINE_EXIT_CODE', 'fail']]),
        result('stop.in-flight', [['STOP.DRAIN.IN_FLIGHT', 'pass']]),
        // outside the selection: neither fails a pass requirement nor stands in for a missing finding
        result('io.slow-upload', [['STOP.DRAIN.IN_FLIGHT', 'fail']]),
      ],
      requirements,
    );
    expect(j).toMatchObject({ missed: [], notPassed: [], other: [] });
    const missing = judgeExpectations(
      's',
      base,
      [
        result('stop.in-flight', [['STOP.DRAIN.IN_FLIGHT', 'pass']]),
        result('io.slow-upload', [['STOP.DEADLINE_EXIT_CODE', 'fail']]),
      ],
      requirements,
    );
    expect(missing.missed).toEqual([expect.stringContaining('STOP.DEADLINE_EXIT_CODE (stop.deadline)')]);
  });

  it('lists a selected case that ended in a harness error', () => {
    const broken = { ...result('stop.in-flight', []), outcome: 'harness-error' as const, reason: 'boom' };
    const j = judgeExpectations(
      's',
      base,
      [result('stop.deadline', [['STOP.DEADLINE_EXIT_CODE', 'fail']]), broken],
      requirements,
    );
    expect(j.errors).toEqual(['stop.in-flight: boom']);
  });
});
