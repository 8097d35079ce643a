/**
 * Real signals to a real reference server (`dist/reference/src/main.js`, built by `pretest`).
 * Every wait is on an observed event (probe event, response head, socket end) with a deadline;
 * every process is SIGKILLed by process group in `afterEach` if it is still there.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectOutcome, RawConnection, request } from './helpers/raw-http.js';
import { isSubsequence, names, POSIX, Subject, type SubjectOptions, TOKEN } from './helpers/subject.js';

const subjects: Subject[] = [];

async function launch(opts: SubjectOptions = {}): Promise<Subject> {
  const subject = await Subject.start(opts);
  subjects.push(subject);
  return subject;
}

afterEach(async () => {
  await Promise.all(subjects.splice(0).map((s) => s.dispose()));
});

describe.runIf(POSIX)('SIGTERM', () => {
  it('idle: exits 0 after signal -> STOPPING -> stop-accepting -> drained -> persisted -> exiting', async () => {
    const s = await launch();
    const pidfile = join(s.stateDir, 'server.pid');
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(s.pid));

    s.kill('SIGTERM');
    const status = await s.waitExit();

    expect(status, s.timeline()).toEqual({ code: 0, signal: null });
    const expected = ['signal', 'state:STOPPING', 'stop-accepting', 'drained', 'persisted', 'exiting'];
    expect(isSubsequence(expected, names(s.events)), s.timeline()).toBe(true);
    expect(s.all('signal')[0]).toMatchObject({ sig: 'SIGTERM', pid: s.pid });
    expect(s.all('request')).toMatchObject([{ action: 'stop', source: 'signal' }]);
    expect(s.all('drained')).toMatchObject([{ forced: false, aborted: 0 }]);
    expect(s.all('persisted')).toHaveLength(1);
    expect(s.all('exiting')).toMatchObject([{ code: 0 }]);
    expect(existsSync(pidfile)).toBe(false);
    expect(existsSync(join(s.stateDir, 'store.index'))).toBe(true);
  });

  it('in flight: a held response completes byte-exact, an unanswered upload gets Connection: close, idle keep-alive gets FIN', async () => {
    const s = await launch();
    const port = s.ports.http;

    // An idle keep-alive connection that has made one request.
    const idle = await RawConnection.open(port);
    idle.send('GET', '/live');
    expect((await idle.response()).headers.connection).toBe('keep-alive');

    // A held response: status and headers are out, the body comes after 1500 ms.
    const held = await RawConnection.open(port);
    held.send('GET', '/hold?ms=1500');
    expect((await held.head()).status).toBe(200);

    // An upload whose body is half sent; `100 Continue` proves the server is handling it.
    const half = Buffer.alloc(64 * 1024, 7);
    const upload = await RawConnection.open(port);
    upload.send('POST', '/upload', { 'Content-Length': half.length * 2, Expect: '100-continue' }, half);
    expect((await upload.response()).status).toBe(100);

    s.kill('SIGTERM');
    await s.waitFor('stop-accepting');

    // New connections are refused; the idle one was ended with FIN, not reset.
    expect(await connectOutcome(port)).toBe('refused');
    expect(await idle.ended).toBe('fin');

    // The upload finishes after the stop: its response carries Connection: close, then FIN.
    upload.write(half);
    const uploaded = await upload.response();
    expect(uploaded.status).toBe(200);
    expect(uploaded.headers.connection).toBe('close');
    const whole = Buffer.concat([half, half]);
    expect(JSON.parse(uploaded.body.toString())).toEqual({
      bytes: whole.length,
      sha256: createHash('sha256').update(whole).digest('hex'),
    });
    expect(await upload.ended).toBe('fin');

    // The held response completes exactly, and its connection is not reused.
    const body = await held.response();
    expect(body.body.toString()).toBe('held 1500\n');
    expect(await held.ended).toBe('fin');

    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('drained')).toMatchObject([{ forced: false, aborted: 0 }]);
  });

  it('during a 1000 ms /cpu request: the signal is acknowledged before the CPU work ends', async () => {
    const s = await launch();
    const conn = await RawConnection.open(s.ports.http);
    conn.send('GET', '/cpu?ms=1000');
    expect((await conn.head()).status).toBe(200); // headers are flushed when the work begins
    let cpuDone = false;
    const response = conn.response(10_000).then((r) => {
      cpuDone = true;
      return r;
    });

    const sentAt = s.kill('SIGTERM');
    const signal = await s.waitFor('signal');
    expect(cpuDone).toBe(false);
    const latencyMs = Number(BigInt(signal.t) - sentAt) / 1e6;
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    expect(latencyMs).toBeLessThan(500); // loose on purpose: the bench measures, this only orders

    expect((await response).body.toString()).toBe('cpu 1000\n');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    const order = names(s.events);
    expect(order.indexOf('signal')).toBeLessThan(order.indexOf('drained'));
  });
});

describe.runIf(POSIX)('SIGHUP', () => {
  it('reloads the configuration; an invalid file keeps the old one and the server keeps serving', async () => {
    const s = await launch({ config: { generation: 1 } });
    s.writeConfig({ generation: 2 });
    s.kill('SIGHUP');
    await s.waitFor((e) => e.ev === 'reload-done' && e.generation === 2);
    expect(JSON.parse((await request(s.ports.http, 'GET', '/config')).body.toString())).toEqual({ generation: 2 });

    writeFileSync(s.configPath, '{ "generation": ');
    const from = s.events.length;
    s.kill('SIGHUP');
    await s.waitFor('reload-failed', 10_000, from);
    expect(JSON.parse((await request(s.ports.http, 'GET', '/config')).body.toString())).toEqual({ generation: 2 });
    expect((await request(s.ports.http, 'GET', '/ready')).status).toBe(200);

    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('is never fatal: during STARTING (deferred to one reload), repeated while STARTED, and during a stop', async () => {
    const s = await launch({ env: { SIGCERT_STARTUP_DELAY_MS: '1500' }, waitReady: false });
    await s.waitFor('handlers');
    s.writeConfig({ generation: 3 });
    for (let i = 0; i < 3; i++) {
      const from = s.events.length;
      s.kill('SIGHUP');
      await s.waitFor('signal', 5000, from); // one at a time: pending signals coalesce
    }
    expect(s.exitStatus).toBeUndefined();
    await s.waitFor('ready');
    await s.waitFor((e) => e.ev === 'reload-done' && e.generation === 3);
    expect(s.all('request').filter((e) => e.action === 'reload')).toHaveLength(3);
    expect(s.all('request')[0]).toMatchObject({ action: 'reload', source: 'signal', deferred: true });

    for (let i = 0; i < 5; i++) {
      const from = s.events.length;
      s.kill('SIGHUP');
      await s.waitFor('signal', 5000, from);
    }
    expect((await request(s.ports.http, 'GET', '/live')).status).toBe(200);

    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=1500');
    await held.head();
    s.kill('SIGTERM');
    await s.waitFor((e) => e.ev === 'state' && e.state === 'STOPPING');
    const reloadsBefore = s.all('reload-begin').length;
    const from = s.events.length;
    s.kill('SIGHUP');
    await s.waitFor('signal', 5000, from);
    expect((await held.response()).body.toString()).toBe('held 1500\n');
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('reload-begin')).toHaveLength(reloadsBefore); // the stop dominated
  });
});

describe.runIf(POSIX)('SIGINT', () => {
  it('the first starts a graceful stop, the second escalates to a fast stop: exit 4, persisted', async () => {
    const s = await launch();
    const held = await RawConnection.open(s.ports.http);
    held.send('GET', '/hold?ms=30000');
    await held.head();

    s.kill('SIGINT');
    await s.waitFor('stop-accepting');
    expect(s.exitStatus).toBeUndefined(); // still draining the held request
    s.kill('SIGINT');

    expect(await s.waitExit(), s.timeline()).toEqual({ code: 4, signal: null });
    expect(s.all('request')).toMatchObject([
      { action: 'stop', source: 'signal' },
      { action: 'fast-stop', source: 'signal' },
    ]);
    expect(s.all('drained')).toMatchObject([{ forced: true, aborted: 1 }]);
    expect(s.all('persisted')).toHaveLength(1);
    expect(s.all('exiting')).toMatchObject([{ code: 4 }]);
    expect(await held.ended).not.toBe('error');
  });
});

describe.runIf(POSIX)('control channel', () => {
  it('refuses a missing or wrong token (401, nothing happens); with the token it reloads and stops', async () => {
    const s = await launch({ config: { generation: 1 } });
    const admin = s.ports.admin!;
    s.writeConfig({ generation: 5 });

    const wrong: Array<Record<string, string>> = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of wrong) {
      for (const path of ['/control/stop', '/control/fast-stop', '/control/reload']) {
        expect((await request(admin, 'POST', path, { headers })).status).toBe(401);
      }
    }
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const state = await request(admin, 'GET', '/control/state', { headers: auth });
    expect(JSON.parse(state.body.toString())).toEqual({ state: 'STARTED' });
    expect(s.all('request')).toEqual([]);
    expect(s.all('reload-begin')).toEqual([]);

    const reload = await request(admin, 'POST', '/control/reload', { headers: auth });
    expect(reload.status).toBe(200);
    expect(JSON.parse(reload.body.toString())).toEqual({ generation: 5 });

    writeFileSync(s.configPath, 'not json');
    const rejected = await request(admin, 'POST', '/control/reload', { headers: auth });
    expect(rejected.status).toBe(409);
    expect(JSON.parse(rejected.body.toString()).error).toMatch(/JSON/);

    const stop = await request(admin, 'POST', '/control/stop', { headers: auth });
    expect(stop.status).toBe(202);
    expect(await s.waitExit(), s.timeline()).toEqual({ code: 0, signal: null });
    expect(s.all('request').map((e) => `${e.action}/${e.source}`)).toEqual([
      'reload/control',
      'reload/control',
      'stop/control',
    ]);
    expect(s.all('persisted')).toHaveLength(1);
  });
});
