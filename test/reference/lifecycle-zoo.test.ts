/**
 * The zoo base (test/zoo/_base/server.mjs, no bug, with its worker process) against every cell of the
 * lifecycle table (spec/lifecycle.json) it can be brought into, as a real process driven by its
 * declared signals and watched through its probe. Each situation is held by something the test
 * releases, never by a timer, except EXITING, which the base holds only for its bounded exit reserve
 * (a hanging stop subscriber): a request there must be acknowledged before `exiting`, or the attempt is
 * repeated. The base restarts in STARTED (ZOO_RESTART=1, SIGUSR2); restart in the other states is judged
 * by the harness's lifecycle cells (test/zoo).
 *
 * The reference bus is checked against the same cells in-process: test/unit/lifecycle.test.ts.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openFifoWriter } from '../../harness/src/clients/fifo.js';
import { History } from '../../harness/src/history.js';
import { launch, loadManifest, type ProbeEvent, type Subject } from '../../harness/src/launch/index.js';
import {
  type BusRequest,
  type CellEffect,
  type LifecycleState,
  legalTransitions,
  loadLifecycle,
} from '../../harness/src/spec-lifecycle.js';

const root = path.resolve(import.meta.dirname, '../..');
const manifest = loadManifest(path.join(root, 'test/zoo/base-control/manifest.json'));
const table = loadLifecycle();
const WAIT_MS = 5000;
const work = mkdtempSync(path.join(tmpdir(), 'sigcert-lifecycle-zoo-'));
let runs = 0;
let live: Subject[] = [];

afterEach(async () => {
  await Promise.all(live.map((s) => s.teardown()));
  live = [];
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The declared signal of each request. */
function signalOf(request: BusRequest): NodeJS.Signals {
  const sig = Object.entries(manifest.signals).find(([, a]) => a === request)?.[0];
  if (sig === undefined) throw new Error(`the zoo base maps no signal to ${request}`);
  return sig as NodeJS.Signals;
}

async function start(env: Record<string, string> = {}, waitReady = true): Promise<Subject> {
  runs += 1;
  const s = await launch({
    manifest,
    runDir: path.join(work, `run-${runs}`),
    history: new History(),
    env: { SIGCERT_GRACE_MS: '20000', ...env },
    waitReady,
  });
  live.push(s);
  return s;
}

const stamp = (e: ProbeEvent): bigint => BigInt(String(e.t));
const at = (s: Subject, pred: (e: ProbeEvent) => boolean, what: string) => s.waitProbe(pred, WAIT_MS, what);
const stateAt = (s: Subject, state: LifecycleState, since = 0n) =>
  at(s, (e) => e.ev === 'state' && e.state === state && stamp(e) >= since, `state ${state}`);

/** Sends the request's declared signal; resolves with the stamp of its acknowledgement (probe `signal`). */
async function send(s: Subject, request: BusRequest): Promise<bigint> {
  const sig = signalOf(request);
  const sent = s.signal(sig);
  return stamp(await at(s, (e) => e.ev === 'signal' && e.sig === sig && stamp(e) >= sent, `${sig} acknowledged`));
}

const eventsSince = (s: Subject, since: bigint, ev: string) =>
  s.probeEvents.filter((e) => e.ev === ev && stamp(e) >= since);

/** Ends the subject with a graceful stop (when it still runs) and returns its exit code; checks the trace. */
async function finish(s: Subject): Promise<number | null> {
  if (s.exited === null) s.signal(signalOf('stop'));
  const exit = await s.waitExit(WAIT_MS * 2);
  const legal = legalTransitions();
  let from: LifecycleState | null = null;
  for (const e of s.probeEvents.filter((x) => x.ev === 'state')) {
    const to = e.state as LifecycleState;
    if (from !== null) expect(legal[from], `${from} -> ${to}`).toContain(to);
    from = to;
  }
  expect(eventsSince(s, 0n, 'exiting')).toHaveLength(1);
  expect(eventsSince(s, 0n, 'exiting')[0]?.code).toBe(exit.code);
  return exit.code;
}

