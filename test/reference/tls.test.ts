/**
 * TLS certificate reload (edge case E23): after SIGHUP with a new certificate in the
 * configuration, new handshakes get the new certificate and an open connection keeps the old
 * one; a certificate/key pair that does not match is rejected and changes nothing.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection } from './helpers/raw-http.js';
import { POSIX, Subject } from './helpers/subject.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate `name.crt` / `name.key` with CN=name, in `dir` (RSA: LibreSSL has it too). */
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

describe.runIf(POSIX)('TLS certificate reload', () => {
  it.skipIf(!hasOpenssl())('new handshakes get the new certificate; an open connection keeps its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigcert-tls-'));
    dirs.push(dir);
    for (const name of ['gen-a', 'gen-b']) makeCert(dir, name);

    const s = await Subject.start({
      runDir: dir,
      tls: true,
      config: { generation: 1, tls: { cert: 'gen-a.crt', key: 'gen-a.key' } },
    });
    subjects.push(s);
    const tlsPort = s.ports.tls!;
    expect(s.all('listening').map((e) => e.name)).toEqual(expect.arrayContaining(['http', 'tls']));

    const old = await RawConnection.openTls(tlsPort);
    expect(old.peerCommonName()).toBe('gen-a');
    old.send('GET', '/live');
    expect((await old.response()).headers.connection).toBe('keep-alive');

    s.writeConfig({ generation: 2, tls: { cert: 'gen-b.crt', key: 'gen-b.key' } });
    s.kill('SIGHUP');
    await s.waitFor((e) => e.ev === 'reload-done' && e.generation === 2);

    const fresh = await RawConnection.openTls(tlsPort);
    expect(fresh.peerCommonName()).toBe('gen-b');
    fresh.close();
    old.send('GET', '/config');
    expect(JSON.parse((await old.response()).body.toString())).toEqual({ generation: 2 });
    expect(old.peerCommonName()).toBe('gen-a');

    // A mismatched pair (gen-a's certificate with gen-b's key) is rejected as a whole.
    copyFileSync(join(dir, 'gen-a.crt'), join(dir, 'mixed.crt'));
    s.writeConfig({ generation: 3, tls: { cert: 'mixed.crt', key: 'gen-b.key' } });
    const from = s.events.length;
    s.kill('SIGHUP');
    await s.waitFor('reload-failed', 10_000, from);
    const after = await RawConnection.openTls(tlsPort);
    expect(after.peerCommonName()).toBe('gen-b');
    after.close();

    s.kill('SIGTERM');
    await s.waitFor('stop-accepting');
    expect(await old.ended).toBe('fin'); // idle TLS keep-alive: close_notify + FIN, no reset
    expect(await s.waitExit()).toEqual({ code: 0, signal: null });
  });
});
