/**
 * A certificate installed by a thread (`ConfigStore.installCertificate`), in-process with real files:
 * it is served from the next reload on, stays while the file names the same `tls` paths, gives way
 * when the file names others, waits through a failed reload; swap listeners finish before
 * `reload-done`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigStore } from '../../reference/src/config.js';
import type { Probe, ProbeFields } from '../../reference/src/probe.js';
import { MemoryLogger } from './helpers/fakes.js';
import { writeJsonAtomic } from './helpers/subject.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

class RecordingProbe implements Probe {
  readonly enabled = true;
  readonly events: Array<{ ev: string } & ProbeFields> = [];
  emit(ev: string, fields?: ProbeFields): void {
    this.events.push({ ev, ...fields });
  }
  emitAt(_t: bigint, ev: string, fields?: ProbeFields): void {
    this.emit(ev, fields);
  }
  flushSync(): void {}
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sigcert-install-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeCert(name: string) {
  const args = 'req -x509 -newkey rsa:2048 -nodes -days 2'.split(' ');
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  execFileSync('openssl', [...args, '-subj', `/CN=${name}`, '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

describe.runIf(hasOpenssl())('ConfigStore: an installed certificate', () => {
  it('is served from the next reload on, for as long as the file names the same tls paths', async () => {
    const a = makeCert('a');
    const b = makeCert('b');
    const c = makeCert('c');
    const file = join(dir, 'config.json');
    writeJsonAtomic(file, { generation: 1, tls: { cert: 'a.crt', key: 'a.key' } });
    const probe = new RecordingProbe();
    const config = new ConfigStore({ path: file, loadTls: true, probe, log: new MemoryLogger() });
    await config.loadInitial();
    expect(config.current.tls?.certPath).toBe(a.certPath);

    config.installCertificate(b);
    expect(config.current.tls?.certPath).toBe(a.certPath); // waits for a reload
    await config.reload();
    expect(config.current.tls).toMatchObject({ certPath: b.certPath, source: 'installed' });

    writeJsonAtomic(file, { generation: 2, tls: { cert: 'a.crt', key: 'a.key' } });
    await config.reload();
    expect(config.current).toMatchObject({ generation: 2, tls: { certPath: b.certPath } });

    writeJsonAtomic(file, { generation: 3, tls: { cert: 'c.crt', key: 'c.key' } });
    await config.reload();
    expect(config.current).toMatchObject({ generation: 3, tls: { certPath: c.certPath } });
  });

  it('waits through a failed reload, and swap listeners finish before reload-done', async () => {
    const a = makeCert('a');
    const b = makeCert('b');
    const file = join(dir, 'config.json');
    writeJsonAtomic(file, { generation: 1, tls: { cert: a.certPath, key: a.keyPath } });
    const probe = new RecordingProbe();
    const config = new ConfigStore({ path: file, loadTls: true, probe, log: new MemoryLogger() });
    const order: string[] = [];
    config.onSwap(async (next) => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`applied ${next.generation}`);
    });
    await config.loadInitial();
    config.installCertificate(b);
    writeJsonAtomic(file, { generation: 2, tls: { cert: 'missing.crt', key: a.keyPath } });
    await expect(config.reload()).rejects.toThrow(/cannot read the TLS certificate/);
    expect(config.current.tls?.certPath).toBe(a.certPath);

    writeJsonAtomic(file, { generation: 3, tls: { cert: a.certPath, key: a.keyPath } });
    const done = config.reload().then(() => order.push('reload resolved'));
    await done;
    expect(config.current).toMatchObject({ generation: 3, tls: { certPath: b.certPath } });
    expect(order).toEqual(['applied 3', 'reload resolved']);
    const evs = probe.events.map((e) => e.ev);
    expect(evs.slice(-2)).toEqual(['reload-begin', 'reload-done']);
  });
});
