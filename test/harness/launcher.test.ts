/**
 * The launcher against real processes: every bad input gives a one-line error, and after every test no
 * process carrying one of this test process's run markers is left (Linux: checked by scanning /proc here,
 * independently of the launcher's own scan).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { History } from '../../harness/src/history.js';
import {
  ADDRESS_IN_USE,
  allocatePorts,
  canDeliver,
  DEFAULT_EXIT_CODES,
  descendantScanSupported,
  LaunchError,
  type LaunchOptions,
  launch,
  listDeliverableSignals,
  liveCount,
  loadManifest,
  ManifestError,
  parseManifest,
  repoRoot,
  type Subject,
  SubjectExitedError,
  teardownAll,
  undeliverableReason,
  WaitTimeoutError,
} from '../../harness/src/launch/index.js';
import { DEFAULT_SIGNAL_MAP } from '../../harness/src/types.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);
const POSIX = process.platform !== 'win32';
const LINUX = process.platform === 'linux';
const SCAN_SKIP_REASON =
  'the leftover check scans /proc/*/environ, which only Linux has (macOS relies on the launcher’s ps scan)';

let root: string;
let n = 0;
const started: Subject[] = [];

/** A fresh run directory per launch. */
function runDir(): string {
  n += 1;
  return join(root, `run-${n}`);
}

async function start(
  file: string,
  extra: Partial<LaunchOptions> = {},
): Promise<{ subject: Subject; history: History }> {
  const history = new History();
  const subject = await launch({ manifest: loadManifest(fixture(file)), runDir: runDir(), history, ...extra });
  started.push(subject);
  return { subject, history };
}

/** What this test process launched and is still alive, by marker, straight from /proc (zombies excluded). */
function leftovers(markerPrefix = `SIGCERT_RUN_ID=sc-${process.pid}-`): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      if (!env.some((kv) => kv.startsWith(markerPrefix))) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // vanished or not ours
    }
  }
  return out;
}

/** A protocol placeholder, `${name}`, spelled without tripping the template-string lint. */
const ph = (name: string) => '$' + '{' + name + '}';

function expectOneLine(message: string, ...mustContain: string[]): void {
  expect(message).not.toMatch(/[\r\n]/);
  for (const s of mustContain) expect(message).toContain(s);
}

async function launchError(file: string, extra: Partial<LaunchOptions> = {}): Promise<LaunchError> {
  const err = await start(file, extra).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LaunchError);
  return err as LaunchError;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sigcert-launcher-'));
});

