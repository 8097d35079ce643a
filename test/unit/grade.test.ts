/**
 * The verifiers and the outcome rules on hand-built histories (no process), the typed requirement IDs,
 * and the rule that a case's verdicts cite only the requirements it declares.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineCase } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import {
  ALWAYS_ON,
  durableSet,
  exitMatches,
  expectation,
  gradeCase,
  loadCount,
  statementOf,
  verdict,
  verifyConnectionClose,
  verifyDrain,
  verifyDrainReport,
  verifyIndexOnStop,
  verifyPersist,
} from '../../harness/src/grade/index.js';
import { REQUIREMENT_IDS } from '../../harness/src/grade/requirement-ids.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import { loadRegistry } from '../../harness/src/spec.js';
import type { HistoryEvent, Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const reference = loadManifest(path.join(root, 'subjects/reference/manifest.json'));
const blackBox: Manifest = { ...reference, capabilities: { ...reference.capabilities, probe: false } };

let clock = 1_000_000_000n;
function ev(
  source: HistoryEvent['source'],
  kind: string,
  data: Record<string, unknown> = {},
  launch?: number,
): HistoryEvent {
  clock += 1_000_000n;
  return { ns: clock.toString(), t: 0, source, kind, data, ...(launch !== undefined ? { launch } : {}) };
}
const stopSent = () => ev('harness', 'signal-sent', { sig: 'SIGTERM' }, 0);
const held = (label: string, extra: Record<string, unknown>) =>
  ev('case', 'result', { label, ok: true, status: 200, body: 'held 800\n', expectBody: 'held 800\n', ...extra });

describe('requirement IDs', () => {
  it('the generated RequirementId list is the registry, in order (stale file fails)', () => {
    expect([...REQUIREMENT_IDS]).toEqual(loadRegistry().requirements.map((r) => r.id));
    execFileSync(process.execPath, [path.join(root, 'scripts/gen-requirement-ids.mjs'), '--check']);
  });

  it('an Expected text starts from the requirement statement', () => {
    const e = expectation('STOP.DRAIN.IN_FLIGHT', '3 held requests');
    expect(e.startsWith(statementOf('STOP.DRAIN.IN_FLIGHT'))).toBe(true);
    expect(e).toContain('Here: 3 held requests');
  });
});

describe('verifiers', () => {
  it('drain: every in-flight request completes byte-exact, a cut one fails, a missing one fails', () => {
    const ok = [stopSent(), held('a', {}), held('b', {})];
    expect(verifyDrain(ok, reference, { count: 2, what: 'two' }).status).toBe('pass');
    const cut = [stopSent(), held('a', {}), held('b', { ok: false, error: 'early-eof', body: '' })];
    const v = verifyDrain(cut, reference, { count: 2, what: 'two' });
    expect(v.status).toBe('fail');
    expect(v.actual).toContain('b: failed (early-eof)');
    expect(verifyDrain([stopSent(), held('a', {})], reference, { count: 2, what: 'two' }).status).toBe('fail');
    expect(verifyDrain([stopSent(), held('a', { body: 'held 80\n' })], reference, { what: 'one' }).status).toBe('fail');
  });

  it('drain: a request that failed before any stop was sent is undecided, not a drain failure', () => {
    const early = ev('case', 'result', { label: 'a', ok: false, error: 'reset', doneNs: (clock + 1n).toString() });
    const events = [early, stopSent()];
    expect(verifyDrain(events, reference, { labels: ['a'], what: 'one' }).status).toBe('unknown');
  });

  it('Connection: close: only a keep-alive request shows it; a request that asked for close itself proves nothing', () => {
    const late = (extra: Record<string, unknown>) => {
      const stop = stopSent();
      const headersNs = (clock + 100_000_000n).toString();
      return [stop, ev('case', 'result', { label: 'late', ok: true, status: 200, headersNs, ...extra })];
    };
    expect(verifyConnectionClose(late({ connection: 'close' }), blackBox).status).toBe('pass');
    const bad = verifyConnectionClose(late({ connection: 'keep-alive' }), blackBox);
    expect(bad.status).toBe('fail');
    expect(bad.actual).toContain('late: keep-alive');
    // the echo of the request's own Connection: close is no evidence either way: unknown, never a pass
    const echoed = verifyConnectionClose(late({ connection: 'close', askedClose: true }), blackBox);
    expect(echoed.status).toBe('unknown');
    expect(echoed.actual).toContain('1 to requests that asked for Connection: close themselves');
    // a connection busy at the stop that the subject left open after its response fails
    const open = [stopSent(), ev('case', 'conn-after', { label: 'busy', how: 'timeout' })];
    expect(verifyConnectionClose(open, blackBox).status).toBe('fail');
    const closed = [stopSent(), ev('case', 'conn-after', { label: 'busy', how: 'fin' })];
    expect(verifyConnectionClose(closed, blackBox).status).toBe('pass');
  });

  it('persist: needs a persisted probe event on the path; not observable without a probe; none for a stateless server', () => {
    expect(verifyPersist([stopSent()], reference, 'fast-stop')[0]?.status).toBe('fail');
    const persisted = ev('probe', 'probe', { ev: 'persisted' }, 0);
    expect(verifyPersist([stopSent(), persisted], reference, 'fast-stop')[0]?.status).toBe('pass');
    const [bb] = verifyPersist([stopSent()], blackBox, 'graceful');
    expect(bb).toMatchObject({ requirement: 'STOP.PERSIST_ALL_PATHS', status: 'unknown', needs: ['probe'] });
    const stateless: Manifest = { ...reference, capabilities: { ...reference.capabilities, stateless: true } };
    expect(verifyPersist([stopSent()], stateless, 'graceful')).toEqual([]);
  });

  it('durable set: lost and corrupt writes are counted from the clients own events', () => {
    const events = [
      ev('client', 'kv-invoke', { key: 'a', value: 'v-a' }),
      ev('client', 'kv-ok', { key: 'a', value: 'v-a' }),
      ev('client', 'kv-invoke', { key: 'b', value: 'v-b' }),
      ev('client', 'kv-ok', { key: 'b', value: 'v-b' }),
      ev('client', 'kv-read', { found: { a: 'v-a', b: null, c: 'garbage' } }),
    ];
    const d = durableSet(events);
    expect(d.acknowledged).toHaveLength(2);
    expect(d.lost.map((l) => l.key)).toEqual(['b']);
    expect(d.corrupt).toEqual(['c']);
    expect(durableSet(events.slice(0, 4)).readBack).toBe(false);
  });

  it('durable set: an overwrite supersedes a write only when it may have come after it', () => {
    const put = (value: string) => [
      ev('client', 'kv-invoke', { key: 'k', value }),
      ev('client', 'kv-ok', { key: 'k', value }),
    ];
    const read = (value: string | null) => ev('client', 'kv-read', { found: { k: value } });
    const lost = (events: HistoryEvent[]) => durableSet(events).lost.map((l) => l.value);
    // one write after the other: the later value must be read, the earlier is a lost overwrite
    expect(lost([...put('v1'), ...put('v2'), read('v2')])).toEqual([]);
    expect(lost([...put('v1'), ...put('v2'), read('v1')])).toEqual(['v2']);
    expect(lost([...put('v1'), ...put('v2'), read(null)])).toEqual(['v1', 'v2']);
    // a later write that was cut (no ok) may have landed: its value is fine, the older one too
    const cut = ev('client', 'kv-invoke', { key: 'k', value: 'v3' });
    expect(lost([...put('v1'), cut, read('v3')])).toEqual([]);
    expect(lost([...put('v1'), cut, read('v1')])).toEqual([]);
    // two concurrent writes (each invoked before the other was acknowledged): either value is fine
    const concurrent = [
      ev('client', 'kv-invoke', { key: 'k', value: 'a' }),
      ev('client', 'kv-invoke', { key: 'k', value: 'b' }),
      ev('client', 'kv-ok', { key: 'k', value: 'b' }),
      ev('client', 'kv-ok', { key: 'k', value: 'a' }),
    ];
    expect(lost([...concurrent, read('a')])).toEqual([]);
    expect(lost([...concurrent, read('b')])).toEqual([]);
    expect(lost([...concurrent, read('x')])).toEqual(['b', 'a']);
    expect(durableSet([...concurrent, read('x')]).corrupt).toEqual(['k']);
    // a later write that was refused (a definite no) cannot have replaced the acknowledged value
    const refused = [
      ev('client', 'kv-invoke', { key: 'k', value: 'v9' }),
      ev('client', 'kv-fail', { key: 'k', value: 'v9', status: 503 }),
    ];
    expect(lost([...put('v1'), ...refused, read('v9')])).toEqual(['v1']);
  });

  it('durable set: an outcome ends the invoke with its op id, not an older one of the same key and value', () => {
    const events = [
      ev('client', 'kv-invoke', { op: 1, key: 'k', value: 'same' }), // still in flight at the read
      ev('client', 'kv-invoke', { op: 2, key: 'k', value: 'v2' }),
      ev('client', 'kv-ok', { op: 2, key: 'k', value: 'v2' }),
      ev('client', 'kv-invoke', { op: 3, key: 'k', value: 'same' }),
      ev('client', 'kv-ok', { op: 3, key: 'k', value: 'same' }),
      ev('client', 'kv-read', { found: { k: 'v2' } }),
    ];
    // op 3 was invoked after v2 was acknowledged: reading v2 loses it (paired by key and value, its ok
    // would end op 1, invoked before v2 was acknowledged, and v2 would pass for a later write)
    expect(durableSet(events).lost).toEqual([{ key: 'k', value: 'same' }]);
  });

  it('index on stop: every start named must report recovery clean', () => {
    const recovery = (mode: string, launch: number) =>
      ev('probe', 'probe', { ev: 'recovery', mode, records: 3 }, launch);
    const events = [recovery('clean', 0), recovery('clean', 1), recovery('scan', 2)];
    expect(verifyIndexOnStop(events, 'a stop').status).toBe('pass');
    const both = verifyIndexOnStop(events, 'each stop', [1, 2]);
    expect(both.status).toBe('fail');
    expect(both.actual).toBe('start 2: recovery clean (3 records); start 3: recovery scan (3 records)');
    expect(verifyIndexOnStop(events.slice(0, 2), 'each stop', [1, 2]).actual).toContain('start 3: no recovery event');
  });

  it('load: attempts and failures are counted from connect and http-done events', () => {
    const events = [
      ev('client', 'connect', { label: 'load', ok: true }),
      ev('client', 'http-done', { label: 'load', ok: true, status: 200 }),
      ev('client', 'connect', { label: 'load', ok: false, error: 'refused' }),
      ev('client', 'http-done', { label: 'load', ok: true, status: 503, connection: 'close' }),
      ev('client', 'http-done', { label: 'other', ok: false, error: 'reset' }),
    ];
    const n = loadCount(events, ['load']);
    expect([n.sent, n.failed, n.connections]).toEqual([3, 2, 1]);
    expect(n.kinds).toEqual({ refused: 1, 'status 503': 1 });
  });

  it('exit: a declared code matches only that code; `signal` matches death by the stop signal', () => {
    expect(exitMatches({ code: 0, signal: null, ns: '1' }, 0)).toBe(true);
    expect(exitMatches({ code: 1, signal: null, ns: '1' }, 0)).toBe(false);
    expect(exitMatches({ code: null, signal: 'SIGQUIT', ns: '1' }, 'signal', 'SIGQUIT')).toBe(true);
    expect(exitMatches({ code: null, signal: 'SIGKILL', ns: '1' }, 'signal', 'SIGQUIT')).toBe(false);
    expect(exitMatches(null, 0)).toBe(false);
  });
});

describe('durable.fast-stop-in-flight', () => {
  const recovery = (mode: string, records: number) =>
    ev('probe', 'probe', { ev: 'recovery', mode, records, truncatedBytes: 0 }, 1);
  const quit = () => ev('harness', 'signal-sent', { sig: 'SIGQUIT' }, 0);
  it('a subject that dies in the fast stop before persisting fails STOP.PERSIST_ALL_PATHS, not only the index', async () => {
    const c = (await loadCases(reference)).find((x) => x.id === 'durable.fast-stop-in-flight')!;
    const died = gradeCase(c, {
      events: [quit(), ev('process', 'exit', { pid: 1, code: 1, signal: null }, 0), recovery('scan', 53)],
      manifest: reference,
    });
    const judged = (g: typeof died) =>
      g.verdicts
        .filter((v) => v.requirement === 'STOP.PERSIST_ALL_PATHS' || v.requirement === 'DURABLE.INDEX_ON_STOP')
        .map((v) => [v.requirement, v.status]);
    expect(judged(died)).toEqual([
      ['STOP.PERSIST_ALL_PATHS', 'fail'],
      ['DURABLE.INDEX_ON_STOP', 'fail'],
    ]);
    const persisted = gradeCase(c, {
      events: [
        quit(),
        ev('probe', 'probe', { ev: 'persisted', records: 53 }, 0),
        ev('process', 'exit', { pid: 1, code: 4, signal: null }, 0),
        recovery('clean', 53),
      ],
      manifest: reference,
    });
    expect(judged(persisted)).toEqual([
      ['STOP.PERSIST_ALL_PATHS', 'pass'],
      ['DURABLE.INDEX_ON_STOP', 'pass'],
    ]);
  });
});

describe('outcome rules from the history', () => {
  const c = defineCase({
    id: 'fake.rules',
    title: 'fake',
    description: 'fake',
    requirements: ['BUS.STATES'],
    timeout: 'short',
    run: async () => {},
    grade: () => [verdict('BUS.STATES', true, 'fake', 'fake')],
  });
  const grade = (events: HistoryEvent[]) => gradeCase(c, { events, manifest: reference });

  it('runner decisions recorded in the history decide the outcome', () => {
    expect(grade([ev('harness', 'not-applicable', { reason: 'r' })]).outcome).toBe('not-applicable');
    expect(grade([ev('harness', 'interrupted')]).outcome).toBe('skipped');
    expect(grade([ev('harness', 'case-timeout', { budgetMs: 15 })]).outcome).toBe('timeout');
    expect(grade([ev('harness', 'case-error', { kind: 'unsupported', error: 'x' })]).outcome).toBe('unsupported');
    expect(grade([ev('harness', 'case-error', { kind: 'harness', error: 'x' })]).outcome).toBe('harness-error');
    expect(grade([]).outcome).toBe('pass');
  });

  it('an error after an unexpected death is a crash of the subject, not a harness error', () => {
    const g = grade([
      ev('process', 'exit', { code: null, signal: 'SIGHUP' }, 0),
      ev('harness', 'case-error', { kind: 'harness', error: 'the subject exited' }),
    ]);
    expect(g.outcome).toBe('crash');
    expect(g.verdicts.map((v) => [v.requirement, v.status])).toEqual([['PROC.NO_CRASH_SIGNAL', 'fail']]);
  });

  it('a verdict on a requirement the case does not declare is a harness error', () => {
    const sloppy = { ...c, grade: () => [verdict('STOP.EXIT_ZERO', true, 'x', 'y')] };
    const g = gradeCase(sloppy, { events: [], manifest: reference });
    expect(g.outcome).toBe('harness-error');
    expect(g.reason).toContain('STOP.EXIT_ZERO');
  });
});

describe('every case cites only what it declares', async () => {
  const manifests = [
    ...readdirSync(path.join(root, 'subjects')).map((d) => path.join(root, 'subjects', d, 'manifest.json')),
    ...readdirSync(path.join(root, 'test/zoo')).map((d) => path.join(root, 'test/zoo', d, 'manifest.json')),
  ]
    .filter((f) => existsSync(f))
    .map((f) => loadManifest(f));
  const cases = await loadCases();
  it.each(cases.map((k) => [k.id, k] as const))('%s', (_id, k) => {
    const allowed = new Set<string>([...k.requirements, ...(k.alsoJudges ?? []), ...ALWAYS_ON]);
    for (const m of manifests) {
      for (const v of k.grade({ events: [], manifest: m }))
        expect(allowed, `${k.id} on ${m.name}`).toContain(v.requirement);
    }
  });
  // the cases each manifest's declared map generates, graded against that manifest
  it.each(manifests.map((m) => [m.name, m] as const))('generated for %s', async (_name, m) => {
    const fixed = new Set(cases.map((k) => k.id));
    for (const k of (await loadCases(m)).filter((c) => !fixed.has(c.id))) {
      const allowed = new Set<string>([...k.requirements, ...(k.alsoJudges ?? []), ...ALWAYS_ON]);
      for (const v of k.grade({ events: [], manifest: m }))
        expect(allowed, `${k.id} on ${m.name}`).toContain(v.requirement);
    }
  });
});

describe('the path x guarantee table', () => {
  it('one row per stop path, a cell per guarantee: fail beats pass, n/a where nothing was judged', async () => {
    const { pathTable } = await import('../../harness/src/grade/paths.js');
    const v = (requirement: string, status: 'pass' | 'fail') => ({ requirement, status, expected: 'e', actual: 'a' });
    const rows = pathTable([
      {
        id: 'map.stop.SIGTERM',
        outcome: 'fail',
        verdicts: [v('STOP.EXIT_ZERO', 'pass'), v('STOP.PERSIST_ALL_PATHS', 'fail')],
      },
      { id: 'map.fast-stop.SIGQUIT', outcome: 'pass', verdicts: [v('SIG.MAP.DECLARED', 'pass')] },
      { id: 'map.reload.SIGHUP', outcome: 'pass', verdicts: [v('SIG.MAP.DECLARED', 'pass')] },
      { id: 'stop.deadline', outcome: 'timeout', verdicts: [] },
    ]);
    expect(rows.map((r) => r.case)).toEqual(['stop.deadline', 'map.fast-stop.SIGQUIT', 'map.stop.SIGTERM']);
    const term = rows.find((r) => r.case === 'map.stop.SIGTERM')!.guarantees;
    expect([term['exit status'], term.persist, term.drain, term['no orphans']]).toEqual([
      'pass',
      'fail',
      'n/a',
      'pass',
    ]);
    expect(rows.find((r) => r.case === 'stop.deadline')!.guarantees.persist).toBe('not-tested');
  });
});

describe('PROC.NO_ORPHANS and the tracking mechanism', () => {
  it('nothing found is a pass only where escaped descendants could be seen', async () => {
    const { verifyNoOrphansLeft } = await import('../../harness/src/grade/process.js');
    const cgroup = ev('harness', 'tracking', { mechanism: 'cgroup', escapesVisible: true }, 0);
    const marker = ev('harness', 'tracking', { mechanism: 'marker', escapesVisible: false, reason: 'no cgroup v2' }, 0);
    expect(verifyNoOrphansLeft([cgroup], []).status).toBe('pass');
    const blind = verifyNoOrphansLeft([marker], []);
    expect(blind.status).toBe('unknown');
    expect(blind.actual).toContain('no cgroup v2');
    expect(verifyNoOrphansLeft([marker], [{ pid: 42, cmdline: 'worker' }]).status).toBe('fail');
  });
});

describe('blame the right party', () => {
  const c = defineCase({
    id: 'fake.blame',
    title: 'fake',
    description: 'fake',
    requirements: ['LATENCY.BLOCKING_IO', 'STOP.EXIT_ZERO'],
    stalls: 'LATENCY.BLOCKING_IO',
    timeout: 'short',
    run: async () => {},
    grade: () => [],
  });
  it('a subject that never reaches an awaited phase fails the requirement it violates, with the evidence', () => {
    const g = gradeCase(c, {
      events: [ev('harness', 'case-error', { kind: 'subject', error: 'never opened the FIFO within 5000 ms' })],
      manifest: reference,
    });
    expect(g.outcome).toBe('non-strict'); // LATENCY.BLOCKING_IO is a SHOULD
    expect(g.verdicts[0]).toMatchObject({ requirement: 'LATENCY.BLOCKING_IO', status: 'fail' });
    expect(g.verdicts[0]?.actual).toContain('never opened the FIFO');
  });
  it('a fault naming its requirement is graded under it; a harness fault stays a harness error', () => {
    const named = gradeCase(c, {
      events: [ev('harness', 'case-error', { kind: 'subject', error: 'x', requirement: 'STOP.EXIT_ZERO' })],
      manifest: reference,
    });
    expect([named.outcome, named.verdicts[0]?.requirement]).toEqual(['fail', 'STOP.EXIT_ZERO']);
    const ours = gradeCase(c, {
      events: [ev('harness', 'case-error', { kind: 'harness', error: 'bug' })],
      manifest: reference,
    });
    expect(ours.outcome).toBe('harness-error');
  });
  it('a launch the case asked for that exits fails the case; a port lost, a wrapper, a slow start do not', () => {
    const launchErr = (launchKind: string, error: string, extra: Record<string, unknown> = {}) =>
      gradeCase(c, {
        events: [ev('harness', 'case-error', { kind: 'launch', launchKind, error, stderrTail: null, ...extra })],
        manifest: reference,
      });
    const exited = launchErr('exited', 'sigcert-reference exited before it was ready (exit 1)', {
      addressInUse: false,
    });
    expect([exited.outcome, exited.verdicts[0]?.requirement, exited.verdicts[0]?.status]).toEqual([
      'non-strict',
      'LATENCY.BLOCKING_IO',
      'fail',
    ]);
    expect(exited.verdicts[0]?.actual).toContain('did not start for this case: sigcert-reference exited');
    // another process (or its own previous launch's TIME_WAIT) held the port: not the subject's fault
    expect(launchErr('exited', 'exited (exit 1)', { addressInUse: true }).outcome).toBe('harness-error');
    // the harness's wrapper (unshare for proc.pid1) may be what failed
    expect(launchErr('exited', 'exited (exit 1)', { wrapped: true }).outcome).toBe('harness-error');
    // slow to get ready: the run itself may load the machine
    expect(launchErr('not-ready', 'not ready after 10000 ms').outcome).toBe('harness-error');
    expect(launchErr('harness', 'cannot open the notify socket').outcome).toBe('harness-error');
    expect(launchErr('not-found', 'command not found: x').outcome).toBe('harness-error');
  });
  it('a launch fault is graded under the case its launchFault names', () => {
    const named = defineCase({ ...c, id: 'fake.launch-fault', launchFault: 'STOP.EXIT_ZERO' });
    const g = gradeCase(named, {
      events: [ev('harness', 'case-error', { kind: 'launch', launchKind: 'exited', error: 'exited (exit 1)' })],
      manifest: reference,
    });
    expect([g.outcome, g.verdicts[0]?.requirement]).toEqual(['fail', 'STOP.EXIT_ZERO']);
  });
  it('every case names a stalls and launchFault requirement it judges', async () => {
    for (const k of await loadCases(reference)) {
      const judged = [...k.requirements, ...(k.alsoJudges ?? [])];
      for (const id of [k.stalls, k.launchFault]) if (id !== undefined) expect(judged, k.id).toContain(id);
    }
  });
  it('an error after the subject exited unasked is the subject failing the requirement the exit violates', () => {
    const err = () => ev('harness', 'case-error', { kind: 'harness', error: 'connect ECONNREFUSED 127.0.0.1:4000' });
    const exit = (code: number) => ev('process', 'exit', { pid: 1, code, signal: null }, 0);
    // a reload by the declared map ended the process: SIG.MAP.DECLARED, with the exit as evidence
    const hup = gradeCase(c, {
      events: [ev('harness', 'signal-sent', { sig: 'SIGHUP' }, 0), exit(1), err()],
      manifest: reference,
    });
    expect([hup.outcome, hup.verdicts[0]?.requirement, hup.verdicts[0]?.status]).toEqual([
      'fail',
      'SIG.MAP.DECLARED',
      'fail',
    ]);
    expect(hup.verdicts[0]?.actual).toContain('exited with code 1 after SIGHUP (declared: reload)');
    expect(hup.verdicts[0]?.actual).toContain('ECONNREFUSED');
    // a control reload: CONTROL.EQUIVALENT
    const ctl = gradeCase(c, {
      events: [ev('client', 'http-sent', { path: '/control/reload', method: 'POST' }), exit(1), err()],
      manifest: reference,
    });
    expect(ctl.verdicts[0]?.requirement).toBe('CONTROL.EQUIVALENT');
    // a control stop the subject refused (no token: 401) asked nothing
    const refusedStop = [
      ev('client', 'http-sent', { conn: 7, label: 'no-token', path: '/control/stop', method: 'POST' }),
      ev('client', 'http-done', { conn: 7, label: 'no-token', ok: true, status: 401 }),
    ];
    const afterRefused = gradeCase(c, {
      events: [...refusedStop, ev('client', 'http-sent', { path: '/control/reload' }), exit(1), err()],
      manifest: reference,
    });
    expect(afterRefused.verdicts[0]?.requirement).toBe('CONTROL.EQUIVALENT');
    // nothing asked at all: the requirement the case was judging (its stalls, else its first)
    const quit = gradeCase(c, { events: [exit(0), err()], manifest: reference });
    expect([quit.outcome, quit.verdicts[0]?.requirement]).toEqual(['non-strict', 'LATENCY.BLOCKING_IO']);
    // an exit the case asked for (the map's stop, a control stop) leaves the error the harness's
    for (const asked of [
      ev('harness', 'signal-sent', { sig: 'SIGTERM' }, 0),
      ev('client', 'http-sent', { path: '/control/stop', method: 'POST' }),
    ]) {
      expect(gradeCase(c, { events: [asked, exit(0), err()], manifest: reference }).outcome).toBe('harness-error');
    }
    // an exit recorded after the error but before teardown still counts (the runner waits for one under
    // way); one after teardown began does not: teardown signalled it
    expect(gradeCase(c, { events: [err(), exit(1)], manifest: reference }).verdicts[0]?.requirement).toBe(
      'LATENCY.BLOCKING_IO',
    );
    const torn = [err(), ev('harness', 'teardown-begin', {}), exit(1)];
    expect(gradeCase(c, { events: torn, manifest: reference }).outcome).toBe('harness-error');
  });
});

describe('STOP.LISTENER_CLOSED from connect attempts', () => {
  // no pre-drain delay: the drain must have begun 100 ms after the stop
  const noDelay: Manifest = { ...blackBox, preDrainDelayMs: 0 };
  const withProbe: Manifest = { ...reference, preDrainDelayMs: 0 };
  const at = (base: bigint, msAfter: number) => (base + BigInt(Math.round(msAfter * 1e6))).toString();
  const attempt = (base: bigint, msAfter: number, outcome: string) =>
    ev('case', 'late-connect', { outcome, startNs: at(base, msAfter) });
  it('fails an accept-then-reset window and a listener still serving after the slack; refused passes', async () => {
    const { verifyListenerClosed } = await import('../../harness/src/grade/listener.js');
    const send = stopSent();
    const base = BigInt(send.ns);
    const exit = (msAfter: number) => ({
      ...ev('process', 'exit', { code: 0, signal: null }, 0),
      ns: at(base, msAfter),
    });
    const refused = [send, attempt(base, 150, 'refused'), attempt(base, 300, 'refused'), exit(900)];
    expect(verifyListenerClosed(refused, noDelay, send.ns).status).toBe('pass');
    const resets = [send, attempt(base, 150, 'reset'), attempt(base, 300, 'reset'), exit(900)];
    expect(verifyListenerClosed(resets, noDelay, send.ns).status).toBe('fail');
    const open = [send, attempt(base, 150, 'served'), attempt(base, 800, 'served'), exit(900)];
    expect(verifyListenerClosed(open, noDelay, send.ns).status).toBe('fail');
    // served shortly after the bound (a loaded machine) is within the slack
    expect(
      verifyListenerClosed(
        [send, attempt(base, 150, 'served'), attempt(base, 300, 'refused'), exit(900)],
        blackBox,
        send.ns,
      ).status,
    ).toBe('pass');
  });
  it('takes the pre-drain delay the launch was handed (SIGCERT_PREDRAIN_MS), not the manifest default', async () => {
    const { verifyListenerClosed } = await import('../../harness/src/grade/listener.js');
    // the reference declares preDrainDelay and a 1000 ms default, but cases hand it 0: a listener still
    // serving 700 to 1400 ms after the stop (a held request keeps the drain open) never closed
    const m: Manifest = {
      ...blackBox,
      preDrainDelayMs: 1000,
      capabilities: { ...blackBox.capabilities, preDrainDelay: true },
    };
    const send = stopSent();
    const base = BigInt(send.ns);
    const spawn = (preDrainMs: number) => ev('process', 'spawn', { pid: 1, preDrainMs }, 0);
    const exit = { ...ev('process', 'exit', { code: 0, signal: null }, 0), ns: at(base, 1500) };
    const served = [700, 900, 1100, 1400].map((t) => attempt(base, t, 'served'));
    expect(verifyListenerClosed([spawn(0), send, ...served, exit], m, send.ns).status).toBe('fail');
    // told to keep 1000 ms, serving until 1400 ms is within the delay plus the slack
    expect(verifyListenerClosed([spawn(1000), send, ...served, exit], m, send.ns).status).toBe('pass');
    // a history with no record of the hand-over falls back to the manifest's figure
    expect(verifyListenerClosed([send, ...served, exit], m, send.ns).status).toBe('pass');
  });
  it('a reset that raced the exit (E09) is reported, not failed; with a probe, stop-accepting starts the window', async () => {
    const { verifyListenerClosed } = await import('../../harness/src/grade/listener.js');
    const send = stopSent();
    const base = BigInt(send.ns);
    const exit = { ...ev('process', 'exit', { code: 4, signal: null }, 0), ns: at(base, 180) };
    const race = [send, attempt(base, 170, 'reset'), attempt(base, 190, 'refused'), exit];
    const v = verifyListenerClosed(race, noDelay, send.ns);
    expect([v.status, v.actual.includes('raced the exit')]).toEqual(['pass', true]);
    const accepting = { ...ev('probe', 'probe', { ev: 'stop-accepting' }, 0), ns: at(base, 110) };
    const inFlight = [
      send,
      attempt(base, 105, 'reset'),
      accepting,
      attempt(base, 120, 'refused'),
      { ...exit, ns: at(base, 400) },
    ];
    expect(verifyListenerClosed(inFlight, withProbe, send.ns).status).toBe('pass');
    // with a probe, an attempt started after stop-accepting and served means the listener was not closed
    const servedAfter = [send, accepting, attempt(base, 160, 'served'), { ...exit, ns: at(base, 400) }];
    expect(verifyListenerClosed(servedAfter, withProbe, send.ns).status).toBe('fail');
    const late = { ...accepting, ns: at(base, 900) };
    expect(
      verifyListenerClosed(
        [send, late, attempt(base, 950, 'refused'), { ...exit, ns: at(base, 1000) }],
        withProbe,
        send.ns,
      ).status,
    ).toBe('fail');
  });
});

describe('drain: a transfer that failed before the stop', () => {
  it('is undecided even without its own end stamp (the client http-done event dates it)', () => {
    const failed = ev('client', 'http-done', { label: 'download', ok: false, error: 'early-eof' });
    const result = ev('case', 'result', { label: 'download', ok: false, error: 'early-eof' });
    expect(verifyDrain([failed, stopSent(), result], reference, { labels: ['download'], what: 'x' }).status).toBe(
      'unknown',
    );
    const stop = stopSent();
    const cutAfter = ev('client', 'http-done', { label: 'download', ok: false, error: 'early-eof' });
    const judged = verifyDrain([stop, cutAfter, result], reference, { labels: ['download'], what: 'x' });
    expect(judged.status).toBe('fail');
  });
});

describe('a reload through sd_notify', () => {
  it('a notify server that does not announce its reload is judged by what it serves; RELOAD.OBSERVABLE says it did not', async () => {
    const { mapActionVerdicts } = await import('../../harness/src/grade/paths.js');
    const notify: Manifest = {
      ...blackBox,
      readiness: { ...blackBox.readiness, kind: 'notify' },
      endpoints: [],
      signals: { SIGTERM: 'stop', SIGHUP: 'reload' },
    };
    const hup = ev('harness', 'signal-sent', { sig: 'SIGHUP' }, 0);
    const after = ev('case', 'result', { label: 'after-0', ok: true, status: 200, after: true, body: 'ok' }, 0);
    const silent = mapActionVerdicts([hup, after], notify, 'SIGHUP', 'reload');
    const st = (vs: typeof silent, id: string) => vs.find((v) => v.requirement === id)?.status;
    expect(st(silent, 'SIG.HUP.RELOAD')).toBe('pass');
    expect(st(silent, 'SIG.MAP.DECLARED')).toBe('pass');
    expect(st(silent, 'RELOAD.OBSERVABLE')).toBe('fail');
    // RELOADING=1 then READY=1: the reload is seen from the server's side
    const begun = ev('probe', 'probe', { ev: 'state', state: 'RELOADING', via: 'notify' }, 0);
    const done = ev('probe', 'probe', { ev: 'reload-done', via: 'notify' }, 0);
    const told = mapActionVerdicts([hup, begun, done, after], notify, 'SIGHUP', 'reload');
    expect(st(told, 'RELOAD.OBSERVABLE')).toBe('pass');
    expect(st(told, 'SIG.HUP.RELOAD')).toBe('pass');
  });
});

describe('a fast stop path whose held request ended before the stop was asked for', () => {
  it('judges the fast stop by its exit; an answer after the request still fails it', async () => {
    const { stopPathVerdicts } = await import('../../harness/src/grade/paths.js');
    const path = { kind: 'control' as const, via: 'control', graceful: false };
    const exit4 = () => ev('process', 'exit', { code: reference.exitCodes.fastStop, signal: null }, 0);
    const equivalent = (events: HistoryEvent[]) =>
      stopPathVerdicts(events, reference, path).find((v) => v.requirement === 'CONTROL.EQUIVALENT');
    // the loaded machine sent the fast stop after the held request had been answered: not in flight
    const answered = held('held', { headersNs: (clock + 1n).toString(), doneNs: (clock + 2n).toString() });
    const early = equivalent([answered, ev('case', 'control-sent', { action: 'fast-stop' }), exit4()]);
    expect(early?.status).toBe('pass');
    expect(early?.actual).toContain('answered before the stop was asked for');
    // completed after the fast stop was asked for: the fast stop waited for it (headers sent before the
    // stop do not make the response complete: gunicorn sends them first)
    const headers = (clock + 1n).toString();
    const sentAt = ev('case', 'control-sent', { action: 'fast-stop' });
    const late = held('held', { headersNs: headers, doneNs: (BigInt(sentAt.ns) + 5n).toString() });
    expect(equivalent([sentAt, late, exit4()])?.status).toBe('fail');
  });
});

describe('the action a stop is announced with', () => {
  it('fails the path when the probe reports the other kind of stop than the one asked for', async () => {
    const { stopPathVerdicts } = await import('../../harness/src/grade/paths.js');
    const path = { kind: 'signal' as const, via: 'SIGTERM', graceful: true };
    const verdictFor = (action: string, source = 'signal') => {
      const events = [
        stopSent(),
        ev('probe', 'probe', { ev: 'request', action, source }, 0),
        ev('probe', 'probe', { ev: 'state', state: 'STOPPING' }, 0),
        ev('process', 'exit', { code: 0, signal: null }, 0),
      ];
      return stopPathVerdicts(events, reference, path).find((v) => v.requirement === 'SIG.MAP.DECLARED');
    };
    expect(verdictFor('stop')?.status).toBe('pass');
    const wrong = verdictFor('fast-stop');
    expect(wrong?.status).toBe('fail');
    expect(wrong?.actual).toContain('announced on the probe as fast-stop from signal (asked: stop from signal)');
    // an action blanked or unknown is no announcement of the stop either (bus.ts line 273 made '')
    for (const action of ['', 'halt']) {
      const blank = verdictFor(action);
      expect(blank?.status, action).toBe('fail');
      expect(blank?.actual).toContain(`announced on the probe as ${action} from signal`);
    }
  });

  it('fails the path when the probe names another source than the signal that asked', async () => {
    const { stopPathVerdicts } = await import('../../harness/src/grade/paths.js');
    const path = { kind: 'signal' as const, via: 'SIGTERM', graceful: true };
    const events = (source: string) => [
      stopSent(),
      ev('probe', 'probe', { ev: 'request', action: 'stop', source }, 0),
      ev('probe', 'probe', { ev: 'state', state: 'STOPPING' }, 0),
      ev('process', 'exit', { code: 0, signal: null }, 0),
    ];
    const judge = (source: string) =>
      stopPathVerdicts(events(source), reference, path).find((v) => v.requirement === 'SIG.MAP.DECLARED');
    expect(judge('signal')?.status).toBe('pass');
    for (const source of ['', 'app', 'control']) {
      const wrong = judge(source);
      expect(wrong?.status, source).toBe('fail');
      expect(wrong?.actual).toContain(`announced on the probe as stop from ${source} (asked: stop from signal)`);
    }
  });
});

describe("the probe's account of the drain (STOP.OBSERVABLE)", () => {
  const p = (name: string, data: Record<string, unknown> = {}) => ev('probe', 'probe', { ev: name, ...data }, 0);
  const exit = (code: number) => ev('process', 'exit', { code, signal: null }, 0);
  const cutHeld = () => ev('case', 'result', { label: 'held', ok: false, error: 'early-eof', body: '' });
  /** a stop: the send, the stop-accepting, the held request's end, `drained`, EXITING, the exit */
  const stop = (
    drained: Record<string, unknown> | null,
    code: number,
    cut: boolean,
    extra = (): HistoryEvent[] => [],
  ) => {
    const send = stopSent();
    const events = [send, p('stop-accepting'), cut ? cutHeld() : held('held', {})];
    if (drained) events.push(p('drained', drained));
    events.push(...extra(), p('state', { state: 'EXITING', from: 'STOPPING' }), exit(code));
    return verifyDrainReport(events, reference, { at: send.ns, held: ['held'] });
  };
  const { graceful, deadline, fastStop } = reference.exitCodes;

  it('passes a truthful event on each kind of stop end', () => {
    expect(stop({ forced: false, aborted: 0 }, graceful as number, false).status).toBe('pass');
    expect(stop({ forced: true, aborted: 1 }, deadline as number, true).status).toBe('pass');
    expect(stop({ forced: true, aborted: 3 }, fastStop as number, true).status).toBe('pass');
    // an escalation after the drain had completed: the drain was not cut, the exit is the fast stop's
    expect(stop({ forced: false, aborted: 0 }, fastStop as number, false).status).toBe('pass');
  });

  it('fails a completed drain reported while requests were cut, at the deadline, or with a count', () => {
    const cut = stop({ forced: false, aborted: 0 }, fastStop as number, true);
    expect(cut.status).toBe('fail');
    expect(cut.actual).toContain('`forced: false` although the harness saw 1 held request(s) cut (held)');
    expect(stop({ forced: false, aborted: 2 }, graceful as number, false).status).toBe('fail');
  });

  it('fails a forced drain on a graceful stop that cut nothing, and a count below the requests cut', () => {
    expect(stop({ forced: true, aborted: 0 }, graceful as number, false).actual).toContain('cut no held request');
    // the event is true, the exit is wrong: STOP.DEADLINE_EXIT_CODE's to judge, not this requirement's
    expect(stop({ forced: true, aborted: 1 }, graceful as number, true).status).toBe('pass');
    expect(stop({ forced: true, aborted: 0 }, fastStop as number, true).actual).toContain('`aborted: 0`');
    expect(stop({ forced: 'yes', aborted: 1 }, fastStop as number, true).actual).toContain('not a boolean');
  });

  it('fails a missing, a repeated and a misplaced event', () => {
    expect(stop(null, graceful as number, false).actual).toContain('no `drained` event');
    const twice = stop({ forced: true, aborted: 1 }, fastStop as number, true, () => [
      p('drained', { forced: false, aborted: 0 }),
    ]);
    expect(twice.actual).toContain('2 `drained` events');
    const send = stopSent();
    const early = [send, p('drained', { forced: false, aborted: 0 }), p('stop-accepting'), held('held', {}), exit(0)];
    expect(verifyDrainReport(early, reference, { at: send.ns, held: ['held'] }).actual).toContain(
      'before `stop-accepting`',
    );
    const late = [
      send,
      p('stop-accepting'),
      p('state', { state: 'EXITING' }),
      p('drained', { forced: false, aborted: 0 }),
    ];
    expect(verifyDrainReport([...late, exit(0)], reference, { at: send.ns, held: [] }).actual).toContain(
      'after the EXITING transition',
    );
  });

  it('fails a completed drain reported before a held request answered in full could have ended (its send plus its hold)', () => {
    // each `ev` is 1 ms after the one before: the request asks for a 300 ms hold
    const sendHold = () => ev('client', 'http-sent', { conn: 1, label: 'held', method: 'GET', path: '/hold?ms=300' });
    /** the held request's result, stamped now, paired with its send by the send's stamp */
    const answered = (sentHold: HistoryEvent, extra: Record<string, unknown> = {}) => {
      const r = held('held', { body: 'held 300\n', sentNs: sentHold.ns, ...extra });
      r.data.doneNs ??= r.ns;
      return r;
    };
    const ticks = (n: number) => Array.from({ length: n }, () => ev('harness', 'tick'));
    const sentHeld = sendHold();
    const send = stopSent();
    const early = [sentHeld, send, p('stop-accepting'), p('drained', { forced: false, aborted: 0 }), ...ticks(300)];
    early.push(answered(sentHeld), p('state', { state: 'EXITING', from: 'STOPPING' }), exit(0));
    const v = verifyDrainReport(early, reference, { at: send.ns, held: ['held'] });
    expect(v.status).toBe('fail');
    expect(v.actual).toMatch(/`drained` came 29\d ms before the held request held could have been answered/);
    // the same report after the hold (within the timer's slack) is the drain's end: it passes
    const sentAgain = sendHold();
    const send2 = stopSent();
    const onTime = [sentAgain, send2, p('stop-accepting'), ...ticks(260)];
    onTime.push(
      answered(sentAgain),
      p('drained', { forced: false, aborted: 0 }),
      p('state', { state: 'EXITING' }),
      exit(0),
    );
    expect(verifyDrainReport(onTime, reference, { at: send2.ns, held: ['held'] }).status).toBe('pass');
    // a held request that was cut ends when it is cut: no earliest end to compare with
    const sentCut = sendHold();
    const send3 = stopSent();
    const cutEarly = [
      sentCut,
      send3,
      p('stop-accepting'),
      p('drained', { forced: true, aborted: 1 }),
      cutHeld(),
      exit(4),
    ];
    expect(verifyDrainReport(cutEarly, reference, { at: send3.ns, held: ['held'], fast: true }).status).toBe('pass');
    // nor does one that came back "ok" but not as the hold's whole answer: a close-delimited body ended
    // by the deadline's close (empty), or one that ended well before its hold could have
    for (const extra of [{ body: '' }, { doneNs: undefined }]) {
      const sentShort = sendHold();
      const send4 = stopSent();
      const r = answered(sentShort, extra);
      if ('doneNs' in extra) r.data.doneNs = r.ns; // ended 3 ms after its send: not a 300 ms hold
      const shortOne = [sentShort, send4, r, p('stop-accepting'), p('drained', { forced: true, aborted: 1 }), exit(3)];
      expect(verifyDrainReport(shortOne, reference, { at: send4.ns, held: ['held'] }).actual).not.toMatch(
        /before the held request/,
      );
    }
  });

  it('a contradiction between the event and the exit fails, naming both', () => {
    expect(stop({ forced: false, aborted: 0 }, deadline as number, false).actual).toContain(
      'deadline status (exit 3): the event or the exit is wrong',
    );
  });

  it('a fast stop may report a forced drain with nothing held cut; a graceful one may not', () => {
    const send = stopSent();
    const events = [send, p('stop-accepting'), p('drained', { forced: true, aborted: 0 }), exit(0)];
    expect(verifyDrainReport(events, reference, { at: send.ns, held: [], fast: true }).status).toBe('pass');
    expect(verifyDrainReport(events, reference, { at: send.ns, held: [] }).status).toBe('fail');
  });

  it("the client's own timeout is not a cut, and no event is not judged after a death by signal or a crash", () => {
    const send = stopSent();
    const timedOut = ev('case', 'result', { label: 'held', ok: false, error: 'timeout', body: '' });
    const events = [send, p('stop-accepting'), timedOut, p('drained', { forced: false, aborted: 0 }), exit(0)];
    expect(verifyDrainReport(events, reference, { at: send.ns, held: ['held'] }).status).toBe('pass');
    const killed = [send, ev('process', 'exit', { code: null, signal: 'SIGQUIT' }, 0)];
    expect(verifyDrainReport(killed, reference, { at: send.ns, held: [] }).status).toBe('unknown');
    expect(verifyDrainReport([send, exit(1)], reference, { at: send.ns, held: [] }).status).toBe('unknown');
    expect(verifyDrainReport([send, exit(0)], reference, { at: send.ns, held: [] }).status).toBe('fail');
  });

  it('a drained event read after the exit (no stamp of its own) still counts, up to the teardown', () => {
    const send = stopSent();
    const events = [send, p('stop-accepting'), exit(0), p('drained', { forced: false, aborted: 0 })];
    expect(verifyDrainReport(events, reference, { at: send.ns, held: [] }).status).toBe('pass');
    const teardown = ev('harness', 'teardown-begin');
    const late = [...events.slice(0, 3), teardown, p('drained', { forced: false, aborted: 0 })];
    expect(verifyDrainReport(late, reference, { at: send.ns, held: [] }).actual).toContain('no `drained` event');
  });

  it('a black box cannot show it: not observable without a probe', () => {
    const v = verifyDrainReport([stopSent(), exit(0)], blackBox, { at: '1', held: [] });
    expect([v.status, v.needs]).toEqual(['unknown', ['probe']]);
  });
});

