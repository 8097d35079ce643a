/**
 * The conformance endpoints (subject protocol section 9) on a real process, and the durable
 * store behind `/kv` across a graceful stop and across SIGKILL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection, request } from './helpers/raw-http.js';
import { POSIX, Subject, type SubjectOptions } from './helpers/subject.js';

const subjects: Subject[] = [];

async function launch(opts: SubjectOptions = {}): Promise<Subject> {
  const subject = await Subject.start(opts);
  subjects.push(subject);
  return subject;
}

afterEach(async () => {
  await Promise.all(subjects.splice(0).map((s) => s.dispose()));
});

const text = (r: { body: Buffer }) => r.body.toString();

/**
 * Opens the FIFO for writing once the server reads it (polls for a reader, with a deadline):
 * opening a FIFO write-only and non-blocking fails with ENXIO while nobody has it open to read.
 */
async function openFifoWriter(path: string, timeoutMs = 5000): Promise<number> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    try {
      return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > giveUp) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

function writeAndClose(fd: number, line: string): void {
  writeSync(fd, line);
  closeSync(fd);
}

describe.runIf(POSIX)('conformance endpoints', () => {
  it('/ready, /live, /config, /version, 404 and 405', async () => {
    const s = await launch({ config: { generation: 9 }, env: { SIGCERT_CODE_VERSION: 'v-test-1' } });
    const port = s.ports.http;
    expect((await request(port, 'GET', '/ready')).status).toBe(200);
    expect(text(await request(port, 'GET', '/live'))).toBe('live\n');
    expect(JSON.parse(text(await request(port, 'GET', '/config')))).toEqual({ generation: 9 });
    expect(JSON.parse(text(await request(port, 'GET', '/version')))).toEqual({ version: 'v-test-1' });
    expect((await request(port, 'GET', '/nope')).status).toBe(404);
    expect((await request(port, 'POST', '/hold?ms=1')).status).toBe(405);
    expect((await request(port, 'GET', '/hold?ms=abc')).status).toBe(400);
    expect(text(await request(port, 'GET', '/hold?ms=5'))).toBe('held 5\n');
    expect(text(await request(port, 'GET', '/cpu?ms=5'))).toBe('cpu 5\n');
  });

  it('/version defaults to the package version', async () => {
    const s = await launch();
    const { version } = JSON.parse(text(await request(s.ports.http, 'GET', '/version')));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('without SIGCERT_CONFORMANCE=1 only /, /ready and /live exist', async () => {
    const s = await launch({ env: { SIGCERT_CONFORMANCE: '0' } });
    expect((await request(s.ports.http, 'GET', '/ready')).status).toBe(200);
    expect((await request(s.ports.http, 'GET', '/')).status).toBe(200);
    expect((await request(s.ports.http, 'GET', '/hold?ms=1')).status).toBe(404);
    expect((await request(s.ports.http, 'GET', '/kv')).status).toBe(404);
  });

  it('/download?bytes=N is the 0123456789abcdef pattern; a client that leaves mid-way does no harm', async () => {
    const s = await launch();
    const n = 300_001;
    const got = await request(s.ports.http, 'GET', `/download?bytes=${n}`);
    expect(got.body.length).toBe(n);
    const pattern = '0123456789abcdef';
    for (let i = 0; i < n; i += 4099) expect(String.fromCharCode(got.body[i]!)).toBe(pattern[i % 16]);
    expect(got.body.subarray(n - 17).toString()).toBe(
      Array.from({ length: 17 }, (_, k) => pattern[(n - 17 + k) % 16]).join(''),
    );

    const leaver = await RawConnection.open(s.ports.http);
    leaver.send('GET', '/download?bytes=500000000');
    await leaver.head();
    leaver.socket.resetAndDestroy(); // RST mid-response (EPIPE/ECONNRESET on the server's side)
    expect((await request(s.ports.http, 'GET', '/live')).status).toBe(200);
    expect(s.exitStatus).toBeUndefined();
  });

  it('/upload answers the length and SHA-256 of a streamed body', async () => {
    const s = await launch();
    const body = randomBytes(3 * 1024 * 1024 + 5);
    const got = await request(s.ports.http, 'POST', '/upload', { body, timeoutMs: 30_000 });
    expect(JSON.parse(text(got))).toEqual({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
  });

  it('/fifo answers the line a writer puts into the FIFO', async () => {
    const s = await launch();
    const pending = request(s.ports.http, 'GET', '/fifo');
    writeAndClose(await openFifoWriter(s.fifoPath), 'hello from the fifo\nsecond line\n');
    expect(text(await pending)).toBe('hello from the fifo\n');
  });

  it('a /fifo read in flight during SIGTERM completes once the line comes; exit 0', async () => {
    const s = await launch();
    const conn = await RawConnection.open(s.ports.http);
    conn.send('GET', '/fifo');
    const writer = await openFifoWriter(s.fifoPath); // the read is in progress, still without data
    s.kill('SIGTERM');
    await s.waitFor('stop-accepting');
    writeAndClose(writer, 'late line\n');
    const response = await conn.response();
    expect(text(response)).toBe('late line\n');
    expect(response.headers.connection).toBe('close');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });
});

describe.runIf(POSIX)('running from the TypeScript source', () => {
  it('node --import tsx reference/src/main.ts serves, runs CPU work on its worker thread, stops cleanly', async () => {
    const s = await launch({ fromSource: true });
    expect(text(await request(s.ports.http, 'GET', '/cpu?ms=20'))).toBe('cpu 20\n');
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(s.stderr).not.toMatch(/CPU worker/);
  });
});

describe.runIf(POSIX)('/kv and the durable store', () => {
  it('stores, lists and returns values; bad keys are refused; a graceful stop leaves a clean index', async () => {
    const s = await launch();
    const port = s.ports.http;
    const value = randomBytes(10_000);
    expect((await request(port, 'PUT', '/kv/alpha', { body: value })).status).toBe(201);
    expect((await request(port, 'PUT', '/kv/beta.2', { body: 'two' })).status).toBe(201);
    expect((await request(port, 'PUT', '/kv/bad key', { body: 'x' })).status).toBe(400);
    expect((await request(port, 'GET', '/kv/alpha')).body.equals(value)).toBe(true);
    expect((await request(port, 'GET', '/kv/missing')).status).toBe(404);
    expect(JSON.parse(text(await request(port, 'GET', '/kv')))).toEqual(['alpha', 'beta.2']);
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
    expect(s.all('persisted')).toMatchObject([{ records: 2 }]);

    const again = await launch({ runDir: s.runDir });
    expect(again.all('recovery')).toMatchObject([{ mode: 'clean', records: 2, truncatedBytes: 0 }]);
    expect((await request(again.ports.http, 'GET', '/kv/alpha')).body.equals(value)).toBe(true);
  });

  it('an acknowledged write survives SIGKILL (the next start scans the log)', async () => {
    const s = await launch();
    expect((await request(s.ports.http, 'PUT', '/kv/survivor', { body: 'still here' })).status).toBe(201);
    process.kill(s.pid, 'SIGKILL');
    expect(await s.waitExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const again = await launch({ runDir: s.runDir });
    expect(again.all('recovery')).toMatchObject([{ mode: 'scan', records: 1 }]);
    expect(text(await request(again.ports.http, 'GET', '/kv/survivor'))).toBe('still here');
  });
});
