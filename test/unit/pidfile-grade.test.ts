/**
 * PIDFILE.REMOVED's "only while it still names that process" (grade/pidfile.ts, through the
 * pidfile.not-ours case's grade) on hand-built histories: left alone passes, removed or rewritten
 * fails, and a stop that never ended or a replacement that never happened judges nothing.
 */
import { describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { verifyPidfileNotOurs } from '../../harness/src/grade/index.js';
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

  it('is what the pidfile.not-ours case grades with', async () => {
    const c = (await loadCases()).find((x) => x.id === 'pidfile.not-ours');
    expect(c?.requirements).toEqual(['PIDFILE.REMOVED']);
    const verdicts = c!.grade({ events: history({ exists: false, content: null }), manifest: undefined as never });
    expect(verdicts.map((v) => [v.requirement, v.status])).toEqual([['PIDFILE.REMOVED', 'fail']]);
  });
});
