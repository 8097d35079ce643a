/**
 * grade/lifecycle.ts on hand-built histories (no process): each delivery is judged against the cell of
 * the state it was acknowledged in, a requirement named after a signal only on that signal's path, a
 * delivery that missed its state is information, never a pass; the bugs of the zoo's lifecycle variants
 * fail the requirement their cell cites.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionIn, namedSignal, verifyLifecycleCells, verifyStateTrace } from '../../harness/src/grade/index.js';
import { loadManifest } from '../../harness/src/launch/index.js';
import type { HistoryEvent, Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const m = loadManifest(path.join(root, 'subjects/reference/manifest.json'));
const blackBox: Manifest = { ...m, capabilities: { ...m.capabilities, probe: false } };
const ALL = new Set([
  'BUS.STATES',
  'START.HANDLERS_BEFORE_READY',
  'START.SIGNALS_RECORDED',
  'START.STOP_NO_LISTENER',
  'START.STOP_PERSISTS',
  'REPEAT.STOP_DOMINATES',
  'REPEAT.IDEMPOTENT',
  'RELOAD.SERIALISED',
  'SIG.TERM.GRACEFUL',
  'SIG.INT.GRACEFUL',
  'SIG.MAP.DECLARED',
  'CONTROL.EQUIVALENT',
]);

/** A tiny history builder: every event 1 ms after the previous one. */
function history() {
  let clock = 1_000_000_000n;
  const events: HistoryEvent[] = [];
  const add = (source: HistoryEvent['source'], kind: string, data: Record<string, unknown> = {}, launch = 0) => {
    clock += 1_000_000n;
    events.push({ ns: clock.toString(), t: 0, source, kind, data, launch });
    return clock.toString();
  };
  return {
    events,
    probe: (ev: string, data: Record<string, unknown> = {}, launch = 0) =>
      add('probe', 'probe', { ev, ...data }, launch),
    state: (state: string, launch = 0) => add('probe', 'probe', { ev: 'state', state }, launch),
    /** a signal delivery noted as a cell send, and (ack) the subject's acknowledgement */
    send(held: string, request: string, sig: string, opts: { ack?: boolean; newest?: number; launch?: number } = {}) {
      const launch = opts.launch ?? 0;
      const ns = add('harness', 'signal-sent', { sig }, launch);
      add('case', 'cell-send', {
        launch,
        held,
        request,
        path: sig,
        ns,
        ...(opts.newest ? { newest: opts.newest } : {}),
      });
      if (opts.ack !== false) add('probe', 'probe', { ev: 'signal', sig }, launch);
      return ns;
    },
    exit: (code: number | null, signal: string | null = null, launch = 0) =>
      add('process', 'exit', { code, signal }, launch),
    note: (kind: string, data: Record<string, unknown>) => add('case', kind, data),
  };
}

const statuses = (vs: { requirement: string; status: string }[]) => vs.map((v) => `${v.requirement}:${v.status}`);

describe('lifecycle verifier: helpers', () => {
  it('names the signal of a signal-named requirement, not of SIG.MAP', () => {
    expect(namedSignal('SIG.TERM.GRACEFUL')).toBe('SIGTERM');
    expect(namedSignal('SIG.INT.SECOND_FAST')).toBe('SIGINT');
    expect(namedSignal('SIG.MAP.DECLARED')).toBeNull();
    expect(namedSignal('REPEAT.STOP_DOMINATES')).toBeNull();
  });

  it('takes the repeat map during a stop only', () => {
    expect(actionIn(m, 'SIGINT', 'STARTED')).toBe('stop');
    expect(actionIn(m, 'SIGINT', 'STOPPING')).toBe('fast-stop');
    expect(actionIn(m, 'SIGTERM', 'STOPPING')).toBe('stop');
  });

  it('BUS.STATES follows the table: an unreported initial state is fine, STARTED -> EXITING is not', () => {
    const h = history();
    h.state('STARTED');
    h.state('STOPPING');
    h.state('EXITING');
    h.exit(0);
    expect(verifyStateTrace(h.events).status).toBe('pass');
    const bad = history();
    bad.state('STARTED');
    bad.state('EXITING');
    bad.exit(0);
    const v = verifyStateTrace(bad.events);
    expect(v.status).toBe('fail');
    expect(v.actual).toContain('STARTED -> EXITING');
  });
});

