/**
 * Counts that do not race (RELOAD.NO_LEAKS): a subject that opens 4 more fds shortly after it said ready
 * (like a worker thread coming online late; here 100 ms after the test's trigger). A single reading at
 * readiness misses them, so a later one would report growth that is no leak; the settled reading waits
 * until the count stops changing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { History } from '../../harness/src/history.js';
import { launch, loadManifest } from '../../harness/src/launch/index.js';
import { fdAndThreadCounts, settle } from '../../harness/src/launch/settle.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'sigcert-settle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(process.platform !== 'linux')('settled counts', () => {
  it('wait for a late-opening subject: the settled count is the final one, a reading at readiness is not', async () => {
    const s = await launch({
      manifest: loadManifest(join(FIXTURES, 'late-fds.json')),
      runDir: join(root, 'run'),
      history: new History(),
    });
    try {
      const atReady = fdAndThreadCounts(s.pid)!; // what the case used to take
      // the trigger: 100 ms after this connection the subject opens 4 more fds
      await new Promise<void>((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port: s.ports.http! }, () => resolve());
        c.on('error', reject);
        c.on('close', () => c.destroy());
      });
      const settled = await s.settledCounts();
      const late = await s.waitProbe((e) => e.ev === 'late-open', 5_000, 'late-open');
      expect(settled.stable).toBe(true);
      expect(late.fds).toBeGreaterThan(0);
      expect(settled.value?.fds).toBe(fdAndThreadCounts(s.pid)?.fds); // the count after the late fds opened
      expect(settled.value?.fds).toBe(atReady.fds + 4); // the single early reading was 4 short
      expect(settled.value?.procs).toBe(1);
      expect(settled.samples).toBeGreaterThanOrEqual(8);
    } finally {
      await s.teardown();
    }
  });

  it('reports a value that never settles as unstable, at its deadline', async () => {
    let n = 0;
    const r = await settle(() => n++, { samples: 3, intervalMs: 10, withinMs: 200 });
    expect(r.stable).toBe(false);
    expect(r.value).toBe(n - 1);
    const same = await settle(() => 7, { samples: 3, intervalMs: 10, withinMs: 1000 });
    expect(same).toMatchObject({ value: 7, stable: true, samples: 3 });
  });
});