function effectsOf(state: LifecycleState, request: BusRequest): readonly CellEffect[] {
  return table.table[state][request].effects;
}

/** GET a path on the API port; resolves with the status and body, or the error's code. */
function get(
  s: Subject,
  p: string,
  onHeaders?: () => void,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(s.url(p), { agent: false }, (res) => {
      onHeaders?.();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// STARTING (the slow initialisation, SIGCERT_STARTUP_DELAY_MS)

describe('zoo base: STARTING', () => {
  const slow = { SIGCERT_STARTUP_DELAY_MS: '1500' };

  /** Launched and acknowledged a request before the configuration is read. */
  async function inStarting(request: BusRequest): Promise<{ s: Subject; ack: bigint }> {
    const s = await start(slow, false);
    await at(s, (e) => e.ev === 'handlers', 'handlers');
    await stateAt(s, 'STARTING');
    const ack = await send(s, request);
    expect(eventsSince(s, 0n, 'listening'), 'the request came before any listener opened').toEqual([]);
    return { s, ack };
  }

  for (const request of ['stop', 'fast-stop'] as const) {
    it(`${request}: ${table.table.STARTING[request].prose}`, async () => {
      const e = effectsOf('STARTING', request)[0];
      const { s, ack } = await inStarting(request);
      await stateAt(s, e?.to ?? 'STOPPING', ack);
      const code = await finish(s);
      expect(code).toBe(e?.stop === 'fast' ? manifest.exitCodes.fastStop : manifest.exitCodes.graceful);
      // opensNoListener: nothing listens or is announced after the request
      expect(table.table.STARTING[request].opensNoListener).toBe(true);
      expect([...eventsSince(s, ack, 'listening'), ...eventsSince(s, ack, 'ready')]).toEqual([]);
      expect(eventsSince(s, 0n, 'state').map((x) => x.state)).not.toContain('STARTED');
    });
  }

  it(`reload before the configuration is read: ${table.table.STARTING.reload.prose} (${table.table.STARTING.reload.maySkip})`, async () => {
    expect(effectsOf('STARTING', 'reload').map((x) => x.kind)).toEqual(['recorded']);
    const s = await start(slow, false);
    await at(s, (e) => e.ev === 'handlers', 'handlers');
    s.writeConfig({ generation: 2 });
    const ack = await send(s, 'reload');
    const started = await stateAt(s, 'STARTED', ack);
    expect(eventsSince(s, 0n, 'listening').every((e) => stamp(e) > ack)).toBe(true);
    // carried out after STARTED, or skipped because the read at the end of STARTING came after it
    const reloaded = eventsSince(s, stamp(started), 'reload-begin').length > 0;
    const served = await get(s, '/config');
    expect(reloaded || ('body' in served && JSON.parse(served.body).generation === 2)).toBe(true);
    expect(await finish(s)).toBe(0);
  });

  it(`reload after the configuration was read: ${table.table.STARTING.reload.prose}`, async () => {
    // the window between the first listener and STARTED (the worker process starting); a request that
    // lands after STARTED is the STARTED cell, so the attempt is repeated
    for (let attempt = 1; ; attempt++) {
      const t = await start({}, false);
      const listening = await at(t, (e) => e.ev === 'listening', 'listening');
      t.writeConfig({ generation: 2 });
      const ack = await send(t, 'reload');
      const started = await stateAt(t, 'STARTED');
      if (ack >= stamp(started) && attempt < 5) {
        await finish(t);
        continue;
      }
      expect(ack, 'the reload was requested during STARTING').toBeLessThan(stamp(started));
      expect(ack).toBeGreaterThan(stamp(listening));
      const begin = await at(t, (e) => e.ev === 'reload-begin', 'the recorded reload');
      expect(stamp(begin)).toBeGreaterThan(stamp(started));
      await at(t, (e) => e.ev === 'reload-done', 'reload-done');
      expect(eventsSince(t, 0n, 'reload-begin')).toHaveLength(1); // once
      expect(await finish(t)).toBe(0);
      return;
    }
  });

  it(`reopen-logs: ${table.table.STARTING['reopen-logs'].prose}`, async () => {
    expect(effectsOf('STARTING', 'reopen-logs').map((x) => x.kind)).toEqual(['recorded']);
    const { s, ack } = await inStarting('reopen-logs');
    // the base logs to stderr, open from the first instruction: carried out at once
    await at(s, (e) => e.ev === 'reopen-logs' && stamp(e) >= ack, 'reopen-logs');
    await stateAt(s, 'STARTED', ack);
    expect(await finish(s)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// STARTED

describe('zoo base: STARTED', () => {
  for (const request of ['stop', 'fast-stop', 'reload', 'reopen-logs'] as const) {
    it(`${request}: ${table.table.STARTED[request].prose}`, async () => {
      const e = effectsOf('STARTED', request)[0];
      const s = await start();
      const ack = await send(s, request);
      if (e?.kind === 'transition') {
        await stateAt(s, e.to ?? 'STARTED', ack);
        if (e.to === 'RELOADING') await stateAt(s, 'STARTED', ack);
      } else {
        expect(e?.kind).toBe('carried-out');
        await at(s, (x) => x.ev === 'reopen-logs' && stamp(x) >= ack, 'reopen-logs');
        expect(eventsSince(s, ack, 'state')).toEqual([]);
      }
      const code = await finish(s);
      expect(code).toBe(e?.stop === 'fast' ? manifest.exitCodes.fastStop : manifest.exitCodes.graceful);
    });
  }

  it(`restart: ${table.table.STARTED.restart.prose}`, async () => {
    expect(manifest.capabilities.restart).toBe(true);
    const s = await start();
    const version = (r: Awaited<ReturnType<typeof get>>) =>
      'body' in r ? (JSON.parse(r.body) as { version?: string }).version : r.error;
    const before = version(await get(s, '/version'));
    s.writeConfig({ generation: 1, codeVersion: 'zoo-next' });
    const ack = await send(s, 'restart');
    const done = await at(s, (e) => e.ev === 'restart-done' && stamp(e) >= ack, 'restart-done');
    expect(done.version).toBe('zoo-next');
    expect(eventsSince(s, ack, 'restart-begin')).toHaveLength(1);
    // carried out in place of a state change: the bus stays STARTED
    expect(eventsSince(s, ack, 'state')).toEqual([]);
    // a new connection is the new generation's
    expect([before, version(await get(s, '/version'))]).toEqual(['zoo-1', 'zoo-next']);
    expect(await finish(s)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// RELOADING (the reload blocked reading a configuration FIFO)

interface HeldReload {
  s: Subject;
  /** the write end of the FIFO the running reload reads; writing to it and closing ends the reload */
  release(generation: number): Promise<void>;
}

async function inReloading(): Promise<HeldReload> {
  const s = await start();
  const fifo = path.join(s.runDir, 'config.fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  renameSync(fifo, s.configPath);
  const ack = await send(s, 'reload');
  await stateAt(s, 'RELOADING', ack);
  const fh = await openFifoWriter(s.configPath, WAIT_MS);
  expect(fh, 'the reload is blocked reading the configuration').not.toBeNull();
  // later reloads read a plain file again
  const plain = path.join(s.runDir, 'config.next');
  writeFileSync(plain, JSON.stringify({ generation: 3 }));
  renameSync(plain, s.configPath);
  return {
    s,
    async release(generation) {
      try {
        await fh?.write(JSON.stringify({ generation }));
      } catch {
        // EPIPE: the reader is gone (a fast stop ended the process)
      } finally {
        await fh?.close().catch(() => {});
      }
    },
  };
}

describe('zoo base: RELOADING', () => {
  for (const request of ['stop', 'fast-stop'] as const) {
    it(`${request}: ${table.table.RELOADING[request].prose}`, async () => {
      const e = effectsOf('RELOADING', request)[0];
      const { s, release } = await inReloading();
      await send(s, 'reload'); // queued: dropped by the stop (dropsRecorded)
      const ack = await send(s, request);
      const stopping = await stateAt(s, 'STOPPING', ack);
      await release(2);
      const code = await finish(s);
      expect(code).toBe(e?.stop === 'fast' ? manifest.exitCodes.fastStop : manifest.exitCodes.graceful);
      expect(table.table.RELOADING[request].dropsRecorded).toBe(true);
      expect(eventsSince(s, 0n, 'reload-begin')).toHaveLength(1);
      expect(eventsSince(s, stamp(stopping), 'state').map((x) => x.state)).toEqual(['STOPPING', 'EXITING']);
    });
  }

  it(`reload: ${table.table.RELOADING.reload.prose}`, async () => {
    expect(effectsOf('RELOADING', 'reload').map((x) => x.kind)).toEqual(['coalesced']);
    const { s, release } = await inReloading();
    await send(s, 'reload');
    await send(s, 'reload');
    await release(2);
    const done = await at(s, (e) => e.ev === 'reload-done' && e.generation === 3, 'the follow-up reload');
    await stateAt(s, 'STARTED', stamp(done));
    expect(eventsSince(s, 0n, 'reload-begin')).toHaveLength(2); // the running one and exactly one follow-up
    expect(await finish(s)).toBe(0);
  });

  it(`reopen-logs: ${table.table.RELOADING['reopen-logs'].prose}`, async () => {
    expect(effectsOf('RELOADING', 'reopen-logs').map((x) => x.kind)).toEqual(['carried-out']);
    const { s, release } = await inReloading();
    const ack = await send(s, 'reopen-logs');
    await at(s, (e) => e.ev === 'reopen-logs' && stamp(e) >= ack, 'reopen-logs');
    expect(eventsSince(s, ack, 'state')).toEqual([]); // still RELOADING
    await release(2);
    await at(s, (e) => e.ev === 'reload-done', 'reload-done');
    expect(await finish(s)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// STOPPING (graceful: the drain waits for a FIFO read in flight)

async function inStopping(): Promise<{ s: Subject; stopping: bigint; release(): Promise<void> }> {
  const s = await start();
  const fifoPath = s.fifoPath;
  if (fifoPath === null) throw new Error('no FIFO on this platform');
  const response = get(s, '/fifo');
  const fh = await openFifoWriter(fifoPath, WAIT_MS);
  expect(fh, 'GET /fifo is blocked reading').not.toBeNull();
  const ack = await send(s, 'stop');
  const stopping = stamp(await stateAt(s, 'STOPPING', ack));
  return {
    s,
    stopping,
    async release() {
      try {
        await fh?.write('line\n');
      } catch {
        // EPIPE: a fast stop cut the read short
      } finally {
        await fh?.close().catch(() => {});
      }
      await response;
    },
  };
}

describe('zoo base: STOPPING (graceful)', () => {
  for (const request of ['stop', 'fast-stop', 'reload', 'reopen-logs'] as const) {
    it(`${request}: ${table.table.STOPPING[request].prose}`, async () => {
      const kinds = effectsOf('STOPPING', request).map((x) => x.kind);
      const { s, release } = await inStopping();
      const ack = await send(s, request);
      if (kinds.includes('escalate')) {
        await at(s, (e) => e.ev === 'request' && e.action === 'fast-stop' && stamp(e) >= ack, 'the escalation');
      }
      await release();
      const code = await finish(s);
      const events = s.probeEvents.filter((e) => stamp(e) >= ack);
      expect(eventsSince(s, 0n, 'state').filter((e) => e.state === 'STOPPING')).toHaveLength(1);
      if (kinds.includes('escalate')) {
        expect(code).toBe(manifest.exitCodes.fastStop);
      } else {
        expect(code).toBe(manifest.exitCodes.graceful);
        const acted = events.some((e) => e.ev === 'request' || e.ev === 'reload-begin' || e.ev === 'reopen-logs');
        if (!kinds.includes('carried-out')) expect(acted, 'ignored').toBe(false);
        if (!kinds.includes('ignored')) expect(acted, 'carried out').toBe(true);
      }
      expect(eventsSince(s, 0n, 'persisted')).toHaveLength(1);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// EXITING (a hanging stop subscriber holds it for the base's exit reserve)

describe('zoo base: EXITING', () => {
  for (const request of ['stop', 'fast-stop', 'reload', 'reopen-logs'] as const) {
    it(`${request}: ${table.table.EXITING[request].prose}`, async () => {
      expect(effectsOf('EXITING', request).map((x) => x.kind)).toEqual(['ignored']);
      for (let attempt = 1; ; attempt++) {
        const s = await start({ SIGCERT_FAULT: 'stop-subscriber-hangs' });
        const stopAck = await send(s, 'stop');
        const exiting = stamp(await stateAt(s, 'EXITING', stopAck));
        const sig = signalOf(request);
        const sent = s.signal(sig);
        const code = await finish(s);
        const ack = s.probeEvents.find((e) => e.ev === 'signal' && e.sig === sig && stamp(e) >= sent);
        const end = eventsSince(s, 0n, 'exiting')[0];
        const inTime = ack !== undefined && end !== undefined && stamp(ack) > exiting && stamp(ack) < stamp(end);
        if (!inTime && attempt < 3) continue;
        expect(inTime, `${sig} acknowledged while EXITING`).toBe(true);
        const acted = s.probeEvents.filter(
          (e) => stamp(e) >= sent && ['request', 'reload-begin', 'reopen-logs', 'state'].includes(e.ev),
        );
        expect(acted).toEqual([]);
        expect(code).toBe(manifest.exitCodes.graceful);
        return;
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// the last column

describe('zoo base: the transitions it makes by itself', () => {
  it(`STARTING: ${table.internal.STARTING.prose}`, async () => {
    const failed = table.internal.STARTING.transitions.find((t) => t.on === 'startup-failed');
    // an invalid configuration is a fatal startup error
    runs += 1;
    const t = await launch({
      manifest,
      runDir: path.join(work, `run-${runs}`),
      history: new History(),
      config: { generation: 0 },
      waitReady: false,
    });
    live.push(t);
    await t.waitExit(WAIT_MS); // on its own: no signal
    const code = await finish(t);
    expect(code).toBe(failed?.status);
    expect(eventsSince(t, 0n, 'state').map((e) => e.state)).toEqual(['STARTING', failed?.to]);
  });

  it(`RELOADING: ${table.internal.RELOADING.prose}`, async () => {
    const s = await start();
    s.writeConfig('{ "generation": 2, not JSON');
    const ack = await send(s, 'reload');
    await at(s, (e) => e.ev === 'reload-failed' && stamp(e) >= ack, 'reload-failed');
    await stateAt(s, 'STARTED', ack);
    expect(await finish(s)).toBe(0);
  });

  it(`STOPPING: ${table.internal.STOPPING.prose} (the deadline: status ${manifest.exitCodes.deadline})`, async () => {
    const s = await start({ SIGCERT_GRACE_MS: '800' });
    let headers!: () => void;
    const served = new Promise<void>((resolve) => {
      headers = resolve;
    });
    const response = get(s, '/hold?ms=5000', headers); // outlives the grace period
    await served; // in flight
    const ack = await send(s, 'stop');
    await stateAt(s, 'STOPPING', ack);
    expect(await finish(s)).toBe(manifest.exitCodes.deadline);
    expect(await response).toHaveProperty('error');
  });
});
