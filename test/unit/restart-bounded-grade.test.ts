/**
 * restart.bounded-generations on hand-built histories: a restart the control channel refuses (neither 2xx
 * nor 409) fails CONTROL.EQUIVALENT with its status, is not counted as an incomplete restart, and keeps the
 * overlap check (restart 3 while generation 1 drains) from being judged when it was restart 2.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCases } from '../../harness/src/cases/index.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import type { HistoryEvent } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const supervised = loadManifest(path.join(root, 'subjects/reference-supervised/manifest.json'));

let clock = 1_000_000_000n;
function note(kind: string, data: Record<string, unknown>): HistoryEvent {
  clock += 1_000_000n;
  return { ns: clock.toString(), t: 0, source: 'case', kind, data, launch: 0 };
}

/** 20 restarts, every other one through the control channel; `control` says how those ended. */
function history(control: (i: number) => Record<string, unknown>): HistoryEvent[] {
  const events = [note('completion', { i: 1, via: 'signal', how: 'probe', ms: 100 })];
  events.push(note('counts-before', { procs: 3, fds: 26 }));
  for (let i = 2; i <= 17; i++) {
    const via = i % 2 === 0 ? 'control' : 'signal';
    const at = (clock + 1_000_000n).toString();
    events.push(
      note('completion', via === 'control' ? { i, via, ...control(i) } : { i, via, how: 'probe', ms: 90, at }),
    );
  }
  events.push(note('completion', { i: 20, via: 'burst', how: 'probe', ms: 140 }));
  events.push(note('counts-after', { procs: 3, fds: 26 }));
  return events;
}

async function grade(events: HistoryEvent[]) {
  const c = (await loadCases(supervised)).find((k) => k.id === 'restart.bounded-generations');
  expect(c, 'the case exists').toBeDefined();
  const vs = c!.grade({ events, manifest: supervised });
  return Object.fromEntries(vs.map((v) => [v.requirement, v]));
}

describe('restart.bounded-generations: restarts asked through the control channel', () => {
  it('passes CONTROL.EQUIVALENT when every control restart completes', async () => {
    const vs = await grade(history(() => ({ how: 'probe', ms: 95 })));
    expect(vs['RESTART.BOUNDED_GENERATIONS']?.status).toBe('pass');
    expect(vs['CONTROL.EQUIVALENT']?.status).toBe('pass');
    expect(vs['CONTROL.EQUIVALENT']?.actual).toContain('8 restart(s) asked through the control channel, none refused');
  });

  it('fails CONTROL.EQUIVALENT, not the bound, when the control channel refuses its restarts', async () => {
    const vs = await grade(history(() => ({ how: 'refused', ms: 0, error: 'POST /control/restart answered 501' })));
    expect(vs['CONTROL.EQUIVALENT']?.status).toBe('fail');
    expect(vs['CONTROL.EQUIVALENT']?.actual).toContain('8 of 8 restart(s) asked through the control channel refused');
    expect(vs['CONTROL.EQUIVALENT']?.actual).toContain('answered 501');
    // the refused ones started no generation: the bound is judged on the others
    expect(vs['RESTART.BOUNDED_GENERATIONS']?.status).toBe('pass');
  });

  it('does not judge the overlap when restart 2 was refused (generation 1 was still serving, not draining)', async () => {
    const events = history((i) =>
      i === 2 ? { how: 'refused', ms: 0, error: 'POST /control/restart answered 501' } : { how: 'probe', ms: 95 },
    );
    // generation 1's held request ends long after restart 3 completed: an overlap only if restart 2 ran
    clock += 1_000_000n;
    const sentNs = (BigInt(events[1]!.ns) + 500_000n).toString();
    events.splice(
      2,
      0,
      {
        ns: sentNs,
        t: 0,
        source: 'client',
        kind: 'http-sent',
        data: { label: 'draining-held', path: '/hold?ms=1500' },
        launch: 0,
      },
      note('overlap', { holdMs: 1500, label: 'draining-held', restarts: [2, 3] }),
    );
    events.push(
      note('result', {
        label: 'draining-held',
        ok: true,
        status: 200,
        body: 'held 1500\n',
        expectBody: 'held 1500\n',
        sentNs,
        doneNs: (BigInt(sentNs) + 1_600_000_000n).toString(),
      }),
    );
    const vs = await grade(events);
    expect(vs['RESTART.BOUNDED_GENERATIONS']?.actual).toContain('restart 2 did not complete (overlap not judged)');
    expect(vs['RESTART.BOUNDED_GENERATIONS']?.status).toBe('pass');
  });

  it('judges no CONTROL.EQUIVALENT when no restart went through the control channel', async () => {
    const events = history(() => ({ how: 'probe', ms: 95 })).map((e) =>
      e.data.via === 'control' ? { ...e, data: { ...e.data, via: 'signal' } } : e,
    );
    expect((await grade(events))['CONTROL.EQUIVALENT']).toBeUndefined();
  });
});
