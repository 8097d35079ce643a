/**
 * LOGS.REOPEN / SIG.USR1.REOPEN_LOGS (grade/logs.ts, through mapActionVerdicts) on hand-built histories:
 * the notes a map.reopen-logs.* case records about the handed-over log file and the renamed one.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapActionVerdicts, statementOf } from '../../harness/src/grade/index.js';
import { logReopenRequirements, verifyLogReopen } from '../../harness/src/grade/logs.js';
import { subjectLogPath } from '../../harness/src/launch/handover.js';
import { loadManifest, substitute } from '../../harness/src/launch/index.js';
import type { HistoryEvent, Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const reference = loadManifest(path.join(root, 'subjects/reference/manifest.json'));
/** The reference's manifest without `capabilities.logFile`: whether it uses the log file is only seen. */
const undeclared: Manifest = { ...reference, capabilities: { ...reference.capabilities, logFile: false } };
const blackBox: Manifest = { ...reference, capabilities: { ...reference.capabilities, probe: false, logFile: false } };

let clock = 1_000_000_000n;
function ev(source: HistoryEvent['source'], kind: string, data: Record<string, unknown> = {}): HistoryEvent {
  clock += 1_000_000n;
  return { ns: clock.toString(), t: 0, source, kind, data, launch: 0 };
}

const FILE = '/run/subject.log';
const rotated = () => ev('case', 'log-rotated', { file: FILE, to: `${FILE}.1`, bytes: 300, ino: 11 });
const atOutcome = (extra: Record<string, unknown> = {}) =>
  ev('case', 'log-at-outcome', {
    how: 'probe reopen-logs',
    rotatedBytes: 340,
    newExists: true,
    newBytes: 0,
    newIno: 12,
    ...extra,
  });
const final = (extra: Record<string, unknown>) =>
  ev('case', 'log-final', { rotatedBytes: 340, newExists: true, newBytes: 120, newIno: 12, ...extra });

/** A whole SIGUSR1 case: the signal, its acknowledgement and outcome, a request served after it. */
function usr1Case(logNotes: HistoryEvent[]): HistoryEvent[] {
  return [
    ev('harness', 'signal-sent', { sig: 'SIGUSR1' }),
    ev('probe', 'probe', { ev: 'signal', sig: 'SIGUSR1' }),
    ev('probe', 'probe', { ev: 'reopen-logs' }),
    ...logNotes,
    ev('case', 'result', { label: 'after-0', ok: true, status: 200, after: true }),
  ];
}

function statuses(vs: ReturnType<typeof verifyLogReopen>): Record<string, string> {
  return Object.fromEntries(vs.map((v) => [v.requirement, v.status]));
}