describe('a repeat path whose stop ended before the repeat', () => {
  it('does not judge the repeat action (unknown), and never fails it', async () => {
    const { stopPathVerdicts } = await import('../../harness/src/grade/paths.js');
    const first = ev('harness', 'signal-sent', { sig: 'SIGINT' }, 0);
    const exit = ev('process', 'exit', { code: 0, signal: null }, 0);
    const vs = stopPathVerdicts([first, exit], blackBox, {
      kind: 'repeat',
      via: 'SIGINT',
      graceful: false,
      first: 'SIGINT',
    });
    const escalation = vs.find((v) => v.requirement === 'REPEAT.ESCALATION');
    expect(escalation?.status).toBe('unknown');
    expect(vs.some((v) => v.status === 'fail' && v.requirement !== 'STOP.LISTENER_CLOSED')).toBe(false);
    const second = ev('harness', 'signal-sent', { sig: 'SIGINT' }, 0);
    const exit2 = ev('process', 'exit', { code: 0, signal: null }, 0);
    const judged = stopPathVerdicts([first, second, exit2], blackBox, {
      kind: 'repeat',
      via: 'SIGINT',
      graceful: false,
      first: 'SIGINT',
    });
    // nothing held the stop open and no probe: exit 0 may be a stop that ended before the repeat arrived
    expect(judged.find((v) => v.requirement === 'REPEAT.ESCALATION')).toMatchObject({
      status: 'unknown',
      needs: ['hold'],
    });
    // a held request kept the stop open: exit 0 after the repeat is no fast stop
    const held = ev('case', 'result', { label: 'held', ok: true, body: 'held 500\n' }, 0);
    const withHeld = stopPathVerdicts([first, held, second, exit2], blackBox, {
      kind: 'repeat',
      via: 'SIGINT',
      graceful: false,
      first: 'SIGINT',
    });
    expect(withHeld.find((v) => v.requirement === 'REPEAT.ESCALATION')?.status).toBe('fail');
    // the fast-stop status is judged even without a held request
    const exit4 = ev('process', 'exit', { code: reference.exitCodes.fastStop, signal: null }, 0);
    const fast = stopPathVerdicts([first, second, exit4], blackBox, {
      kind: 'repeat',
      via: 'SIGINT',
      graceful: false,
      first: 'SIGINT',
    });
    expect(fast.find((v) => v.requirement === 'REPEAT.ESCALATION')?.status).toBe('pass');
  });
});

