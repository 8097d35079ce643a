/**
 * The other stop paths, on a real process: the deadline, fast stop, a stop during startup, a
 * repeated stop, the pre-drain delay, injected subscriber faults, a FIFO read that never ends,
 * and the signals that must change nothing.
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectOutcome, RawConnection, request } from './helpers/raw-http.js';
import { POSIX, Subject, type SubjectOptions } from './helpers/subject.js';

const subjects: Subject[] = [];
const fds: number[] = [];

async function launch(opts: SubjectOptions = {}): Promise<Subject> {
  const subject = await Subject.start(opts);
  subjects.push(subject);
  return subject;
}

afterEach(async () => {
  for (const fd of fds.splice(0)) closeSync(fd);
  await Promise.all(subjects.splice(0).map((s) => s.dispose()));
});

const ms = (from: { t: string }, to: { t: string }) => Number(BigInt(to.t) - BigInt(from.t)) / 1e6;

/** Waits (deadline-bound) until the server has the FIFO open for reading; returns our write end. */
async function fifoWriterOnceReaderIsThere(path: string, timeoutMs = 5000): Promise<number> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    try {
      // Opening a FIFO write-only and non-blocking fails with ENXIO while nobody reads it.
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      fds.push(fd);
      return fd;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > giveUp) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

describe.runIf(POSIX)('the stop deadline', () => {
  it('a request that outlives SIGCERT_GRACE_MS is aborted; persist still runs; exit 3', async () => {
    const s = await launch({ env: { SIGCERT_GRACE_MS: '400' } });
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=30000');
    await held.head();

    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 3, signal: null });
    expect(s.all('drained')).toMatchObject([{ forced: true, aborted: 1 }]);
    expect(s.all('persisted')).toHaveLength(1);
    expect(s.all('exiting')).toMatchObject([{ code: 3 }]);
    const took = ms(s.all('signal')[0]!, s.all('exiting')[0]!);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(2000);
    await expect(held.response()).rejects.toThrow(/connection ended/); // the body never came
    expect(existsSync(join(s.stateDir, 'server.pid'))).toBe(false);
  });

  it('a /cpu job longer than the deadline: its worker is terminated and the exit is on time', async () => {
    const s = await launch({ env: { SIGCERT_GRACE_MS: '300' } });
    const conn = await RawConnection.open(s.ports.http);
    conn.send('GET', '/cpu?ms=20000');
    await conn.head();
    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 3, signal: null });
    expect(s.all('drained')).toMatchObject([{ forced: true, aborted: 1 }]);
    expect(ms(s.all('signal')[0]!, s.all('exiting')[0]!)).toBeLessThan(2000);
  });

  it('a /fifo read with no writer cannot hold the exit past the deadline', async () => {
    const s = await launch({ env: { SIGCERT_GRACE_MS: '300' } });
    const conn = await RawConnection.open(s.ports.http);
    conn.send('GET', '/fifo');
    await fifoWriterOnceReaderIsThere(s.fifoPath); // the read is in progress (and gets no data)
    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 3, signal: null });
    expect(s.all('drained')).toMatchObject([{ forced: true, aborted: 1 }]);
    expect(ms(s.all('signal')[0]!, s.all('exiting')[0]!)).toBeLessThan(2000);
  });
});

describe.runIf(POSIX)('fast stop', () => {
  it('SIGQUIT: listeners closed, connections destroyed, persisted, exit 4', async () => {
    const s = await launch();
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=30000');
    await held.head();
    s.kill('SIGQUIT');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 4, signal: null });
    expect(s.all('request')).toMatchObject([{ action: 'fast-stop', source: 'signal' }]);
    expect(s.all('stop-accepting')).toHaveLength(1);
    expect(s.all('drained')).toMatchObject([{ forced: true, aborted: 1 }]);
    expect(s.all('persisted')).toHaveLength(1);
  });
});

describe.runIf(POSIX)('a stop during STARTING', () => {
  it('aborts the startup: no HTTP listener ever opens, the store is persisted, exit 0', async () => {
    const s = await launch({ env: { SIGCERT_STARTUP_DELAY_MS: '20000' }, waitReady: false });
    await s.waitFor((e) => e.ev === 'listening' && e.name === 'admin'); // STARTING, in the delay
    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('listening').map((e) => e.name)).toEqual(['admin']);
    expect(s.all('ready')).toEqual([]);
    expect(s.all('state').map((e) => e.state)).toEqual(['STOPPING', 'EXITING']);
    expect(s.all('persisted')).toHaveLength(1);
    expect(existsSync(join(s.stateDir, 'store.index'))).toBe(true);
    expect(existsSync(join(s.stateDir, 'server.pid'))).toBe(false);
    expect(await connectOutcome(s.ports.http)).toBe('refused');
    expect(ms(s.all('signal')[0]!, s.all('exiting')[0]!)).toBeLessThan(5000);
  });
});