describe('lifecycle verifier: cells', () => {
  it('STARTED x stop: the path named after the signal judges its requirement, the other does not', () => {
    const h = history();
    h.state('STARTED');
    h.send('started', 'stop', 'SIGINT');
    h.state('STOPPING');
    h.state('EXITING');
    h.probe('persisted');
    h.exit(0);
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual(['SIG.INT.GRACEFUL:pass', 'SIG.MAP.DECLARED:pass', 'BUS.STATES:pass']);
  });

  it('RELOADING x reload: exactly one follow-up reload ending on the newest configuration passes', () => {
    const h = history();
    h.state('STARTED');
    h.note('hold', { launch: 0, ackNs: h.state('RELOADING') });
    h.probe('reload-begin', { generation: 1 });
    h.send('reloading', 'reload', 'SIGHUP', { newest: 4 });
    h.probe('reload-done', { generation: 2 });
    h.probe('reload-begin', { generation: 2 });
    h.probe('reload-done', { generation: 4 });
    h.state('STARTED');
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual(['RELOAD.SERIALISED:pass', 'BUS.STATES:pass']);
  });

  it('RELOADING x reload: a dropped request (no follow-up, the newest never loaded) fails RELOAD.SERIALISED', () => {
    const h = history();
    h.state('STARTED');
    h.note('hold', { launch: 0, ackNs: h.state('RELOADING') });
    h.probe('reload-begin', { generation: 1 });
    h.send('reloading', 'reload', 'SIGHUP', { newest: 4 });
    h.probe('reload-done', { generation: 2 });
    h.state('STARTED');
    const [v] = verifyLifecycleCells(h.events, m, ALL);
    expect(v?.requirement).toBe('RELOAD.SERIALISED');
    expect(v?.status).toBe('fail');
    expect(v?.actual).toContain('1 reload(s)');
  });

  it('RELOADING x stop: a stop that never leads to STOPPING fails REPEAT.STOP_DOMINATES', () => {
    const h = history();
    h.state('STARTED');
    h.state('RELOADING');
    h.send('reloading', 'stop', 'SIGTERM');
    h.probe('reload-done', { generation: 2 });
    h.state('STARTED');
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual(['REPEAT.STOP_DOMINATES:fail', 'BUS.STATES:pass']);
  });

  it('STOPPING x reload: a reload after the stop fails REPEAT.STOP_DOMINATES', () => {
    const h = history();
    h.state('STARTED');
    h.state('STOPPING');
    h.send('stopping', 'reload', 'SIGHUP');
    h.probe('reload-begin', { generation: 1 });
    h.state('EXITING');
    h.exit(0);
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(vs.find((v) => v.requirement === 'REPEAT.STOP_DOMINATES')?.status).toBe('fail');
  });

  it('a control request answered neither 2xx nor 409 fails CONTROL.EQUIVALENT, even when the signal sent beside it did the work', () => {
    // the signal and the control request of a cell go out together: the reopen the signal caused must
    // not pass the control request the subject refused (found with a zoo subject answering 501)
    const run = (status: number) => {
      const h = history();
      h.state('STARTED');
      h.send('started', 'reopen-logs', 'SIGUSR1');
      const ns = h.note('control-sending', {});
      h.note('cell-send', {
        launch: 0,
        held: 'started',
        request: 'reopen-logs',
        path: 'control',
        ns,
        status,
        answeredNs: h.note('control-answered', {}),
      });
      h.probe('reopen-logs');
      h.state('STOPPING');
      h.state('EXITING');
      h.exit(0);
      return verifyLifecycleCells(h.events, m, ALL).find((v) => v.requirement === 'CONTROL.EQUIVALENT');
    };
    expect(run(200)?.status).toBe('pass');
    expect(run(409)?.status).toBe('pass');
    for (const status of [404, 405, 501]) {
      const v = run(status);
      expect(v?.status).toBe('fail');
      expect(v?.actual).toContain(`answered ${status}`);
    }
  });

  it('a reload asked through the control channel during a stop is answered 409: a 2xx says it was carried out', () => {
    const run = (status: number) => {
      const h = history();
      h.state('STARTED');
      h.state('STOPPING');
      const ns = h.note('control-sending', {});
      h.note('cell-send', {
        launch: 0,
        held: 'stopping',
        request: 'reload',
        path: 'control',
        ns,
        status,
        answeredNs: h.note('control-answered', {}),
      });
      h.state('EXITING');
      h.exit(0);
      return verifyLifecycleCells(h.events, m, ALL).find((v) => v.requirement === 'CONTROL.EQUIVALENT');
    };
    expect(run(409)?.status).toBe('pass');
    expect(run(200)?.status).toBe('fail');
    expect(run(200)?.actual).toContain('answered 200');
  });

  it('a delivery acknowledged outside the held state is information, not a pass', () => {
    const h = history();
    h.state('STARTED');
    h.send('stopping', 'reload', 'SIGHUP');
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual(['REPEAT.STOP_DOMINATES:info', 'BUS.STATES:pass']);
  });
});

