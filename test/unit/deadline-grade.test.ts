/**
 * STOP.DEADLINE_EXIT_CODE (grade/deadline.ts, through the stop.deadline case's grade) on hand-built
 * histories: the exit status, and the count of closed connections the subject logs to the handed-over
 * log file after the stop. The log lines are the reference's and the zoo base's own, and those of the
 * mutants of reference/src/http/drain.ts that survived before this check (docs/mutation.md).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CaseDef } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import { LOG_FILE_NEED, statementOf, statesNumber, verifyDeadlineExit } from '../../harness/src/grade/index.js';
import { caseResult } from '../../harness/src/grade/result.js';
import { rollupRequirements } from '../../harness/src/grade/rules.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import { loadRegistry } from '../../harness/src/spec.js';
import type { HistoryEvent, Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const reference = loadManifest(path.join(root, 'subjects/reference/manifest.json'));
/** The reference's manifest without `capabilities.logFile`: whether it uses the log file is only seen. */
const undeclared: Manifest = { ...reference, capabilities: { ...reference.capabilities, logFile: false } };
const blackBox: Manifest = {
  ...reference,
  capabilities: { ...reference.capabilities, probe: false, conformanceEndpoints: false, logFile: false },
  endpoints: ['hold'],
};

let clock = 1_000_000_000n;
function ev(source: HistoryEvent['source'], kind: string, data: Record<string, unknown> = {}): HistoryEvent {
  clock += 1_000_000n;
  return { ns: clock.toString(), t: 0, source, kind, data, launch: 0 };
}

const LONG = '/hold?ms=11000';
const SHORT = '/hold?ms=300';
const T = '2026-12-06T09:27:12.468Z [12280]';
/** What the reference writes between the stop and its exit, with the count line `deadlineLine`. */
const referenceLines = (deadlineLine: string | null) => [
  `${T} info  SIGTERM received: stop`,
  `${T} info  request stop from signal`,
  `${T} info  state STARTED -> STOPPING`,
  `${T} info  listeners closed; 0 idle connection(s) ended, 2 request(s) in flight`,
  `${T} warn  the stop deadline (1000 ms) expired`,
  ...(deadlineLine === null ? [] : [deadlineLine]),
  `${T} info  state STOPPING -> EXITING`,
  `${T} info  store index persisted (0 records, unchanged: nothing written)`,
  `${T} info  exiting with status 3 (deadline stop)`,
];

interface Options {
  lines?: string[];
  /** the long requests' outcome (default: cut by the deadline) */
  longOk?: boolean;
  exit?: { code: number | null; signal: string | null } | null;
  /** leave out the case's log notes (a history from before the check) */
  noLogNotes?: boolean;
}

/** A whole stop.deadline run: a request held past the deadline, one ending in the drain, the stop. */
function deadlineRun(o: Options = {}): HistoryEvent[] {
  const exit = o.exit === undefined ? { code: 3, signal: null } : o.exit;
  const labels = ['too-long'];
  const out: HistoryEvent[] = [ev('case', 'grace', { ms: 1000 })];
  if (!o.noLogNotes) {
    out.push(ev('case', 'deadline-held', { pastDeadline: 1, endsInDrain: 1, labels, paths: [LONG, SHORT] }));
    out.push(ev('case', 'deadline-log-at-stop', { file: '/run/subject.log', bytes: 640 }));
  }
  out.push(ev('harness', 'signal-sent', { sig: 'SIGTERM' }));
  out.push(ev('probe', 'probe', { ev: 'signal', sig: 'SIGTERM' }));
  out.push(ev('probe', 'probe', { ev: 'persisted', records: 0 }));
  if (exit) out.push(ev('process', 'exit', exit));
  for (const label of labels)
    out.push(
      ev('case', 'result', o.longOk ? { label, ok: true, status: 200 } : { label, ok: false, error: 'early-eof' }),
    );
  out.push(ev('case', 'result', { label: 'ends-in-drain', ok: true, status: 200 }));
  if (!o.noLogNotes) out.push(ev('case', 'deadline-log-after-exit', { lines: o.lines ?? [], truncated: false }));
  return out;
}