afterEach(async (ctx) => {
  for (const s of started.splice(0)) await s.teardown();
  expect(liveCount()).toBe(0);
  if (!LINUX) {
    ctx.annotate?.(`leftover scan skipped: ${SCAN_SKIP_REASON}`);
    return;
  }
  expect(leftovers()).toEqual([]);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('loadManifest', () => {
  it('names the file for a missing manifest', () => {
    const file = join(root, 'nope', 'manifest.json');
    expect(() => loadManifest(file)).toThrow(ManifestError);
    try {
      loadManifest(file);
    } catch (e) {
      expect((e as Error).message).toBe(`${file}: file not found`);
    }
  });

  it('gives line and column for invalid JSON', () => {
    const file = join(root, 'bad.json');
    writeFileSync(file, '{\n  "protocol": "1",\n  "name": "x",,\n  "command": "node"\n}\n');
    const err = (() => {
      try {
        loadManifest(file);
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ManifestError);
    expectOneLine(err!.message, `${file}: invalid JSON at line 3 column`);
  });

  it('names an unknown field by its JSON pointer', () => {
    const file = fixture('unknown-field.json');
    expect(() => loadManifest(file)).toThrow(`${file}: /capabilities/relaod: unknown field`);
  });

  it.each([
    [{ gracePeriodMs: '5000' }, '/gracePeriodMs: must be integer'],
    [{ exitCodes: { graceful: 'sig' } }, '/exitCodes/graceful: must be an integer 0..255 or "signal"'],
    [{ protocol: '2' }, '/protocol: must be "1"'],
    [{ command: undefined }, '/command: required field missing'],
    [{ signals: { SIGTERM: 'stopp' } }, '/signals/SIGTERM: must be one of "stop"'],
    [{ signals: { TERM: 'stop' } }, '/signals/TERM: invalid name'],
    [{ readiness: { kind: 'tcp', port: 'admin' } }, '/readiness/port: unknown port "admin" (ports: http)'],
    [{ readiness: { kind: 'probe' } }, '/readiness/kind: probe readiness needs capabilities.probe'],
    [{ args: [`--port=${ph('port.admn')}`] }, `/args/0: unknown port in placeholder ${ph('port.admn')}`],
    [{ args: [ph('rundir')] }, `/args/0: unknown placeholder ${ph('rundir')}`],
    [{ env: { SIGCERT_RUN_ID: 'x' } }, '/env/SIGCERT_RUN_ID: reserved name'],
    [{ preDrainDelayMs: 100 }, '/preDrainDelayMs: needs capabilities.preDrainDelay'],
  ])('rejects %j', (patch, expected) => {
    const json = { protocol: '1', name: 'x', command: 'node', ...patch };
    expect(() => parseManifest(json, 'subjects/x/manifest.json')).toThrow(`subjects/x/manifest.json: ${expected}`);
    try {
      parseManifest(json, 'subjects/x/manifest.json');
    } catch (e) {
      expectOneLine((e as Error).message);
    }
  });

  it('applies the protocol defaults and resolves paths against the manifest folder', () => {
    const m = loadManifest(fixture('coop.json'));
    expect(m.cwd).toBe(FIXTURES.replace(/[\\/]$/, ''));
    expect(m.dir).toBe(m.cwd);
    expect(m.file).toBe(fixture('coop.json'));
    expect(m.readiness).toEqual({ kind: 'probe', port: 'http', path: '/ready', timeoutMs: 10_000 });
    expect(m.signals).toEqual(DEFAULT_SIGNAL_MAP);
    expect(m.signalsRepeat).toEqual({ SIGINT: 'fast-stop' });
    expect(m.exitCodes).toEqual({ ...DEFAULT_EXIT_CODES, deadline: 7 });
    expect(m.platforms).toEqual(['linux', 'darwin', 'win32']);
    expect(m.preDrainDelayMs).toBe(0);

    const bare = parseManifest(
      { protocol: '1', name: 'bare', command: './bin/server' },
      join(root, 'm', 'manifest.json'),
    );
    expect(bare.command).toBe(join(root, 'm', 'bin', 'server'));
    expect(bare.ports).toEqual(['http']);
    expect(bare.args).toEqual([]);
    expect(bare.env).toEqual({});
    expect(bare.gracePeriodMs).toBe(5000);
    expect(bare.readiness).toEqual({ kind: 'tcp', port: 'http', path: '/ready', timeoutMs: 10_000 });
  });

  it('finds the schema from the repository root', () => {
    expect(existsSync(join(repoRoot(), 'spec', 'schema', 'manifest.schema.json'))).toBe(true);
  });
});

describe('a launch that lost its port', () => {
  it('is recognised in what Node, Python, Go, Rust, nginx and Windows print, and nothing else is', () => {
    const taken = [
      'Error: listen EADDRINUSE: address already in use 127.0.0.1:4000\n    at Server.setupListenHandle [as _listen2] (node:net:1817:16)\nNode.js v20.20.2',
      'OSError: [Errno 98] Address already in use',
      'OSError: [Errno 48] Address already in use',
      'listen tcp 127.0.0.1:4000: bind: address already in use',
      'Error: Os { code: 98, kind: AddrInUse, message: "Address already in use" } (os error 98)',
      'nginx: [emerg] bind() to 127.0.0.1:4000 failed (98: Address in use)',
      'error: listen tcp 127.0.0.1:4000: bind: Only one usage of each socket address is normally permitted (WSAEADDRINUSE 10048)',
    ];
    for (const text of taken) expect(ADDRESS_IN_USE.test(text), text).toBe(true);
    const other = [
      'Error: EACCES: permission denied, open state/kv.lock',
      'the store is locked (kv.lock exists)',
      'exit 1',
    ];
    for (const text of other) expect(ADDRESS_IN_USE.test(text), text).toBe(false);
  });
  it('is flagged on the LaunchError from the whole recent output, not only its last line', () => {
    const e = new LaunchError('exited', 'x exited before it was ready (exit 1); last stderr line: Node.js v20.20.2', {
      stderrTail: 'Node.js v20.20.2',
      output: 'Error: listen EADDRINUSE: address already in use 127.0.0.1:4000\n\nNode.js v20.20.2',
    });
    expect(e.addressInUse).toBe(true);
    expect(new LaunchError('exited', 'x exited (exit 1)', { stderrTail: 'Node.js v20.20.2' }).addressInUse).toBe(false);
  });
});

describe('ports and signals', () => {
  it('allocates distinct loopback ports', async () => {
    const ports = await allocatePorts(['http', 'admin', 'tls']);
    expect(Object.keys(ports)).toEqual(['http', 'admin', 'tls']);
    expect(new Set(Object.values(ports)).size).toBe(3);
    for (const p of Object.values(ports)) expect(p).toBeGreaterThan(0);
  });

  it('knows what each platform can deliver', () => {
    expect(canDeliver('SIGHUP', 'win32')).toBe(false);
    expect(canDeliver('SIGTERM', 'win32')).toBe(true);
    expect(canDeliver('SIGHUP', 'linux')).toBe(true);
    expect(canDeliver('SIGINFO', 'linux')).toBe(false);
    expect(canDeliver('SIGBREAK', 'linux')).toBe(false);
    expect(undeliverableReason('SIGHUP', { platform: 'win32' })).toBe('SIGHUP cannot be delivered on win32');
    expect(undeliverableReason('SIGINT', { platform: 'win32', group: true })).toBe(
      'process-group signals cannot be delivered on win32',
    );
    const here = listDeliverableSignals();
    expect(here.find((s) => s.name === 'SIGKILL')?.handlerRuns).toBe(false);
    if (POSIX) expect(here.find((s) => s.name === 'SIGTERM')?.handlerRuns).toBe(true);
    expect(listDeliverableSignals('win32').every((s) => !s.handlerRuns)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(!POSIX)('launch failures', () => {
  it('reports a command that does not exist', async () => {
    const err = await launchError('not-found.json');
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe('command not found: sigcert-no-such-command-7f3a');
  });

  it('reports a subject that exits at once, with its status and last stderr line', async () => {
    const err = await launchError('exits-at-once.json');
    expect(err.kind).toBe('exited');
    expectOneLine(err.message, 'exits-at-once exited before it was ready (exit 2)', 'boom: missing config file');
    expect(err.exit?.code).toBe(2);
  });

  it('reports a subject that never becomes ready', async () => {
    const err = await launchError('never-ready.json');
    expect(err.kind).toBe('not-ready');
    expect(err.message).toBe('never-ready not ready after 300 ms (readiness: tcp)');
  });

  it('reports a failing setup command', async () => {
    const err = await launchError('setup-fails.json');
    expect(err.kind).toBe('setup-failed');
    expectOneLine(err.message, 'setup-fails: setup command', 'ended (exit 3)', 'config check failed');
  });

  it('reports a readiness override', async () => {
    const err = await launchError('never-ready.json', { readyTimeoutMs: 150 });
    expect(err.message).toBe('never-ready not ready after 150 ms (readiness: tcp)');
  });
});

describe.skipIf(!POSIX)('teardown', () => {
  it('SIGKILLs a subject that ignores SIGTERM', async () => {
    const { subject, history } = await start('ignores-term.json');
    const report = await subject.teardown();
    expect(report.killed).toBe(true);
    expect(report.orphans).toEqual([]);
    expect(subject.exited?.signal).toBe('SIGKILL');
    const sent = history.events.filter((e) => e.kind === 'teardown-signal').map((e) => e.data.sig);
    expect(sent).toEqual(['SIGTERM', 'SIGKILL']);
    expect(await subject.teardown()).toBe(report); // idempotent
  });

  it.skipIf(!descendantScanSupported())('finds and kills a grandchild that left the group with setsid', async () => {
    const { subject } = await start('setsid-grandchild.json');
    const ready = await subject.waitProbe((e) => e.ev === 'ready', 5000, 'ready');
    const gc = Number(ready.grandchild);
    const live = await subject.descendants();
    expect(live.map((p) => p.pid).sort()).toEqual([subject.pid, gc].sort());
    expect(live.find((p) => p.pid === gc)?.pgid).not.toBe(subject.pid);

    const report = await subject.teardown();
    expect(subject.exited?.code).toBe(0); // the subject itself stopped on SIGTERM
    expect(report.orphans.map((p) => p.pid)).toEqual([gc]);
    expect(report.killed).toBe(true);
    expect(report.leftover).toEqual([]);
    expect(await subject.descendants()).toEqual([]);
  });

  it('is not blocked by a subject that floods stdout, and keeps only the first and last N bytes', async () => {
    const keep = 1024 * 1024;
    const { subject, history } = await start('flood.json', { logKeepBytes: keep });
    const report = await subject.teardown();
    expect(report).toEqual({ orphans: [], killed: false, leftover: [] });
    expect(subject.exited?.signal).toBe('SIGTERM');
    // 10 MiB before it listened, more until it stopped: all but the first and the last MiB omitted
    const cut = history.events.filter((e) => e.kind === 'log-truncated').map((e) => e.data);
    expect(cut.map((c) => c.stream)).toEqual(['stdout']); // stderr: exactly 1 MiB, kept whole
    const out = cut.find((c) => c.stream === 'stdout')!;
    expect(out).toMatchObject({ path: subject.stdoutPath, keptBytes: 2 * keep, keepBytes: keep });
    expect(Number(out.totalBytes)).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    expect(Number(out.omittedBytes)).toBe(Number(out.totalBytes) - 2 * keep);
    const text = readFileSync(subject.stdoutPath, 'latin1');
    const marker = `\n[sigcert: ${out.omittedBytes} bytes omitted; this log keeps the first and the last 1 MiB of the stream]\n`;
    expect(text.length).toBe(2 * keep + marker.length);
    expect(text.indexOf(marker)).toBe(keep);
    expect(/^x+$/m.test(text.slice(0, 100))).toBe(true);
  });

  it('keeps a short log whole, with no truncation event', async () => {
    const { subject, history } = await start('holds-stdout.json');
    await subject.teardown();
    expect(history.events.some((e) => e.kind === 'log-truncated')).toBe(false);
    expect(readFileSync(subject.stdoutPath, 'utf8')).toMatch(/^grandchild \d+/);
  });

  it.skipIf(!descendantScanSupported())(
    'does not hang when a grandchild holds stdout and the probe channel',
    async () => {
      const { subject } = await start('holds-stdout.json');
      const ready = subject.probeEvents.find((e) => e.ev === 'ready');
      expect(ready?.tFromHarness).toBe(true); // no "t" in the event: stamped on receipt
      const t0 = Date.now();
      const report = await subject.teardown();
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(report.orphans.map((p) => p.pid)).toEqual([Number(ready?.grandchild)]);
      expect(report.killed).toBe(true);
      expect(readFileSync(subject.stdoutPath, 'utf8')).toMatch(/^grandchild \d+/);
    },
  );

  it('tears every live subject down with teardownAll()', async () => {
    await start('coop.json');
    await start('coop-http.json');
    expect(liveCount()).toBe(2);
    await teardownAll();
    expect(liveCount()).toBe(0);
    for (const s of started) expect(s.exited?.code).toBe(0);
  });

  it.skipIf(!LINUX)('cleans up on SIGINT to the harness (installInterruptHandler), exit 130', async () => {
    const dir = runDir();
    const harness = spawn(process.execPath, ['--import', 'tsx', fixture('interrupt-harness.ts'), dir], {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolveLine, reject) => {
        let buf = '';
        let err = '';
        harness.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('\n')) resolveLine(buf.slice(0, buf.indexOf('\n')));
        });
        harness.stderr.on('data', (c: Buffer) => {
          err += c.toString();
        });
        harness.once('exit', (code) => reject(new Error(`harness exited ${code}: ${err}`)));
      });
      const info = JSON.parse(line) as { runId: string; pid: number; grandchild: number };
      expect(leftovers(`SIGCERT_RUN_ID=${info.runId}`).length).toBe(2);
      const exited = new Promise<number | null>((r) => harness.once('exit', (code) => r(code)));
      harness.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(leftovers(`SIGCERT_RUN_ID=${info.runId}`)).toEqual([]);
    } finally {
      if (harness.exitCode === null && harness.signalCode === null) harness.kill('SIGKILL');
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(!POSIX)('a cooperative subject', () => {
  it('hands over ports, paths and placeholders; records probe events, signal and exit', async () => {
    const { subject, history } = await start('coop.json', { env: { SIGCERT_PREDRAIN_MS: '250' } });
    const ready = await subject.waitProbe((e) => e.ev === 'ready', 5000, 'ready');
    expect(ready.pid).toBe(subject.pid);

    // hand-over
    const hello = await subject.waitProbe((e) => e.ev === 'hello', 1000, 'hello');
    const env = hello.env as Record<string, string>;
    expect(hello.argv).toEqual([
      `--port=${subject.ports.http}`,
      `--token=${subject.token}`,
      `--state=${subject.stateDir}`,
    ]);
    expect(hello.cwd).toBe(subject.manifest.dir);
    expect(env).toMatchObject({
      SIGCERT_RUN_ID: subject.runId,
      SIGCERT_PORT_HTTP: String(subject.ports.http),
      SIGCERT_PORT_ADMIN: String(subject.ports.admin),
      SIGCERT_HOST: '127.0.0.1',
      SIGCERT_STATE_DIR: subject.stateDir,
      SIGCERT_CONFIG: subject.configPath,
      SIGCERT_PROBE_FD: '3',
      SIGCERT_CONFORMANCE: '1',
      SIGCERT_GRACE_MS: '2000',
      SIGCERT_PREDRAIN_MS: '250',
      SIGCERT_FIFO: subject.fifoPath,
      SIGCERT_CONTROL_TOKEN: subject.token,
      SIGCERT_STARTUP_DELAY_MS: '0',
      COOP_RUNDIR: subject.runDir,
      COOP_CONFIG: subject.configPath,
      COOP_MANIFEST_DIR: subject.manifest.dir,
      COOP_FIFO: subject.fifoPath,
      COOP_ADMIN: String(subject.ports.admin),
    });
    expect(subject.token).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(subject.fifoPath!).isFIFO()).toBe(true);
    expect(JSON.parse(readFileSync(subject.configPath, 'utf8'))).toEqual({ generation: 1 });
    expect(subject.url('/ready')).toBe(`http://127.0.0.1:${subject.ports.http}/ready`);

    // probe stream: a malformed line is kept as evidence, a line split across writes is reassembled
    expect(history.events.filter((e) => e.kind === 'probe-garbage').map((e) => e.data.line)).toEqual([
      'this is not json',
    ]);
    expect(subject.probeEvents.map((e) => e.ev).slice(0, 2)).toEqual(['hello', 'handlers']);
    const probeInHistory = history.events.filter((e) => e.source === 'probe' && e.kind === 'probe');
    expect(probeInHistory.map((e) => e.ns)).toEqual(subject.probeEvents.map((e) => e.t));
    expect(probeInHistory.every((e) => e.launch === 0)).toBe(true);
    expect(history.events.filter((e) => e.kind === 'spawn')[0]?.data.pid).toBe(subject.pid);

    // signal: stamped just before kill(2), the subject's handler stamp comes after
    const sentNs = subject.signal('SIGTERM');
    const sent = history.events.find((e) => e.kind === 'signal-sent');
    expect(sent).toMatchObject({
      source: 'harness',
      ns: sentNs.toString(),
      data: { sig: 'SIGTERM', group: false, pid: subject.pid },
    });
    const handled = await subject.waitProbe((e) => e.ev === 'signal', 5000, 'the signal event');
    expect(BigInt(handled.t)).toBeGreaterThan(sentNs);

    const exit = await subject.waitExit(5000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(subject.exited).toBe(exit);
    expect(subject.probeEvents.some((e) => e.ev === 'exiting')).toBe(true);
    expect(history.events.find((e) => e.kind === 'exit')?.data).toMatchObject({ code: 0, signal: null });

    // never signal a reaped pid
    expect(() => subject.signal('SIGTERM')).toThrow(SubjectExitedError);
    expect(() => subject.signal('SIGTERM')).toThrow('coop: cannot send SIGTERM: the subject already exited (exit 0)');
    await expect(subject.waitProbe((e) => e.ev === 'never', 1000, 'a never event')).rejects.toThrow(
      'a never event: coop exited (exit 0) before it happened',
    );

    const report = await subject.teardown();
    expect(report).toEqual({ orphans: [], killed: false, leftover: [] });
    expect(existsSync(subject.fifoPath!)).toBe(false);
  });

  it('runs the subject under a wrapper command', async () => {
    // sh stays as the direct child (two commands, so no exec) and runs coop as its child
    const { subject, history } = await start('coop.json', { wrap: ['sh', '-c', '"$@"; exit $?', 'wrapper'] });
    const ready = await subject.waitProbe((e) => e.ev === 'ready', 5000, 'ready');
    expect(ready.pid).not.toBe(subject.pid);
    const inner = (await subject.descendants()).find((p) => p.pid === ready.pid);
    expect(inner?.ppid).toBe(subject.pid);
    expect(history.events.find((e) => e.kind === 'spawn')?.data).toMatchObject({
      command: 'node',
      wrap: ['sh', '-c', '"$@"; exit $?', 'wrapper'],
    });
  });

  it('reports a wrapper that does not exist', async () => {
    const err = await launchError('coop.json', { wrap: ['sigcert-no-such-wrapper'] });
    expect(err.message).toBe('command not found: sigcert-no-such-wrapper (the wrapper)');
  });

  it('signals the process group on request', async () => {
    const { subject, history } = await start('coop.json');
    subject.signal('SIGINT', { group: true });
    expect(history.events.find((e) => e.kind === 'signal-sent')?.data).toMatchObject({ sig: 'SIGINT', group: true });
    expect((await subject.waitProbe((e) => e.ev === 'signal', 5000, 'signal')).sig).toBe('SIGINT');
    expect((await subject.waitExit(5000)).code).toBe(0);
  });

  it('times out a wait with a one-line WaitTimeoutError', async () => {
    const { subject } = await start('coop.json');
    const err = await subject.waitProbe((e) => e.ev === 'nope', 100, 'the nope event').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe('coop: timed out after 100 ms waiting for the nope event');
    await expect(subject.waitExit(50)).rejects.toThrow('coop: still running after 50 ms (waiting for exit)');
  });

  it('waits for HTTP readiness, serves the config and rewrites it atomically', async () => {
    const { subject } = await start('coop-http.json', { config: { generation: 4, greeting: 'hi' } });
    expect(subject.fifoPath).not.toBeNull();
    expect(subject.probeEvents).toEqual([]);
    const res = await fetch(subject.url('/config'));
    expect(await res.json()).toEqual({ generation: 4, greeting: 'hi' });
    subject.writeConfig({ generation: 5 });
    expect(JSON.parse(readFileSync(subject.configPath, 'utf8'))).toEqual({ generation: 5 });
    subject.writeConfig('{ not json');
    expect(readFileSync(subject.configPath, 'utf8')).toBe('{ not json');
    expect(readdirSync(subject.runDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const report = await subject.teardown();
    expect(report.killed).toBe(false);
    expect(subject.exited?.code).toBe(0);
  });

  it('relaunches on the same ports and state directory', async () => {
    const first = await start('coop.json');
    await first.subject.teardown();
    const history = new History();
    const again = await launch({
      manifest: first.subject.manifest,
      runDir: first.subject.runDir,
      history,
      launchIndex: 1,
      ports: first.subject.ports,
      stateDir: first.subject.stateDir,
    });
    started.push(again);
    expect(again.ports).toEqual(first.subject.ports);
    expect(again.stateDir).toBe(first.subject.stateDir);
    expect(again.runId).not.toBe(first.subject.runId);
    expect(again.stdoutPath).toBe(join(first.subject.runDir, 'stdout.1.log'));
    expect(history.events.every((e) => e.launch === 1)).toBe(true);
  });

  it('keeps a given state directory, and empties the default one an earlier run left behind', async () => {
    const first = await start('coop.json');
    await first.subject.teardown();
    const left = join(first.subject.stateDir, 'store.log');
    writeFileSync(left, 'an earlier run');
    const reuse = await launch({
      manifest: first.subject.manifest,
      runDir: first.subject.runDir,
      history: new History(),
      launchIndex: 1,
      stateDir: first.subject.stateDir,
    });
    started.push(reuse);
    expect(readFileSync(left, 'utf8')).toBe('an earlier run');
    await reuse.teardown();
    // the same run directory again (`--out` used twice), no state directory given: a fresh store
    const fresh = await launch({
      manifest: first.subject.manifest,
      runDir: first.subject.runDir,
      history: new History(),
    });
    started.push(fresh);
    expect(fresh.stateDir).toBe(first.subject.stateDir);
    expect(existsSync(left)).toBe(false);
    expect(existsSync(fresh.stateDir)).toBe(true);
  });

  it('returns before readiness with waitReady: false, and rejects waits once the subject exits', async () => {
    const { subject } = await start('exits-at-once.json', { waitReady: false });
    await expect(subject.waitProbe(() => true, 5000, 'any probe event')).rejects.toThrow(
      'any probe event: exits-at-once exited (exit 2) before it happened',
    );
    expect(subject.exited?.code).toBe(2);
  });
});
