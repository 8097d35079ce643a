/**
 * A certificate reload asked for by a thread, with no signal (edge cases E23, E25): `POST /cert`
 * hands the pair to a certificate thread, which checks it and posts a bus request carrying the TLS
 * material; the reload that follows serves the new pair to new handshakes while an open connection
 * keeps the old one. In one process and in the supervised mode (where the thread runs in a worker
 * process and its request travels to the supervisor's bus over IPC).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection, request } from './helpers/raw-http.js';
import { POSIX, Subject } from './helpers/subject.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function makeCert(dir: string, name: string): void {
  const args = 'req -x509 -newkey rsa:2048 -nodes -days 2'.split(' ');
  const files = ['-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)];
  execFileSync('openssl', [...args, '-subj', `/CN=${name}`, ...files], { stdio: 'ignore' });
}

const subjects: Subject[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(subjects.splice(0).map((s) => s.dispose()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function postCert(port: number, cert: string, key: string) {
  const r = await request(port, 'POST', '/cert', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ cert, key }),
  });
  return { status: r.status, body: JSON.parse(r.body.toString()) as Record<string, unknown> };
}

const MODES: Array<{ mode: string; env: Record<string, string> }> = [
  { mode: 'one process', env: {} },
  { mode: 'supervised (--workers 2)', env: { SIGCERT_WORKERS: '2' } },
];

describe.runIf(POSIX && hasOpenssl()).each(MODES)('thread-initiated certificate reload: $mode', ({ env }) => {
  it('new handshakes get the installed pair, an open connection keeps its own, a bad pair changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigcert-cert-'));
    dirs.push(dir);
    for (const name of ['gen-a', 'gen-b', 'gen-c']) makeCert(dir, name);
    const s = await Subject.start({
      runDir: dir,
      tls: true,
      env,
      config: { generation: 1, tls: { cert: 'gen-a.crt', key: 'gen-a.key' } },
    });
    subjects.push(s);
    const tlsPort = s.ports.tls!;
    const old = await RawConnection.openTls(tlsPort);
    expect(old.peerCommonName()).toBe('gen-a');
    old.send('GET', '/live');
    expect((await old.response()).status).toBe(200);

    // a mismatched pair: the thread refuses it, nothing is asked of the bus
    const bad = await postCert(s.ports.http, 'gen-a.crt', 'gen-b.key');
    expect(bad.status).toBe(422);
    expect(s.all('request')).toEqual([]);

    // gen-b (paths relative to the configuration file's folder)
    const from = s.events.length;
    const good = await postCert(s.ports.http, 'gen-b.crt', join(dir, 'gen-b.key'));
    expect(good).toEqual({ status: 202, body: { status: 'accepted', subject: 'CN=gen-b' } });
    const req = await s.waitFor((e) => e.ev === 'request', 5000, from);
    expect(req).toMatchObject({ action: 'reload', source: 'thread', pid: s.pid });
    const done = await s.waitFor((e) => e.ev === 'reload-done' || e.ev === 'reload-failed', 5000, from);
    expect(done).toMatchObject({ ev: 'reload-done', generation: 1 });
    expect(s.all('signal')).toEqual([]); // no signal was involved

    const fresh = await RawConnection.openTls(tlsPort);
    expect(fresh.peerCommonName()).toBe('gen-b');
    fresh.close();
    old.send('GET', '/live');
    expect((await old.response()).status).toBe(200);
    expect(old.peerCommonName()).toBe('gen-a');

    // the installed pair survives a SIGHUP reload while the file names the same paths...
    s.writeConfig({ generation: 2, tls: { cert: 'gen-a.crt', key: 'gen-a.key' } });
    const from2 = s.events.length;
    s.kill('SIGHUP');
    await s.waitFor((e) => e.ev === 'reload-done' && e.generation === 2, 5000, from2);
    const still = await RawConnection.openTls(tlsPort);
    expect(still.peerCommonName()).toBe('gen-b');
    still.close();

    // ...and the file's pair wins again once the file names other paths
    s.writeConfig({ generation: 3, tls: { cert: 'gen-c.crt', key: 'gen-c.key' } });
    const from3 = s.events.length;
    s.kill('SIGHUP');
    await s.waitFor((e) => e.ev === 'reload-done' && e.generation === 3, 5000, from3);
    const c = await RawConnection.openTls(tlsPort);
    expect(c.peerCommonName()).toBe('gen-c');
    c.close();

    old.close();
    s.kill('SIGTERM');
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });
});
