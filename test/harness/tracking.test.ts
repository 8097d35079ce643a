/**
 * Descendant tracking against a subject whose grandchild escapes the run marker and the session
 * (`setsid env -i ...`). With a cgroup per launch it is found, recorded as an orphan and ended; with the
 * marker alone it is not seen, and the history says that escapes were not visible.
 *
 * Every escapee a test provokes is ended by the test itself, by its pid, after checking that the process
 * is still the one it started (its command line carries `escapee-<run id>`), also when an assertion fails.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { History } from '../../harness/src/history.js';
import { type LaunchOptions, launch, liveCount, loadManifest, type Subject } from '../../harness/src/launch/index.js';
import { availableTracking } from '../../harness/src/launch/tracking.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const LINUX = process.platform === 'linux';
const CGROUP = LINUX && availableTracking('auto').mechanism === 'cgroup';

let root: string;
let n = 0;
const started: Subject[] = [];
const escapees: { pid: number; tag: string }[] = [];

function stat(pid: number): { state: string; sid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] ?? '?', sid: Number(f[3]) };
  } catch {
    return null;
  }
}

/** Alive and still the process we provoked (a reaped pid may have been reused). */
function aliveEscapee(e: { pid: number; tag: string }): boolean {
  const st = stat(e.pid);
  if (st === null || st.state === 'Z' || st.state === 'X') return false;
  try {
    return readFileSync(`/proc/${e.pid}/cmdline`, 'utf8').includes(e.tag);
  } catch {
    return false;
  }
}

async function start(extra: Partial<LaunchOptions> = {}): Promise<{ subject: Subject; history: History }> {
  const history = new History();
  n += 1;
  const subject = await launch({
    manifest: loadManifest(join(FIXTURES, 'escape-env-clear.json')),
    runDir: join(root, `run-${n}`),
    history,
    ...extra,
  });
  started.push(subject);
  return { subject, history };
}

/** Wait for the subject's ready event, and remember the escapee so that it is ended whatever happens. */
async function escapee(subject: Subject): Promise<{ pid: number; tag: string }> {
  const ready = await subject.waitProbe((e) => e.ev === 'ready', 10_000, 'ready');
  const e = { pid: Number(ready.grandchild), tag: String(ready.tag) };
  escapees.push(e);
  return e;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sigcert-tracking-'));
});

afterEach(async () => {
  for (const s of started.splice(0)) await s.teardown();
  for (const e of escapees.splice(0)) {
    if (aliveEscapee(e)) process.kill(e.pid, 'SIGKILL');
  }
  expect(liveCount()).toBe(0);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!LINUX)('descendant tracking', () => {
  it('the escape is real: the grandchild has neither the run marker nor the subject session', async () => {
    const { subject } = await start();
    const e = await escapee(subject);
    expect(aliveEscapee(e)).toBe(true);
    expect(readFileSync(`/proc/${e.pid}/environ`, 'latin1')).not.toContain('SIGCERT_RUN_ID');
    expect(stat(e.pid)?.sid).toBe(e.pid);
    expect(stat(e.pid)?.sid).not.toBe(subject.pid);
  });

  it.skipIf(!CGROUP)(
    'cgroup: finds, records and ends a grandchild that called setsid and cleared its environment',
    async () => {
      const { subject, history } = await start();
      const e = await escapee(subject);
      const tracking = history.events.filter((ev) => ev.kind === 'tracking');
      expect(tracking).toHaveLength(1);
      expect(tracking[0]?.source).toBe('harness');
      expect(tracking[0]?.data).toMatchObject({ mechanism: 'cgroup', escapesVisible: true });
      const cgroup = String(tracking[0]?.data.cgroup);
      expect(existsSync(cgroup)).toBe(true);

      expect((await subject.descendants()).map((p) => p.pid)).toContain(e.pid);

      const report = await subject.teardown();
      expect(subject.exited?.code).toBe(0); // the subject itself stopped on SIGTERM
      expect(report.orphans.map((p) => p.pid)).toContain(e.pid);
      expect(report.orphans.find((p) => p.pid === e.pid)?.cmdline).toContain(e.tag);
      expect(report.killed).toBe(true);
      expect(report.leftover).toEqual([]);
      expect(aliveEscapee(e)).toBe(false);
      expect(await subject.descendants()).toEqual([]);
      expect(existsSync(cgroup)).toBe(false); // the launch's cgroup is removed
      const td = history.events.find((ev) => ev.kind === 'teardown');
      expect(((td?.data.orphans ?? []) as { pid: number }[]).map((p) => p.pid)).toContain(e.pid);
    },
  );

  it('marker: the escapee is not seen, and the history says escapes were not visible', async () => {
    const { subject, history } = await start({ tracking: 'marker' });
    const e = await escapee(subject);
    const tracking = history.events.find((ev) => ev.kind === 'tracking');
    expect(tracking?.data).toMatchObject({ mechanism: 'marker', escapesVisible: false });
    expect(String(tracking?.data.reason)).toContain('setsid and clears its environment');
    expect((await subject.descendants()).map((p) => p.pid)).not.toContain(e.pid);
    const report = await subject.teardown();
    // invisible, so not reported: exactly why the graders must say "not tested" here, never "pass"
    expect(report.orphans.map((p) => p.pid)).not.toContain(e.pid);
    expect(aliveEscapee(e)).toBe(true); // afterEach ends it by pid
  });

  it.skipIf(!CGROUP)('cgroup: a subject SIGKILLed by the exit hook path leaves nothing (killNowSync)', async () => {
    const { subject } = await start();
    const e = await escapee(subject);
    subject.killNowSync();
    const exit = await subject.waitExit(5_000);
    expect(exit.signal).toBe('SIGKILL');
    const deadline = Date.now() + 5_000;
    while (aliveEscapee(e) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20)); // bounded poll
    expect(aliveEscapee(e)).toBe(false);
  });
});