describe('lifecycle verifier: the startup window (START.HANDLERS_BEFORE_READY)', () => {
  it('a signal once the listener is bound that kills the subject fails, and nothing else is judged', () => {
    const h = history();
    h.state('STARTING');
    h.probe('listening', { port: 1 });
    h.send('starting-bound', 'reload', 'SIGHUP', { ack: false, newest: 2 });
    h.exit(null, 'SIGHUP');
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual(['START.HANDLERS_BEFORE_READY:fail', 'BUS.STATES:pass']);
    expect(vs[0]?.actual).toContain('died by SIGHUP');
  });

  it('judged against the row the acknowledgement landed in: STARTING', () => {
    const h = history();
    h.state('STARTING');
    h.probe('listening', { port: 1 });
    h.send('starting-bound', 'stop', 'SIGTERM');
    h.state('STOPPING');
    h.state('EXITING');
    h.probe('persisted');
    h.exit(0);
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(statuses(vs)).toEqual([
      'START.HANDLERS_BEFORE_READY:pass',
      'START.SIGNALS_RECORDED:pass',
      'START.STOP_NO_LISTENER:pass',
      'START.STOP_PERSISTS:pass',
      'REPEAT.STOP_DOMINATES:pass',
      'BUS.STATES:pass',
    ]);
  });

  it('a reload recorded in STARTING runs once; a later request acknowledged in STARTED may add its own', () => {
    const h = history();
    h.state('STARTING');
    h.probe('listening', { port: 1 });
    h.send('starting-bound', 'reload', 'SIGHUP', { newest: 2 });
    h.state('STARTED');
    h.probe('reload-begin', { generation: 1 });
    h.probe('reload-done', { generation: 2 });
    h.send('starting-bound', 'reload', 'SIGUSR1', { newest: 3 });
    h.probe('reload-begin', { generation: 2 });
    h.probe('reload-done', { generation: 3 });
    h.note('served', { launch: 0, generation: 3 });
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(vs.filter((v) => v.status !== 'pass')).toEqual([]);
    const twice = history();
    twice.state('STARTING');
    twice.send('starting', 'reload', 'SIGHUP', { newest: 2 });
    twice.state('STARTED');
    twice.probe('reload-begin', { generation: 1 });
    twice.probe('reload-done', { generation: 2 });
    twice.probe('reload-begin', { generation: 2 });
    twice.probe('reload-done', { generation: 2 });
    twice.note('served', { launch: 0, generation: 2 });
    expect(statuses(verifyLifecycleCells(twice.events, m, ALL))).toEqual([
      'START.SIGNALS_RECORDED:fail',
      'BUS.STATES:pass',
    ]);
  });

  it('a stop in STARTING followed by readiness fails START.STOP_NO_LISTENER', () => {
    const h = history();
    h.state('STARTING');
    h.send('starting', 'stop', 'SIGTERM');
    h.probe('listening', { port: 1 });
    h.probe('ready');
    h.state('STOPPING');
    h.state('EXITING');
    h.probe('persisted');
    h.exit(0);
    const vs = verifyLifecycleCells(h.events, m, ALL);
    expect(vs.find((v) => v.requirement === 'START.STOP_NO_LISTENER')?.status).toBe('fail');
  });

  it('black box: only START.HANDLERS_BEFORE_READY, on the exit (the row the request landed in is unknown)', () => {
    const h = history();
    h.send('starting-bound', 'stop', 'SIGTERM', { ack: false });
    h.exit(0);
    expect(statuses(verifyLifecycleCells(h.events, blackBox, ALL))).toEqual(['START.HANDLERS_BEFORE_READY:pass']);
    const killed = history();
    killed.send('starting-bound', 'stop', 'SIGTERM', { ack: false });
    killed.exit(null, 'SIGTERM');
    expect(statuses(verifyLifecycleCells(killed.events, blackBox, ALL))).toEqual(['START.HANDLERS_BEFORE_READY:fail']);
  });
});

describe('lifecycle verifier: RELOAD.OBSERVABLE is judged only where the subject can report a reload', () => {
  const reload = (events: (h: ReturnType<typeof history>) => void) => {
    const h = history();
    h.send('started', 'reload', 'SIGHUP', { ack: false });
    events(h);
    return h.events;
  };
  const judged = (events: HistoryEvent[], man: Manifest) =>
    verifyLifecycleCells(events, man, new Set(['RELOAD.OBSERVABLE'])).map((v) => v.status);

  it('a black box (no probe, no notify) reports nothing: not observable, never a failure', () => {
    expect(
      judged(
        reload(() => {}),
        blackBox,
      ),
    ).toEqual(['unknown']);
  });

  it('a notify server is judged: RELOADING=1 then READY=1 passes, silence fails', () => {
    const notify: Manifest = { ...blackBox, readiness: { ...blackBox.readiness, kind: 'notify' } };
    expect(
      judged(
        reload(() => {}),
        notify,
      ),
    ).toEqual(['fail']);
    const told = reload((h) => {
      h.state('RELOADING');
      h.probe('reload-done', { generation: 2 });
      h.state('STARTED');
    });
    expect(judged(told, notify)).toEqual(['pass']);
  });
});
