/**
 * The supervised mode (`--workers N`, `reference/src/supervised/`), with real processes and real
 * signals: a restart keeps the supervisor's pid and brings in the code version on disk; the
 * supervisor's death takes every worker with it within a second; writes stay durable across a
 * restart with one writer; a signal to the whole process group is handled once; a crashed worker is
 * replaced. Synchronisation is on probe events and the process table, with deadlines.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, killMarked, openFiles, procState, until } from './helpers/processes.js';
import { connectOutcome, RawConnection, request } from './helpers/raw-http.js';
import { POSIX, type ProbeEvent, Subject, TOKEN } from './helpers/subject.js';

const WORKERS = 2;

interface Started {
  s: Subject;
  runId: string;
}

const started: Started[] = [];
afterEach(async () => {
  for (const { s, runId } of started.splice(0)) {
    // every worker we ever heard of that still runs with our marker (a SIGKILLed supervisor's orphans)
    killMarked(workerPids(s), runId);
    await s.dispose();
  }
});

async function startSupervised(
  opts: { env?: Record<string, string>; runDir?: string; tls?: boolean; config?: Record<string, unknown> } = {},
) {
  const runId = `supervised-${process.pid}-${randomBytes(4).toString('hex')}`;
  const s = await Subject.start({
    ...opts,
    env: { SIGCERT_WORKERS: String(WORKERS), SIGCERT_RUN_ID: runId, ...opts.env },
  });
  started.push({ s, runId });
  return { s, runId };
}

/** Every worker pid the supervisor announced (probe `worker-started`). */
function workerPids(s: Subject): number[] {
  return s.all('worker-started').map((e) => Number(e.workerPid));
}

/** The workers of one generation (probe `generation-ready`). */
function generation(s: Subject, n: number): ProbeEvent {
  const e = s.all('generation-ready').find((x) => x.generation === n);
  if (e === undefined) throw new Error(`no generation-ready for generation ${n}\n${s.timeline()}`);
  return e;
}

async function version(port: number): Promise<string> {
  const r = await request(port, 'GET', '/version');
  return (JSON.parse(r.body.toString()) as { version: string }).version;
}