const logVerdicts = (events: HistoryEvent[], m: Manifest = reference) =>
  verifyDeadlineExit(events, m).filter((v) => v.expected.includes('SIGCERT_LOG_FILE'));

let deadlineCase: CaseDef;
async function gradeCase(events: HistoryEvent[], m: Manifest = reference) {
  deadlineCase ??= (await loadCases(m)).find((c) => c.id === 'stop.deadline')!;
  return caseResult(deadlineCase, events, m);
}

describe('STOP.DEADLINE_EXIT_CODE: how many connections the deadline closed, in the log file', () => {
  it('passes when a line written after the stop states the number closed (the reference, the zoo base)', () => {
    for (const line of [
      `${T} warn  aborted 1 request(s) in flight (0 CPU job(s) terminated)`,
      `${T} drain deadline: closed 1 request(s) still in flight`,
      `${T} closed 1 connection.`,
    ]) {
      const vs = verifyDeadlineExit(deadlineRun({ lines: referenceLines(line) }), reference);
      expect(vs.map((v) => v.status)).toEqual(['pass', 'pass']);
      expect(vs[1]!.expected.startsWith(statementOf('STOP.DEADLINE_EXIT_CODE'))).toBe(true);
      expect(vs[1]!.actual).toContain(line);
    }
  });

  it('fails when abort() closes and logs nothing: the count in flight at the stop (2) is not the count closed (1)', () => {
    // drain.ts line 78, `abort() {}`: the exit closes the connections; only the stop-accepting line has a count
    const vs = logVerdicts(deadlineRun({ lines: referenceLines(null) }));
    expect(vs.map((v) => v.status)).toEqual(['fail']);
    expect(vs[0]!.actual).toContain('none states 1');
  });

  it('fails when the deadline line has no count (an emptied message, or words only)', () => {
    // drain.ts line 83, the log text emptied; the zoo's deadline-count-unlogged
    for (const line of [`${T} warn  `, `${T} drain deadline: closed the requests still in flight`]) {
      const vs = logVerdicts(deadlineRun({ lines: referenceLines(line) }));
      expect(vs.map((v) => v.status)).toEqual(['fail']);
    }
  });

  it('fails the case (a MUST) even though the exit status is right', async () => {
    const r = await gradeCase(deadlineRun({ lines: referenceLines(null) }));
    expect(r.outcome).toBe('fail');
    const mine = r.verdicts.filter((v) => v.requirement === 'STOP.DEADLINE_EXIT_CODE').map((v) => v.status);
    expect(mine).toEqual(['pass', 'fail']);
  });

  it('finds no count in stamps, durations, paths or other numbers that contain its digits', () => {
    expect(statesNumber('2026-12-01T09:01:11.123Z [12281] warn took 150 ms, 1.5 s, 11 bytes, 0.1, 10:1', 1)).toBe(
      false,
    );
    expect(statesNumber('closed 1.', 1)).toBe(true);
    // a negated count (connections.ts's destroyAll() mutant: "aborted -1") and a date's month state nothing
    expect(statesNumber('aborted -1 request(s) in flight', 1)).toBe(false);
    expect(statesNumber('2026-12-01 drain deadline', 12)).toBe(false);
    expect(statesNumber('closed=1', 1)).toBe(true);
    expect(statesNumber('(1 connection)', 1)).toBe(true);
    expect(statesNumber('closed 2 connections', 2)).toBe(true);
    // the case's own request paths do not count, even when they hold the number
    const vs = logVerdicts(deadlineRun({ lines: [`${T} GET /hold?ms=11000 499 1 B`, `${T} drain deadline expired`] }));
    expect(vs.map((v) => v.status)).toEqual(['fail']);
  });

  it('is not observable (never failed) when the subject writes no line to the handed-over file after the stop', async () => {
    for (const m of [undeclared, blackBox]) {
      const vs = logVerdicts(deadlineRun({ lines: [] }), m);
      expect(vs.map((v) => [v.status, v.needs])).toEqual([['unknown', [LOG_FILE_NEED]]]);
      expect(vs[0]!.actual).toContain('wrote no line to the handed-over log file');
    }
    const r = await gradeCase(deadlineRun({ lines: [] }), blackBox);
    expect(r.outcome).toBe('pass');
    const levels = new Map(loadRegistry().requirements.map((q) => [q.id, q.level] as const));
    const rollup = rollupRequirements([r], loadRegistry().requirements).find(
      (q) => q.id === 'STOP.DEADLINE_EXIT_CODE',
    )!;
    expect(levels.get('STOP.DEADLINE_EXIT_CODE')).toBe('MUST');
    expect(rollup.status).toBe('pass'); // the exit status was observed; the count could not be
  });

  it('is not observable when the file holds only the request lines of the case (an access log)', () => {
    const vs = logVerdicts(
      deadlineRun({ lines: [`${T} "GET ${SHORT} HTTP/1.1" 200 7`, `${T} "GET ${LONG} HTTP/1.1" 499 0`] }),
      undeclared,
    );
    expect(vs.map((v) => [v.status, v.needs])).toEqual([['unknown', [LOG_FILE_NEED]]]);
    expect(vs[0]!.actual).toContain('only the request lines');
  });

  it('fails a subject that declares capabilities.logFile and wrote no line of its own there after the stop', async () => {
    expect(reference.capabilities.logFile).toBe(true);
    const none = logVerdicts(deadlineRun({ lines: [] }), reference);
    expect(none.map((v) => v.status)).toEqual(['fail']);
    expect(none[0]!.actual).toContain('declares capabilities.logFile, yet the subject wrote no line');
    const access = logVerdicts(deadlineRun({ lines: [`${T} "GET ${LONG} HTTP/1.1" 499 0`] }), reference);
    expect(access.map((v) => v.status)).toEqual(['fail']);
    expect(access[0]!.actual).toContain('only the request lines');
    const r = await gradeCase(deadlineRun({ lines: [] }), reference);
    expect(r.outcome).toBe('fail');
    // a line that states the count passes, declared or not
    expect(logVerdicts(deadlineRun({ lines: referenceLines(`${T} aborted 1 request(s)`) }), reference)[0]!.status).toBe(
      'pass',
    );
  });

  it('judges no count where the deadline closed nothing the case can count, or the case did not look', () => {
    expect(logVerdicts(deadlineRun({ lines: referenceLines(null), longOk: true }))).toEqual([]);
    expect(logVerdicts(deadlineRun({ lines: referenceLines(null), exit: null }))).toEqual([]);
    const old = verifyDeadlineExit(deadlineRun({ noLogNotes: true }), reference);
    expect(old.map((v) => v.status)).toEqual(['pass']);
  });

  it('judges the count the case held, whatever it is: 2 held past the deadline, 3 in flight at the stop', () => {
    const two = (lines: string[]) => [
      ...deadlineRun({ lines }).map((e) =>
        e.kind === 'deadline-held'
          ? {
              ...e,
              data: { pastDeadline: 2, endsInDrain: 1, labels: ['too-long', 'too-long-2'], paths: [LONG, SHORT] },
            }
          : e,
      ),
      ev('case', 'result', { label: 'too-long-2', ok: false, error: 'early-eof' }),
    ];
    expect(logVerdicts(two([`${T} closed 3 in flight`, `${T} aborted 2 request(s)`])).map((v) => v.status)).toEqual([
      'pass',
    ]);
    const vs = logVerdicts(two([`${T} listeners closed, 3 request(s) in flight`, `${T} aborted 1 request(s)`]));
    expect(vs.map((v) => v.status)).toEqual(['fail']);
    expect(vs[0]!.expected).toContain('the deadline closed the 2 connections still open');
  });

  it('still judges the exit status first: exit 0 after the deadline fails whatever the log says', () => {
    const vs = verifyDeadlineExit(
      deadlineRun({ lines: referenceLines(`${T} aborted 1 request(s)`), exit: { code: 0, signal: null } }),
      reference,
    );
    expect(vs.map((v) => v.status)).toEqual(['fail', 'pass']);
  });
});
