/**
 * The fuzzer's model on its own, in-process: what each signal does in each state, the exit status it
 * predicts, the probe trace it accepts, the configuration generations it allows. Plus a property over
 * the model itself: whatever the signal sequence, a stop is sticky and the expected exit is one of the
 * declared codes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../harness/src/fuzz/corpus.js';
import {
  applyRequest,
  applySignal,
  checkTrace,
  expectedExit,
  type FuzzModel,
  HARMLESS_SIGNALS,
  initialModel,
  type ModelSpec,
  type StopTimeline,
  settleReloads,
  signalOutcome,
  writeConfigModel,
} from '../../harness/src/fuzz/model.js';
import { isCmdSpec } from '../../harness/src/fuzz/operations.js';
import type { ProbeEvent } from '../../harness/src/launch/index.js';
import { DEFAULT_SIGNAL_MAP } from '../../harness/src/types.js';

const SPEC: ModelSpec = {
  name: 'model',
  signals: { ...DEFAULT_SIGNAL_MAP },
  signalsRepeat: { SIGINT: 'fast-stop' },
  exitCodes: { graceful: 0, deadline: 3, fastStop: 4 },
  gracePeriodMs: 2000,
  probe: true,
  endpoints: true,
  durable: true,
  reload: true,
  restart: false,
  fifo: true,
  control: true,
};

const fresh = (spec: ModelSpec = SPEC): FuzzModel => initialModel(spec);
const MS = 1_000_000n;

describe('what a signal does', () => {
  it('follows the declared map while running', () => {
    const m = fresh();
    expect(signalOutcome(m, 'SIGHUP')).toMatchObject({ effect: 'reload', needsAck: true });
    expect(signalOutcome(m, 'SIGUSR1')).toMatchObject({ effect: 'reopen-logs', needsAck: true });
    expect(signalOutcome(m, 'SIGUSR2')).toMatchObject({ effect: 'ignored', needsAck: true }); // restart, not supported
    expect(signalOutcome(m, 'SIGPIPE')).toMatchObject({ effect: 'ignored', needsAck: false });
    for (const sig of HARMLESS_SIGNALS)
      expect(signalOutcome(m, sig)).toMatchObject({ effect: 'ignored', needsAck: false });
    expect(signalOutcome(m, 'SIGQUIT').effect).toBe('fast-stop');
    expect(applySignal(m, 'SIGTERM').effect).toBe('stop');
    expect(m).toMatchObject({ lifecycle: 'STOPPING', stop: { kind: 'graceful', escalated: false } });
  });

  it('a SIGINT during a stop escalates, whatever started the stop (spec 4.2: the repeat map)', () => {
    const m = fresh();
    applySignal(m, 'SIGTERM');
    expect(applySignal(m, 'SIGTERM').effect).toBe('ignored');
    expect(applySignal(m, 'SIGINT')).toMatchObject({ effect: 'escalate', action: 'fast-stop' });
    expect(m.stop).toEqual({ kind: 'graceful', escalated: true });
    expect(applySignal(m, 'SIGQUIT').effect).toBe('ignored'); // already fast
    expect(applySignal(m, 'SIGINT').effect).toBe('ignored');
  });

  it('INT, INT: stop then fast stop', () => {
    const m = fresh();
    expect(applySignal(m, 'SIGINT').effect).toBe('stop');
    expect(applySignal(m, 'SIGINT')).toMatchObject({ effect: 'escalate', action: 'fast-stop' });
  });

  it('a stop dominates: reload and restart are ignored while stopping, reopen-logs still runs', () => {
    const m = fresh({ ...SPEC, restart: true });
    applySignal(m, 'SIGHUP');
    expect(m.lifecycle).toBe('RELOADING');
    applySignal(m, 'SIGTERM');
    expect(applySignal(m, 'SIGHUP').effect).toBe('ignored');
    expect(applySignal(m, 'SIGUSR2').effect).toBe('ignored');
    expect(applySignal(m, 'SIGUSR1').effect).toBe('reopen-logs');
    expect(m.lifecycle).toBe('STOPPING');
  });

  it('a bus request (control channel) acts like its action, without the repeat map', () => {
    const m = fresh();
    expect(applyRequest(m, 'reload').effect).toBe('reload');
    expect(applyRequest(m, 'stop').effect).toBe('stop');
    expect(applyRequest(m, 'stop').effect).toBe('ignored');
    expect(applyRequest(m, 'reload').effect).toBe('ignored');
    expect(applyRequest(m, 'fast-stop').effect).toBe('escalate');
    expect(m.deliveries).toEqual({});
  });

  it('a custom map is what counts (HUP as stop, TERM ignored)', () => {
    const m = fresh({ ...SPEC, signals: { SIGHUP: 'stop', SIGTERM: 'ignore' }, signalsRepeat: {} });
    expect(signalOutcome(m, 'SIGTERM')).toMatchObject({ effect: 'ignored', needsAck: false });
    expect(applySignal(m, 'SIGHUP').effect).toBe('stop');
    expect(applySignal(m, 'SIGHUP').effect).toBe('ignored');
  });
});

describe('configuration generations', () => {
  it('an invalid file keeps the old generation; the last valid file wins', () => {
    const m = fresh();
    writeConfigModel(m, false);
    applySignal(m, 'SIGHUP');
    expect(settleReloads(m)).toEqual([1]);
    writeConfigModel(m, true); // generation 3
    applySignal(m, 'SIGHUP');
    expect(settleReloads(m)).toEqual([3]);
  });

  it('a storm ending on an invalid file may have loaded any valid file of the storm', () => {
    const m = fresh();
    writeConfigModel(m, true); // 2
    applySignal(m, 'SIGHUP');
    writeConfigModel(m, true); // 3
    applySignal(m, 'SIGHUP');
    writeConfigModel(m, false);
    applySignal(m, 'SIGHUP');
    expect(settleReloads(m)).toEqual([1, 2, 3]);
    expect(m.lifecycle).toBe('STARTED');
  });

  it('without a reload the generation does not change, whatever the file says', () => {
    const m = fresh();
    writeConfigModel(m, true);
    expect(settleReloads(m)).toEqual([1]);
  });
});

describe('expected exit status', () => {
  const base: StopTimeline = { kind: 'graceful', stopNs: 0n, needNs: null, gracePeriodMs: 2000, marginMs: 500 };
  it('graceful with nothing in flight: 0; fast: the fast-stop code', () => {
    expect(expectedExit(SPEC, base)).toMatchObject({ codes: [0], mayAbort: false });
    expect(expectedExit(SPEC, { ...base, kind: 'fast' })).toMatchObject({ codes: [4], mayAbort: true });
    expect(
      expectedExit({ ...SPEC, exitCodes: { ...SPEC.exitCodes, fastStop: 'signal' } }, { ...base, kind: 'fast' }).codes,
    ).toEqual(['signal']);
  });
  it('requests in flight: within the grace period 0, past it the deadline code, near it either', () => {
    expect(expectedExit(SPEC, { ...base, needNs: 1000n * MS }).codes).toEqual([0]);
    expect(expectedExit(SPEC, { ...base, needNs: 2100n * MS })).toMatchObject({ codes: [0, 3], mayAbort: true });
    expect(expectedExit(SPEC, { ...base, needNs: 3000n * MS })).toMatchObject({ codes: [3], mayAbort: true });
    expect(expectedExit(SPEC, { ...base, needNs: -1n }).codes).toEqual([3]);
  });
  it('an escalation counts before the drain completed, may count until the exit is decided, then not', () => {
    const inFlight = { ...base, needNs: 500n * MS };
    const ends = { drainedNs: 500n * MS, frozenNs: 510n * MS };
    expect(expectedExit(SPEC, { ...inFlight, escalationNs: 100n * MS }).codes).toEqual([4]);
    expect(expectedExit(SPEC, { ...inFlight, ...ends, escalationNs: 499n * MS }).codes).toEqual([4]);
    expect(expectedExit(SPEC, { ...inFlight, ...ends, escalationNs: 505n * MS }).codes).toEqual([0, 4]);
    expect(expectedExit(SPEC, { ...inFlight, ...ends, escalationNs: 600n * MS }).codes).toEqual([0]);
    // a forced drain is not a completed one: only EXITING decides
    expect(expectedExit(SPEC, { ...inFlight, frozenNs: 510n * MS, escalationNs: 505n * MS }).codes).toEqual([4]);
  });
});

const ev = (ev: string, t: number, extra: Record<string, unknown> = {}): ProbeEvent => ({
  ev,
  t: String(BigInt(t) * MS),
  ...extra,
});
const st = (state: string, from: string, t: number) => ev('state', t, { state, from });

describe('the probe trace', () => {
  const ok = [
    st('STARTED', 'STARTING', 1),
    ev('signal', 10, { sig: 'SIGHUP' }),
    st('RELOADING', 'STARTED', 11),
    ev('reload-begin', 11),
    ev('signal', 12, { sig: 'SIGTERM' }),
    st('STOPPING', 'RELOADING', 12),
    ev('reload-done', 13),
    st('EXITING', 'STOPPING', 20),
    ev('persisted', 21),
    ev('exiting', 22),
  ];
  const ctx = { stopAcks: [12n * MS], reloadAcks: [10n * MS] };
  it('accepts a legal trace, with or without an initial STARTING announcement', () => {
    expect(checkTrace(ok, ctx)).toBeNull();
    expect(checkTrace([ev('state', 0, { state: 'STARTING', from: null }), ...ok], ctx)).toBeNull();
  });
  it('rejects an illegal transition, a wrong "from", a stop or reload nothing asked for', () => {
    expect(checkTrace([st('STARTED', 'STARTING', 1), st('STARTED', 'STOPPING', 2)], ctx)?.kind).toBe('state');
    expect(checkTrace([st('STARTED', 'STARTING', 1), st('EXITING', 'STARTED', 2)], ctx)?.kind).toBe('state');
    expect(checkTrace([st('STARTED', 'STARTING', 1), st('STOPPING', 'STARTED', 2)], ctx)?.actual).toMatch(/no stop/);
    expect(checkTrace([st('STARTED', 'STARTING', 1), st('RELOADING', 'STARTED', 2)], ctx)?.actual).toMatch(/no reload/);
  });
  it('rejects a reload beginning after the stop, and a second persist', () => {
    const late = [...ok.slice(0, 6), ev('reload-begin', 14)];
    expect(checkTrace(late, ctx)?.kind).toBe('reload-after-stop');
    expect(checkTrace([...ok, ev('persisted', 23)], ctx)?.kind).toBe('repeat');
  });
});

describe('the model itself (property)', () => {
  it('a stop is sticky, only a graceful stop escalates, and the expected exit is a declared code', () => {
    const sigs = [...Object.keys(SPEC.signals), ...HARMLESS_SIGNALS];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...sigs), { maxLength: 20 }), fc.nat(5000), (seq, need) => {
        const m = fresh();
        let stopped = false;
        for (const sig of seq) {
          const before = m.stop?.kind;
          const o = applySignal(m, sig);
          if (stopped) expect(m.lifecycle).toBe('STOPPING');
          if (o.effect === 'escalate') expect(before).toBe('graceful');
          stopped ||= m.stop !== null;
        }
        if (m.stop === null) return;
        const exp = expectedExit(SPEC, {
          kind: m.stop.kind,
          stopNs: 0n,
          needNs: BigInt(need) * MS,
          gracePeriodMs: SPEC.gracePeriodMs,
          marginMs: 500,
          ...(m.stop.escalated ? { escalationNs: 1n * MS } : {}),
        });
        for (const c of exp.codes) expect([0, 3, 4]).toContain(c);
        if (m.stop.kind === 'fast' || m.stop.escalated) expect(exp.codes).toEqual([4]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('corpus data', () => {
  it('commands are validated', () => {
    expect(isCmdSpec({ op: 'signal', sig: 'SIGHUP' })).toBe(true);
    expect(isCmdSpec({ op: 'hold', ms: 20 })).toBe(true);
    expect(isCmdSpec({ op: 'hold', ms: -1 })).toBe(false);
    expect(isCmdSpec({ op: 'signal', sig: 'rm -rf' })).toBe(false);
    expect(isCmdSpec({ op: 'explode' })).toBe(false);
  });
  it('an entry needs a subject, a seed, commands and a violation', () => {
    const good = {
      subject: 'x/manifest.json',
      seed: 1,
      path: '0:1',
      commands: [{ op: 'put' }],
      violation: { kind: 'write-lost', requirement: 'DURABLE.ACK_AFTER_SYNC', expected: 'e', actual: 'a' },
      expect: 'violation',
      savedAt: 'now',
    };
    expect(parseEntry(good, 'f.json').commands).toEqual([{ op: 'put' }]);
    expect(() => parseEntry({ ...good, commands: [{ op: 'nope' }] }, 'f.json')).toThrow(/commands/);
    expect(() => parseEntry({ ...good, expect: 'pass' }, 'f.json')).toThrow(/expect/);
  });
});