describe.runIf(POSIX)('supervised mode: restart', () => {
  it('keeps the supervisor pid, serves the new code version, and retires the old workers', async () => {
    const { s } = await startSupervised();
    const port = s.ports.http;
    expect(await version(port)).toBe(generation(s, 1).version);
    const gen1 = generation(s, 1).workers as number[];
    expect(gen1).toHaveLength(WORKERS);
    expect(gen1.every(isRunning)).toBe(true);

    // SIGUSR2: a new generation reads the codeVersion now on disk
    s.writeConfig({ generation: 1, codeVersion: 'v-signal' });
    const from = s.events.length;
    s.kill('SIGUSR2');
    const done = await s.waitFor('restart-done', 15_000, from);
    expect(done).toMatchObject({ generation: 2, version: 'v-signal', previous: 1, pid: s.pid });
    for (let i = 0; i < 10; i++) expect(await version(port)).toBe('v-signal');
    await s.waitFor((e) => e.ev === 'generation-exit' && e.generation === 1, 10_000, from);
    expect(gen1.filter(isRunning)).toEqual([]);
    expect(s.exitStatus).toBeUndefined();

    // the control channel asks for the same restart
    s.writeConfig({ generation: 1, codeVersion: 'v-control' });
    const from2 = s.events.length;
    const r = await request(s.ports.admin!, 'POST', '/control/restart', {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(r.status).toBe(202);
    await s.waitFor((e) => e.ev === 'restart-done' && e.version === 'v-control', 15_000, from2);
    expect(s.events.slice(from2).find((e) => e.ev === 'request')).toMatchObject({
      action: 'restart',
      source: 'control',
    });
    expect(await version(port)).toBe('v-control');

    // the pidfile still names the supervisor; a graceful stop still works
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(workerPids(s).filter(isRunning)).toEqual([]);
  });

  it('a restart under load refuses, resets and fails no request; a held request completes on the old code', async () => {
    const { s } = await startSupervised();
    const port = s.ports.http;
    const held = await RawConnection.open(port);
    held.send('GET', '/hold?ms=700');
    expect((await held.head()).status).toBe(200);
    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const loop = async () => {
      for (let i = 0; i < 3000 && !stop; i++) {
        try {
          const res = await request(port, 'GET', '/live', { timeoutMs: 5000 });
          if (res.status !== 200) failures.push(`status ${res.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        sent++;
      }
    };
    const clients = [loop(), loop(), loop()];
    s.writeConfig({ generation: 1, codeVersion: 'v-load' });
    const from = s.events.length;
    s.kill('SIGUSR2');
    await s.waitFor((e) => e.ev === 'generation-exit' && e.generation === 1, 15_000, from);
    stop = true;
    await Promise.all(clients);
    const body = await held.response();
    expect(body.body.toString()).toBe('held 700\n');
    expect(await held.ended).toBe('fin'); // the old generation ends its connection after the response
    held.close();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(0);
    expect(await version(port)).toBe('v-load');
  });

  it('restarts requested while one runs coalesce: never more than two generations', async () => {
    const { s } = await startSupervised();
    const from = s.events.length;
    for (const v of ['b1', 'b2', 'b3', 'b4']) {
      s.writeConfig({ generation: 1, codeVersion: v });
      const at = s.events.length;
      s.kill('SIGUSR2');
      await s.waitFor((e) => e.ev === 'request' && e.action === 'restart', 5000, at);
    }
    // the first runs, the other three share one follow-up that reads the last version written
    const requests = s.events.slice(from).filter((e) => e.ev === 'request');
    expect(requests.filter((e) => e.coalesced === true).length).toBeGreaterThanOrEqual(2);
    await s.waitFor((e) => e.ev === 'restart-done' && e.version === 'b4', 20_000, from);
    await s.waitFor((e) => e.ev === 'generation-exit' && e.generation === 2, 20_000, from);
    const begins = s.events.slice(from).filter((e) => e.ev === 'restart-begin');
    expect(begins.length).toBeLessThanOrEqual(3);
    // at no point were three generations alive: replay the generation lifetimes from the probe
    let alive = 1;
    let peak = 1;
    for (const e of s.events.slice(from)) {
      if (e.ev === 'generation-ready') alive++;
      if (e.ev === 'generation-exit') alive--;
      peak = Math.max(peak, alive);
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(await version(s.ports.http)).toBe('b4');
  });
});

describe.runIf(POSIX)('supervised mode: the supervisor dies', () => {
  it('SIGKILL of the supervisor: every worker is gone within 1 s and the port is released', async () => {
    const { s } = await startSupervised();
    const workers = generation(s, 1).workers as number[];
    expect(workers.every(isRunning)).toBe(true);
    const t0 = performance.now();
    s.kill('SIGKILL');
    const gone = await until(() => workers.every((pid) => !isRunning(pid)), 1000);
    const ms = performance.now() - t0;
    expect(
      gone,
      `still running after ${ms.toFixed(0)} ms: ${workers.filter(isRunning).map((p) => `${p} ${procState(p)}`)}`,
    ).toBe(true);
    expect(ms).toBeLessThanOrEqual(1000);
    // the kernel releases the shared listener as the last holder exits: new connections must be
    // refused within the same 1 s bound, measured from the supervisor's death (bounded poll)
    let outcome = await connectOutcome(s.ports.http);
    while (outcome !== 'refused' && performance.now() - t0 < 1000) {
      await new Promise((r) => setTimeout(r, 10));
      outcome = await connectOutcome(s.ports.http);
    }
    expect(outcome, `a new connection ${(performance.now() - t0).toFixed(0)} ms after the supervisor's death`).toBe(
      'refused',
    );
    expect((await s.waitExit()).signal).toBe('SIGKILL');
  });
});

describe.runIf(POSIX)('supervised mode: the store has one writer', () => {
  it('writes stay durable across a restart and a stop; only the supervisor opens the log', async () => {
    const { s } = await startSupervised();
    const port = s.ports.http;
    expect((await request(port, 'PUT', '/kv/before', { body: 'one' })).status).toBe(201);
    s.writeConfig({ generation: 1, codeVersion: 'v-durable' });
    const from = s.events.length;
    s.kill('SIGUSR2');
    await s.waitFor('restart-done', 15_000, from);
    expect((await request(port, 'GET', '/kv/before')).body.toString()).toBe('one'); // read by a new worker
    expect((await request(port, 'PUT', '/kv/after', { body: 'two' })).status).toBe(201);

    if (process.platform === 'linux') {
      const log = join(s.stateDir, 'store.log');
      expect(openFiles(s.pid)).toContain(log);
      for (const pid of (generation(s, 2).workers as number[]).filter(isRunning))
        expect(openFiles(pid)).not.toContain(log);
    }

    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(s.all('persisted')).toEqual([expect.objectContaining({ records: 2 })]);

    // the next start (one process this time) finds both, with a clean index: no recovery scan
    const again = await Subject.start({ runDir: s.runDir });
    started.push({ s: again, runId: 'none' });
    expect(again.all('recovery')).toEqual([expect.objectContaining({ mode: 'clean', records: 2 })]);
    expect((await request(again.ports.http, 'GET', '/kv/before')).body.toString()).toBe('one');
    expect((await request(again.ports.http, 'GET', '/kv/after')).body.toString()).toBe('two');
  });
});

describe.runIf(POSIX)('supervised mode: signals and crashes', () => {
  it('SIGTERM to the whole process group: one stop, in-flight work completes, no worker dies by the signal', async () => {
    const { s } = await startSupervised();
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=600');
    expect((await held.head()).status).toBe(200);
    process.kill(-s.pid, 'SIGTERM');
    const res = await held.response();
    expect(res.body.toString()).toBe('held 600\n');
    expect(await held.ended).toBe('fin'); // its head left before the stop: the connection ends after it
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(s.all('signal')).toHaveLength(1); // only the supervisor writes the probe
    expect(s.all('state').filter((e) => e.state === 'STOPPING')).toHaveLength(1);
    const exits = s.all('worker-exit');
    expect(exits).toHaveLength(WORKERS);
    for (const e of exits) expect(e).toMatchObject({ code: 0, signal: null, expected: true });
    expect(s.events.at(-1)?.ev).toBe('exiting');
  });

  it("a second SIGINT that cuts the workers' drain is reported as a forced drain, never a completed one", async () => {
    const { s } = await startSupervised();
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=5000');
    expect((await held.head()).status).toBe(200);
    s.kill('SIGINT');
    await s.waitFor((e) => e.ev === 'state' && e.state === 'STOPPING');
    s.kill('SIGINT');
    await held.ended;
    expect(await s.waitExit()).toEqual({ code: 4, signal: null });
    // the workers ended their drain because the fast stop cut it: the supervisor must not say it completed
    const drained = s.all('drained');
    expect(drained).toHaveLength(1);
    expect(drained[0]).toMatchObject({ forced: true });
    expect(Number(drained[0]?.aborted)).toBeGreaterThanOrEqual(1);
  });

  it('a worker that dies unexpectedly is replaced; the service goes on', async () => {
    const { s, runId } = await startSupervised();
    const [victim] = generation(s, 1).workers as number[];
    expect(victim).toBeDefined();
    const from = s.events.length;
    killMarked([victim!], runId);
    const exit = await s.waitFor((e) => e.ev === 'worker-exit' && e.workerPid === victim, 5000, from);
    expect(exit).toMatchObject({ signal: 'SIGKILL', expected: false, generation: 1 });
    const replacement = await s.waitFor((e) => e.ev === 'worker-started' && e.generation === 1, 5000, from);
    expect(replacement.workerPid).not.toBe(victim);
    expect((await request(s.ports.http, 'GET', '/live')).status).toBe(200);
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(workerPids(s).filter(isRunning)).toEqual([]);
  });
});