describe('verdicts sharpened by the zoo (each one a bug the zoo showed passing or blamed elsewhere)', () => {
  const cases = loadCases(reference);
  const caseById = async (id: string) => {
    const c = (await cases).find((x) => x.id === id);
    expect(c, id).toBeDefined();
    return c!;
  };
  const statusOf = (vs: { requirement: string; status: string }[], id: string) =>
    vs.filter((v) => v.requirement === id).map((v) => v.status);
  const probeEv = (name: string, data: Record<string, unknown> = {}, launch = 0) =>
    ev('probe', 'event', { ev: name, ...data }, launch);
  const exitEv = (code: number, launch = 0) => ev('process', 'exit', { code, signal: null }, launch);

  it('startup.reload-while-starting: a handlers event that leaves out a declared signal fails START.HANDLERS_BEFORE_READY', async () => {
    const c = await caseById('startup.reload-while-starting');
    const declared = Object.entries(reference.signals)
      .filter(([, a]) => a !== 'ignore')
      .map(([sig]) => sig);
    const run = (signals: unknown) => [
      probeEv('handlers', signals === undefined ? {} : { signals }),
      ev('harness', 'signal-sent', { sig: 'SIGHUP' }, 0),
      probeEv('state', { state: 'STARTING' }),
      probeEv('ready'),
      probeEv('state', { state: 'STARTED' }),
      ev('case', 'config', { ok: true, body: '{"generation":2}', alive: true }),
    ];
    const judge = (signals: unknown) =>
      c
        .grade({ events: run(signals), manifest: reference })
        .filter((v) => v.requirement === 'START.HANDLERS_BEFORE_READY');
    expect(judge(declared).map((v) => v.status)).toEqual(['pass']);
    expect(judge([...declared, 'SIGWINCH']).map((v) => v.status)).toEqual(['pass']);
    const missing = judge(declared.filter((sig) => sig !== 'SIGTERM'));
    expect(missing.map((v) => v.status)).toEqual(['fail']);
    expect(missing[0]?.actual).toContain('does not name SIGTERM');
    expect(judge(undefined).map((v) => v.status)).toEqual(['fail']);
  });

  it('repeat.stop-stop: a second SIGTERM that turns the stop fast fails REPEAT.ESCALATION (term-escalates)', async () => {
    const c = await caseById('repeat.stop-stop');
    const first = [stopSent(), probeEv('signal', { sig: 'SIGTERM' }), probeEv('state', { state: 'STOPPING' })];
    const escalated = [
      ...first,
      stopSent(),
      probeEv('request', { action: 'fast-stop', source: 'signal' }),
      held('held', { ok: false, error: 'early-eof', body: '' }),
      exitEv(4),
    ];
    expect(statusOf(c.grade({ events: escalated, manifest: reference }), 'REPEAT.ESCALATION')).toEqual(['fail']);
    const idempotent = [...first, stopSent(), held('held', {}), probeEv('persisted'), exitEv(0)];
    expect(statusOf(c.grade({ events: idempotent, manifest: reference }), 'REPEAT.ESCALATION')).toEqual(['pass']);
    // exited before the second signal: nothing to judge
    expect(statusOf(c.grade({ events: [...first, exitEv(0)], manifest: reference }), 'REPEAT.ESCALATION')).toEqual([
      'unknown',
    ]);
  });

  it('signals.harmless: a reload started by SIGWINCH fails SIG.HARMLESS, not only a stop (sigwinch-reloads)', async () => {
    const c = await caseById('signals.harmless');
    const base = [
      probeEv('state', { state: 'STARTED' }),
      ev('case', 'harmless-sent', {}),
      ev('harness', 'signal-sent', { sig: 'SIGWINCH' }, 0),
    ];
    const after = [held('held', {}), ev('case', 'result', { label: 'after', ok: true, status: 200 })];
    const alive = ev('case', 'alive', { alive: true });
    const reloaded = [
      ...base,
      probeEv('reload-begin'),
      probeEv('state', { state: 'RELOADING' }),
      probeEv('state', { state: 'STARTED' }),
      ...after,
      alive,
    ];
    expect(statusOf(c.grade({ events: reloaded, manifest: reference }), 'SIG.HARMLESS')).toEqual(['fail']);
    expect(statusOf(c.grade({ events: [...base, ...after, alive], manifest: reference }), 'SIG.HARMLESS')).toEqual([
      'pass',
    ]);
  });

  it('proc.group-delivery: an outcome that differs from the main-only delivery fails PROC.GROUP_DELIVERY (worker-group-crash)', async () => {
    const c = await caseById('proc.group-delivery');
    const launchOf = (launch: number, label: string, cut: boolean) => [
      ev('harness', 'signal-sent', { sig: 'SIGTERM', group: launch === 0 }, launch),
      probeEv('state', { state: 'STOPPING' }, launch),
      ev('case', 'result', {
        label,
        ok: !cut,
        ...(cut ? { error: 'early-eof', body: '' } : { status: 200, body: 'held 700\n' }),
        expectBody: 'held 700\n',
      }),
      probeEv('persisted', {}, launch),
      exitEv(cut ? 4 : 0, launch),
    ];
    const differs = [...launchOf(0, 'held', true), ...launchOf(1, 'held-main', false)];
    expect(statusOf(c.grade({ events: differs, manifest: reference }), 'PROC.GROUP_DELIVERY')).toEqual(['fail']);
    // the same broken stop either way: the stop's requirements fail, not the group delivery
    const same = [...launchOf(0, 'held', true), ...launchOf(1, 'held-main', true)];
    const vs = c.grade({ events: same, manifest: reference });
    expect(statusOf(vs, 'PROC.GROUP_DELIVERY')).toEqual(['pass']);
    expect(statusOf(vs, 'STOP.DRAIN.IN_FLIGHT')).toEqual(['fail']);
  });

  it('stop.predrain-delay: no answer after the stop is the missing delay, not readiness (predrain-skipped)', async () => {
    const c = await caseById('stop.predrain-delay');
    const r = (label: string, extra: Record<string, unknown>) => ev('case', 'result', { label, ...extra });
    const before = r('ready-before', { ok: true, status: 200 });
    const refused = [
      before,
      stopSent(),
      probeEv('signal', { sig: 'SIGTERM' }),
      probeEv('stop-accepting'),
      r('ready-during', { ok: false, error: 'refused' }),
      r('live-during', { ok: false, error: 'refused' }),
      exitEv(0),
    ];
    const vs = c.grade({ events: refused, manifest: reference });
    expect(statusOf(vs, 'STOP.PREDRAIN_DELAY')).toEqual(['fail']);
    expect(statusOf(vs, 'STOP.READINESS_FIRST')).toEqual(['unknown']);
    expect(statusOf(vs, 'STOP.CONNECTION_CLOSE')).toEqual(['unknown']);
    // an answer that says ready after the stop still fails readiness
    const stillReady = refused.map((e) =>
      e.data.label === 'ready-during' ? r('ready-during', { ok: true, status: 200, connection: 'close' }) : e,
    );
    expect(statusOf(c.grade({ events: stillReady, manifest: reference }), 'STOP.READINESS_FIRST')).toEqual(['fail']);
  });
});