describe.runIf(POSIX)('a stop before the bus exists', () => {
  it('a SIGTERM right after the handlers are installed is recorded, replayed and honoured: exit 0, persisted', async () => {
    const s = await launch({ waitReady: false });
    await s.waitFor('handlers');
    s.kill('SIGTERM'); // the server is still loading its modules: no bus yet, most likely
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('request')).toMatchObject([{ action: 'stop', source: 'signal' }]);
    expect(s.all('listening').filter((e) => e.name === 'http')).toEqual([]);
    expect(s.all('persisted')).toHaveLength(1);
  });
});

describe.runIf(POSIX)('a repeated stop', () => {
  it('a second SIGTERM changes nothing: one stop sequence, one persist, the request in flight completes', async () => {
    const s = await launch();
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=1000');
    await held.head();
    s.kill('SIGTERM');
    await s.waitFor((e) => e.ev === 'state' && e.state === 'STOPPING');
    s.kill('SIGTERM');
    await s.waitFor((e) => e.ev === 'signal' && s.all('signal').length === 2);
    expect((await held.response()).body.toString()).toBe('held 1000\n');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(s.all('request')).toHaveLength(1);
    expect(s.all('stop-accepting')).toHaveLength(1);
    expect(s.all('drained')).toMatchObject([{ forced: false }]);
    expect(s.all('persisted')).toHaveLength(1);
  });
});

describe.runIf(POSIX)('the pre-drain delay', () => {
  it('readiness fails at once, new connections are still served (Connection: close), then refused', async () => {
    const s = await launch({ env: { SIGCERT_PREDRAIN_MS: '1500' } });
    s.kill('SIGTERM');
    await s.waitFor((e) => e.ev === 'state' && e.state === 'STOPPING');

    const ready = await request(s.ports.http, 'GET', '/ready');
    expect(ready.status).toBe(503);
    const live = await request(s.ports.http, 'GET', '/live');
    expect(live.status).toBe(200);
    expect(live.headers.connection).toBe('close');
    expect(s.all('stop-accepting')).toEqual([]);

    await s.waitFor('stop-accepting');
    expect(await connectOutcome(s.ports.http)).toBe('refused');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(ms(s.all('signal')[0]!, s.all('stop-accepting')[0]!)).toBeGreaterThanOrEqual(1490);
  });
});

describe.runIf(POSIX)('injected faults (SIGCERT_FAULT)', () => {
  it('a stop subscriber that throws is logged; the stop completes: persisted, exit 0', async () => {
    const s = await launch({ env: { SIGCERT_FAULT: 'stop-subscriber-throws' } });
    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('persisted')).toHaveLength(1);
    expect(s.stderr).toMatch(/injected fault/);
  });

  it('a stop subscriber that hangs is abandoned at the deadline: persisted, exit 3, on time', async () => {
    const s = await launch({ env: { SIGCERT_FAULT: 'stop-subscriber-hangs', SIGCERT_GRACE_MS: '400' } });
    s.kill('SIGTERM');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 3, signal: null });
    expect(s.all('persisted')).toHaveLength(1);
    expect(s.all('drained')).toMatchObject([{ forced: false, aborted: 0 }]);
    expect(ms(s.all('signal')[0]!, s.all('exiting')[0]!)).toBeLessThan(2000);
  });
});

describe.runIf(POSIX)('signals that change nothing', () => {
  it('SIGPIPE, SIGWINCH, SIGURG, SIGCHLD and SIGUSR2 (restart, unsupported) leave the server serving', async () => {
    const s = await launch();
    for (const sig of ['SIGPIPE', 'SIGWINCH', 'SIGURG', 'SIGCHLD'] as NodeJS.Signals[]) s.kill(sig);
    const from = s.events.length;
    s.kill('SIGUSR2');
    await s.waitFor('signal', 5000, from);
    expect((await request(s.ports.http, 'GET', '/ready')).status).toBe(200);
    expect(s.all('state').map((e) => e.state)).toEqual(['STARTED']);
    expect(s.all('request')).toEqual([]);
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('SIGUSR1 reopens the log file (and is not fatal)', async () => {
    const s = await launch({ env: { SIGCERT_LOG_FILE: 'server.log' } });
    s.kill('SIGUSR1');
    await s.waitFor('reopen-logs');
    expect(s.all('request')).toMatchObject([{ action: 'reopen-logs', source: 'signal' }]);
    expect((await request(s.ports.http, 'GET', '/live')).status).toBe(200);
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });
});
