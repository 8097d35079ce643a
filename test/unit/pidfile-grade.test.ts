/**
 * PIDFILE.REMOVED's two halves on hand-built histories. The removal half (verifyPidfileRemoved, the one
 * verifier of paths.ts and pidfile.lifecycle): gone after the exit passes, still there fails, no exit
 * judges nothing. The "only while it still names that process" (grade/pidfile.ts, through the
 * pidfile.not-ours case's grade) on hand-built histories: left alone passes, removed or rewritten
 * fails, and a stop that never ended or a replacement that never happened judges nothing.
 */
import { describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { verifyPidfileNotOurs, verifyPidfileRemoved } from '../../harness/src/grade/index.js';
import type { HistoryEvent } from '../../harness/src/types.js';

let clock = 1_000_000_000n;
function ev(source: HistoryEvent['source'], kind: string, data: Record<string, unknown> = {}): HistoryEvent {
  clock += 1_000_000n;
  return { ns: clock.toString(), t: 0, source, kind, data, launch: 0 };
}

function history(after: { exists: boolean; content: string | null } | null, exit = true): HistoryEvent[] {
  return [
    ev('process', 'spawn', { pid: 4242 }),
    ev('case', 'pidfile-replaced', { content: '777' }),
    ev('harness', 'signal', { signal: 'SIGTERM' }),
    ...(exit ? [ev('process', 'exit', { code: 0, signal: null })] : []),
    ...(after ? [ev('case', 'pidfile-after-stop', after)] : []),
  ];
}

describe('PIDFILE.REMOVED: a pidfile that names another process', () => {
  it('passes when the stop leaves it as it was', () => {
    const v = verifyPidfileNotOurs(history({ exists: true, content: '777' }));
    expect(v.status).toBe('pass');
    expect(v.actual).toContain('still there');
  });

  it('fails when the subject removed it on its way out', () => {
    const v = verifyPidfileNotOurs(history({ exists: false, content: null }));
    expect(v.status).toBe('fail');
    expect(v.actual).toContain('removed the pidfile naming pid 777');
  });

  it('fails when the subject rewrote it', () => {
    const v = verifyPidfileNotOurs(history({ exists: true, content: '4242' }));
    expect(v.status).toBe('fail');
    expect(v.actual).toContain('rewritten');
  });

  it('judges nothing when the stop did not end, or the pidfile was never replaced', () => {
    expect(verifyPidfileNotOurs(history({ exists: false, content: null }, false)).status).toBe('unknown');
    expect(verifyPidfileNotOurs([ev('process', 'exit', { code: 0, signal: null })]).status).toBe('unknown');
  });

  it('judges nothing when the subject never wrote a pidfile of its own to replace', () => {
    const events = [
      ev('process', 'spawn', { pid: 4242 }),
      ev('case', 'pidfile-own-missing', { waitedMs: 2000 }),
      ev('harness', 'signal', { signal: 'SIGTERM' }),
      ev('process', 'exit', { code: 0, signal: null }),
    ];
    const v = verifyPidfileNotOurs(events);
    expect(v.status).toBe('unknown');
    expect(v.actual).toContain('no pidfile of its own within 2000 ms');
  });

  it('is what the pidfile.not-ours case grades with', async () => {
    const c = (await loadCases()).find((x) => x.id === 'pidfile.not-ours');
    expect(c?.requirements).toEqual(['PIDFILE.REMOVED']);
    const verdicts = c!.grade({ events: history({ exists: false, content: null }), manifest: undefined as never });
    expect(verdicts.map((v) => [v.requirement, v.status])).toEqual([['PIDFILE.REMOVED', 'fail']]);
  });
});

function stopped(note: string, after: { exists: boolean } | null, exit = true): HistoryEvent[] {
  return [
    ev('process', 'spawn', { pid: 4242 }),
    ev('harness', 'signal', { signal: 'SIGTERM' }),
    ...(exit ? [ev('process', 'exit', { code: 0, signal: null })] : []),
    ...(after ? [ev('case', note, after)] : []),
  ];
}

describe('PIDFILE.REMOVED: removed at the end of a clean stop path', () => {
  it('passes when the pidfile is gone after the exit, fails when it is still there', () => {
    expect(
      verifyPidfileRemoved(stopped('pidfile-after', { exists: false }), 'SIGTERM path', 'pidfile-after').status,
    ).toBe('pass');
    const v = verifyPidfileRemoved(stopped('pidfile-after', { exists: true }), 'SIGTERM path', 'pidfile-after');
    expect(v.status).toBe('fail');
    expect(v.actual).toBe('still there after exit 0');
  });

  it('judges nothing when the stop did not end or nothing was looked at', () => {
    expect(verifyPidfileRemoved(stopped('pidfile-after', { exists: true }, false), 'x', 'pidfile-after').status).toBe(
      'unknown',
    );
    expect(verifyPidfileRemoved(stopped('pidfile-after', null), 'x', 'pidfile-after').status).toBe('unknown');
  });

  it('is what pidfile.lifecycle grades the removal with', async () => {
    const c = (await loadCases()).find((x) => x.id === 'pidfile.lifecycle');
    const kept = stopped('after-stop', { exists: true });
    const gone = stopped('after-stop', { exists: false });
    const status = (events: HistoryEvent[]) =>
      c!.grade({ events, manifest: undefined as never }).find((v) => v.requirement === 'PIDFILE.REMOVED')?.status;
    expect(status(kept)).toBe('fail');
    expect(status(gone)).toBe('pass');
    // the lifecycle case's old check passed a removed pidfile with no exit; the verifier judges nothing then
    expect(status(stopped('after-stop', { exists: false }, false))).toBe('unknown');
  });
});