describe('reopen-logs on the handed-over log file', () => {
  it('passes when new lines land in a new file at the old path and the renamed one stops growing', () => {
    const vs = mapActionVerdicts(usr1Case([rotated(), atOutcome(), final({})]), reference, 'SIGUSR1', 'reopen-logs');
    expect(statuses(vs)).toEqual({ 'SIG.MAP.DECLARED': 'pass', 'LOGS.REOPEN': 'pass', 'SIG.USR1.REOPEN_LOGS': 'pass' });
    const logs = vs.find((v) => v.requirement === 'LOGS.REOPEN')!;
    expect(logs.expected.startsWith(statementOf('LOGS.REOPEN'))).toBe(true);
    expect(logs.actual).toContain('a new file at the old path with 120 bytes');
  });

  it('fails when lines keep going to the renamed file (no reopen), even though the probe said reopen-logs', () => {
    const vs = verifyLogReopen(
      usr1Case([
        rotated(),
        atOutcome({ newExists: false }),
        final({ newExists: false, newBytes: 0, rotatedBytes: 420 }),
      ]),
      reference,
      'SIGUSR1',
    );
    expect(statuses(vs)).toEqual({ 'LOGS.REOPEN': 'fail', 'SIG.USR1.REOPEN_LOGS': 'fail' });
    expect(vs[0]!.actual).toContain('no file at the old path, the renamed file grew by 80 bytes');
  });

  it('fails the declared map too when the reopen was reported but lines kept going to the renamed file', () => {
    // LOGS.REOPEN is a MAY; a map that declares reopen-logs, and a probe that reports it done, promise it
    const noop = usr1Case([
      rotated(),
      atOutcome({ newExists: false }),
      final({ newExists: false, newBytes: 0, rotatedBytes: 420 }),
    ]);
    const vs = mapActionVerdicts(noop, undeclared, 'SIGUSR1', 'reopen-logs');
    expect(statuses(vs)).toEqual({ 'SIG.MAP.DECLARED': 'fail', 'LOGS.REOPEN': 'fail', 'SIG.USR1.REOPEN_LOGS': 'fail' });
    expect(vs[0]!.actual).toContain(
      'the log file was not reopened: after the reopen was reported (probe reopen-logs) the renamed file grew by 80 bytes',
    );
    // the same through the control channel's 200: CONTROL.EQUIVALENT
    const control = [
      ev('case', 'control-sent', { action: 'reopen-logs' }),
      ev('case', 'result', { label: 'control-reopen-logs', ok: true, status: 200, control: 'reopen-logs' }),
      ...noop.slice(2),
    ];
    expect(statuses(mapActionVerdicts(control, undeclared, 'control', 'reopen-logs'))['CONTROL.EQUIVALENT']).toBe(
      'fail',
    );
  });

  it('with capabilities.logFile, no file back at the path after a reported reopen is a reopen not carried out', () => {
    // the reopen's own line landed in the renamed file before the outcome was seen, and no request is
    // logged: the renamed file does not grow after it, but nothing opened the old path again
    const silentNoop = usr1Case([rotated(), atOutcome({ newExists: false }), final({ newExists: false, newBytes: 0 })]);
    const declared = mapActionVerdicts(silentNoop, reference, 'SIGUSR1', 'reopen-logs');
    expect(statuses(declared)['SIG.MAP.DECLARED']).toBe('fail');
    expect(declared[0]!.actual).toContain('no file is at the old path, though the manifest declares');
    // undeclared: it may open lazily, on its next line, and need write none: not the map's failure
    expect(statuses(mapActionVerdicts(silentNoop, undeclared, 'SIGUSR1', 'reopen-logs'))).toEqual({
      'SIG.MAP.DECLARED': 'pass',
      'LOGS.REOPEN': 'unknown',
      'SIG.USR1.REOPEN_LOGS': 'unknown',
    });
    // declared, a new file at the path but no line in it: reopened; the missing line is LOGS.REOPEN's
    const empty = usr1Case([rotated(), atOutcome(), final({ newBytes: 0 })]);
    expect(statuses(mapActionVerdicts(empty, reference, 'SIGUSR1', 'reopen-logs'))).toEqual({
      'SIG.MAP.DECLARED': 'pass',
      'LOGS.REOPEN': 'fail',
      'SIG.USR1.REOPEN_LOGS': 'fail',
    });
  });

  it('leaves the declared map alone when the reopen was never seen within the bound, or was carried out', () => {
    // a black box whose file did not come back in time: LOGS.REOPEN fails on the lines, the map is not blamed
    const unseen = usr1Case([
      rotated(),
      atOutcome({ how: 'none within the bound', newExists: false }),
      final({ newExists: false, newBytes: 0, rotatedBytes: 420 }),
    ]);
    expect(statuses(mapActionVerdicts(unseen, undeclared, 'SIGUSR1', 'reopen-logs'))).toEqual({
      'SIG.MAP.DECLARED': 'pass',
      'LOGS.REOPEN': 'fail',
      'SIG.USR1.REOPEN_LOGS': 'fail',
    });
    // lines written before the outcome (the renamed file's size at the outcome) are not growth after it
    const before = usr1Case([rotated(), atOutcome({ rotatedBytes: 420 }), final({ rotatedBytes: 420 })]);
    expect(statuses(mapActionVerdicts(before, undeclared, 'SIGUSR1', 'reopen-logs'))['SIG.MAP.DECLARED']).toBe('pass');
  });

  it('fails when a new file appears but lines still go to the old one too', () => {
    const vs = verifyLogReopen(usr1Case([rotated(), atOutcome(), final({ rotatedBytes: 400 })]), reference, 'SIGUSR1');
    expect(vs.map((v) => v.status)).toEqual(['fail', 'fail']);
  });

  it('is not observable when the subject writes nothing to the file: unknown, never pass or fail', () => {
    const vs = mapActionVerdicts(
      usr1Case([ev('case', 'log-not-written', { file: FILE })]),
      blackBox,
      'SIGUSR1',
      'reopen-logs',
    );
    expect(statuses(vs)).toEqual({
      'SIG.MAP.DECLARED': 'pass',
      'LOGS.REOPEN': 'unknown',
      'SIG.USR1.REOPEN_LOGS': 'unknown',
    });
    expect(vs.find((v) => v.requirement === 'LOGS.REOPEN')!.actual).toMatch(
      /not observable: the subject wrote nothing/,
    );
  });

  it('is undecided when no line was written after the reopen (in either file)', () => {
    const vs = verifyLogReopen(
      usr1Case([rotated(), atOutcome({ newExists: false }), final({ newExists: false, newBytes: 0 })]),
      undeclared,
      'SIGUSR1',
    );
    expect(vs.map((v) => v.status)).toEqual(['unknown', 'unknown']);
  });

  it('fails a subject that declares capabilities.logFile and wrote nothing there, or no line after the reopen', () => {
    expect(reference.capabilities.logFile).toBe(true);
    const nothing = verifyLogReopen(usr1Case([ev('case', 'log-not-written', { file: FILE })]), reference, 'SIGUSR1');
    expect(nothing.map((v) => v.status)).toEqual(['fail', 'fail']);
    expect(nothing[0]!.actual).toContain('declares capabilities.logFile, yet the subject wrote nothing');
    const silent = verifyLogReopen(
      usr1Case([rotated(), atOutcome({ newExists: false }), final({ newExists: false, newBytes: 0 })]),
      reference,
      'SIGUSR1',
    );
    expect(silent.map((v) => v.status)).toEqual(['fail', 'fail']);
    expect(silent[0]!.actual).toContain('no line was written after the reopen, though the manifest declares');
    // a reopen seen in the files passes, declared or not
    expect(
      verifyLogReopen(usr1Case([rotated(), atOutcome(), final({})]), reference, 'SIGUSR1').map((v) => v.status),
    ).toEqual(['pass', 'pass']);
  });

  it('fails when the subject ended', () => {
    const events = [
      ...usr1Case([rotated(), atOutcome(), final({})]),
      ev('process', 'exit', { code: null, signal: 'SIGUSR1' }),
    ];
    expect(verifyLogReopen(events, reference, 'SIGUSR1').map((v) => v.status)).toEqual(['fail', 'fail']);
  });

  it('judges SIG.USR1.REOPEN_LOGS only for SIGUSR1 (a map that gives reopen-logs to SIGHUP keeps HUP meaning nothing else)', () => {
    expect(logReopenRequirements('SIGUSR1')).toEqual(['LOGS.REOPEN', 'SIG.USR1.REOPEN_LOGS']);
    expect(logReopenRequirements('SIGHUP')).toEqual(['LOGS.REOPEN']);
    expect(logReopenRequirements('control')).toEqual(['LOGS.REOPEN']);
  });

  it('the control channel: CONTROL.EQUIVALENT needs its 200, LOGS.REOPEN is judged the same way', () => {
    const events = [
      ev('case', 'control-sent', { action: 'reopen-logs' }),
      ev('case', 'result', { label: 'control-reopen-logs', ok: true, status: 200, control: 'reopen-logs' }),
      ev('probe', 'probe', { ev: 'reopen-logs' }),
      rotated(),
      atOutcome(),
      final({}),
      ev('case', 'result', { label: 'after-0', ok: true, status: 200, after: true }),
    ];
    expect(statuses(mapActionVerdicts(events, reference, 'control', 'reopen-logs'))).toEqual({
      'CONTROL.EQUIVALENT': 'pass',
      'LOGS.REOPEN': 'pass',
    });
    const refused = events.map((e) =>
      e.data.label === 'control-reopen-logs' ? { ...e, data: { ...e.data, status: 409 } } : e,
    );
    expect(statuses(mapActionVerdicts(refused, reference, 'control', 'reopen-logs'))['CONTROL.EQUIVALENT']).toBe(
      'fail',
    );
  });
});

/** `${name}` without a template-looking literal */
const ph = (name: string) => `$${'{'}${name}}`;

describe('the log file hand-over', () => {
  it('is named in the run directory, one per launch, and substituted for the logFile placeholder', () => {
    expect(subjectLogPath('/runs/x')).toBe('/runs/x/subject.log');
    expect(subjectLogPath('/runs/x', 2)).toBe('/runs/x/subject.2.log');
    const values = {
      ports: { http: 8080 },
      values: {
        runDir: '/runs/x',
        stateDir: '/runs/x/state',
        config: '/runs/x/config.json',
        manifestDir: '/m',
        fifo: null,
        token: 't',
        logFile: '/runs/x/subject.log',
      },
    };
    expect(substitute(`--log=${ph('logFile')}`, values)).toBe('--log=/runs/x/subject.log');
  });
});
