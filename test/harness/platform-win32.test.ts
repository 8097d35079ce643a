/**
 * `sigcert run --platform win32`: the Windows grading path, run here on Linux or macOS. The subject is
 * treated as if on Windows: the cases that need POSIX signals are not-applicable with the reason, the
 * launcher refuses every signal (a case that tries is a harness error), and what runs goes through the
 * control channel (stop, fast stop, reload, reopen-logs, durability, pidfile). The only forced end is
 * `terminate()` (TerminateProcess on Windows), which no handler sees.
 *
 * What this proves: the reference is fully compliant within that scope, exactly the control-channel
 * cases run, no POSIX signal reaches a subject (the histories say so, and the launcher guard throws),
 * a subject that breaks the control-channel stop fails there, and the CLI validates the flag and
 * records the platform graded in the report.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { reportOfRunDir } from '../../harness/src/analyze.js';
import { defineCase } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import { History } from '../../harness/src/history.js';
import { launch, loadManifest, SignalRefusedError, type Subject, teardownAll } from '../../harness/src/launch/index.js';
import { mergeReports } from '../../harness/src/merge.js';
import { buildReport, type CaseResult, type Report, validateReport } from '../../harness/src/report/index.js';
import { runCases } from '../../harness/src/runner.js';
import { loadRegistry } from '../../harness/src/spec.js';
import type { HistoryEvent, HistoryJSON, Manifest } from '../../harness/src/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/sigcert.js');
const referenceFile = path.join(root, 'subjects/reference/manifest.json');
const WINDOWS_REASON = 'POSIX signals cannot be delivered on Windows';

/** The reference's Windows path: the control channel's cases, the durability cases and the pidfile. */
const CONTROL_PATH = [
  'control.channel',
  'durable.graceful-stop',
  'durable.index-reused',
  'durable.sigkill',
  'durable.torn-tail',
  'map.fast-stop.control',
  'map.reopen-logs.control',
  'map.stop.control',
  'pidfile.lifecycle',
  'pidfile.not-ours',
];

afterAll(async () => {
  await teardownAll();
});

function outDir(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `sigcert-win32-${name}-`));
}

function report(manifest: Manifest, results: CaseResult[], partial: boolean): Report {
  const reg = loadRegistry();
  return buildReport({
    toolVersion: 'test',
    specVersion: reg.specVersion,
    startedAt: new Date(),
    durationMs: 0,
    subject: { name: manifest.name, manifestFile: manifest.file, manifest },
    options: { platform: 'win32', emulated: true },
    cases: results,
    requirements: reg.requirements,
    partial,
    platform: 'win32',
  });
}

/** Every event of every attempt history under a run directory. */
function historyEvents(results: CaseResult[]): { id: string; events: HistoryEvent[] }[] {
  return results
    .filter((r) => r.runDir !== undefined)
    .map((r) => ({
      id: r.id,
      events: (JSON.parse(readFileSync(path.join(r.runDir!, 'history.json'), 'utf8')) as HistoryJSON).events,
    }));
}

/** The launches' kills: what the harness delivered to a subject (signal-sent, teardown-signal, refused). */
function deliveries(results: CaseResult[]): string[] {
  return historyEvents(results).flatMap(({ id, events }) =>
    events
      .filter((e) => ['signal-sent', 'teardown-signal', 'signal-refused'].includes(e.kind))
      .map((e) => `${id} ${e.kind} ${String(e.data.sig)}${e.data.terminate === true ? ' (terminate)' : ''}`),
  );
}

describe('--platform win32: the reference through the control channel', () => {
  it('is fully compliant, runs exactly the control-channel cases, and no POSIX signal reaches it', async () => {
    const manifest = loadManifest(referenceFile);
    expect(manifest.platforms).toContain('win32');
    const cases = await loadCases(manifest);
    const dir = outDir('reference');
    const { results, partial } = await runCases({
      manifest,
      cases,
      outDir: dir,
      concurrency: 2,
      platform: 'win32',
    });
    const ran = results.filter((r) => r.outcome !== 'not-applicable').map((r) => r.id);
    expect(ran.sort()).toEqual(CONTROL_PATH);
    // what ran delivers no pair of the declared map: the control channel is its only way in
    for (const c of cases.filter((c) => ran.includes(c.id))) {
      expect([...(c.sends ?? []), ...(c.sendsRepeat ?? [])], c.id).toEqual([]);
    }
    // every case left out is left out for Windows, with the reason
    for (const r of results.filter((r) => r.outcome === 'not-applicable')) {
      expect(r.reason, r.id).toContain(WINDOWS_REASON);
    }
    // the histories: no signal sent, refused or used for teardown, except the two crash cases' forced kill
    expect(
      deliveries(results)
        .filter((d) => !d.includes('teardown-signal SIGKILL'))
        .sort(),
    ).toEqual(['durable.sigkill signal-sent SIGKILL (terminate)', 'durable.torn-tail signal-sent SIGKILL (terminate)']);
    // the stops really went through the control channel
    const byId = new Map(historyEvents(results).map((h) => [h.id, h.events]));
    for (const id of [
      'map.stop.control',
      'map.fast-stop.control',
      'durable.graceful-stop',
      'pidfile.lifecycle',
      'pidfile.not-ours',
    ]) {
      expect(
        byId.get(id)?.some((e) => e.kind === 'control-sent'),
        id,
      ).toBe(true);
    }

    const rep = report(manifest, results, partial);
    expect(validateReport(JSON.parse(JSON.stringify(rep))).errors).toEqual([]);
    const bad = results.filter((r) => !['pass', 'not-applicable'].includes(r.outcome));
    expect(bad.map((r) => `${r.id}: ${r.outcome} ${r.reason ?? ''}`)).toEqual([]);
    expect(rep.verdict.untestedMust).toEqual([]);
    expect(rep.verdict.compliant).toBe(true);
    expect(rep.verdict.fullyCompliant).toBe(true);
    // the requirements of the Windows path were tested, the signal requirements do not apply
    const status = new Map(rep.requirements.map((r) => [r.id, r.status]));
    for (const id of ['CONTROL.EQUIVALENT', 'STOP.PERSIST_ALL_PATHS', 'DURABLE.CRASH', 'PIDFILE.REMOVED']) {
      expect(status.get(id), id).toBe('pass');
    }
    for (const id of ['SIG.TERM.GRACEFUL', 'SIG.INT.SECOND_FAST', 'LATENCY.IDLE', 'PROC.NO_CRASH_SIGNAL']) {
      expect(status.get(id), id).toBe('not-applicable');
    }
    // analyze re-grades the stored run as the platform its report recorded
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(path.join(dir, 'report.json'), JSON.stringify(rep));
    const again = await reportOfRunDir(dir, loadCases);
    expect(again.verdict).toEqual(rep.verdict);
    // one certificate per platform: a win32 report does not merge with a linux one
    const linux = { ...rep, options: { platform: 'linux' }, cases: [] };
    expect(() => mergeReports([rep, linux], ['win32.json', 'linux.json'])).toThrow(
      /platform graded "linux" differs from "win32"/,
    );
  });

  it('a subject whose control-channel stop does not persist fails there (zoo persist-one-path)', async () => {
    // on Linux its SIGTERM path persists, so the hand-written cases pass; on Windows every stop is the
    // control channel's, and the bug is in the way
    const zoo = loadManifest(path.join(root, 'test/zoo/persist-one-path/manifest.json'));
    const manifest: Manifest = { ...zoo, platforms: [...zoo.platforms, 'win32'] };
    const { results, partial } = await runCases({
      manifest,
      cases: await loadCases(manifest),
      outDir: outDir('zoo'),
      grep: /^(map\.stop\.control|durable\.graceful-stop)$/,
      concurrency: 2,
      platform: 'win32',
    });
    expect(results.map((r) => `${r.id} ${r.outcome}`).sort()).toEqual([
      'durable.graceful-stop fail',
      'map.stop.control fail',
    ]);
    const rep = report(manifest, results, partial);
    expect(rep.verdict.mustFailures.sort()).toEqual(['DURABLE.INDEX_ON_STOP', 'STOP.PERSIST_ALL_PATHS']);
    expect(deliveries(results).filter((d) => !d.includes('teardown-signal SIGKILL'))).toEqual([]);
  });
});

describe('--platform win32: the launcher refuses every signal', () => {
  it('signal() throws SignalRefusedError and sends nothing; terminate() is the one forced end', async () => {
    const manifest = loadManifest(referenceFile);
    const history = new History();
    const s: Subject = await launch({ manifest, history, runDir: outDir('guard'), platform: 'win32' });
    try {
      expect(s.platform).toBe('win32');
      expect(s.fifoPath).toBeNull(); // as on Windows: no FIFO is handed over
      for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGKILL'] as const) {
        expect(() => s.signal(sig), sig).toThrow(SignalRefusedError);
      }
      expect(() => s.signal('SIGTERM', { group: true })).toThrow(/refused to send SIGTERM.*graded as win32/);
      expect(history.events.filter((e) => e.kind === 'signal-sent')).toEqual([]);
      expect(history.events.filter((e) => e.kind === 'signal-refused')).toHaveLength(6);
      // nothing reached it: it still runs and serves (no stop began)
      expect(s.exited).toBeNull();
      const state = await fetch(`${s.url('/control/state', 'admin')}`, {
        headers: { authorization: `Bearer ${s.token}` },
      });
      expect(await state.json()).toMatchObject({ state: 'STARTED' });
      s.terminate();
      const exit = await s.waitExit(5000);
      expect(exit.signal).toBe('SIGKILL');
      expect(history.events.filter((e) => e.kind === 'signal-sent').map((e) => e.data)).toEqual([
        { sig: 'SIGKILL', group: false, pid: s.pid, terminate: true },
      ]);
    } finally {
      await s.teardown();
    }
  });

  it('teardown of a running subject is a forced kill, never a SIGTERM', async () => {
    const manifest = loadManifest(referenceFile);
    const history = new History();
    const s = await launch({ manifest, history, runDir: outDir('teardown'), platform: 'win32' });
    await s.teardown();
    expect(history.events.filter((e) => e.kind === 'teardown-signal').map((e) => e.data.sig)).toEqual(['SIGKILL']);
  });

  it('a case that sends a signal is a harness error, never a verdict on the subject', async () => {
    const manifest = loadManifest(referenceFile);
    const sneaky = defineCase({
      id: 'test.sneaks-a-signal',
      title: 'sends SIGTERM although it applies on win32',
      description: 'a case that forgets Windows has no signals',
      requirements: ['CONTROL.EQUIVALENT'],
      timeout: 'short',
      async run(ctx) {
        const s = await ctx.launch();
        s.signal('SIGTERM');
        await s.waitExit(5000);
      },
      grade: () => [],
    });
    const { results } = await runCases({ manifest, cases: [sneaky], outDir: outDir('sneaky'), platform: 'win32' });
    expect(results[0]?.outcome).toBe('harness-error');
    expect(results[0]?.reason).toMatch(/refused to send SIGTERM/);
    expect(deliveries(results)).toEqual([
      'test.sneaks-a-signal signal-refused SIGTERM',
      'test.sneaks-a-signal teardown-signal SIGKILL',
    ]);
  });
});

describe('sigcert run --platform', () => {
  async function sigcert(...args: string[]) {
    const r = await execa('node', [bin, ...args], {
      cwd: root,
      reject: false,
      env: { NO_COLOR: '1', CI: '1' },
      timeout: 60_000,
    });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  it('an unknown platform, one this OS cannot emulate, or one the subject does not declare: exit 2, one line', async () => {
    const unknown = await sigcert('run', '--platform', 'windows');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'sigcert: --platform "windows": must be one of linux, darwin, win32 (did you mean win32?)',
    );
    const other = process.platform === 'darwin' ? 'linux' : 'darwin';
    const posix = await sigcert('run', '--platform', other);
    expect(posix.code).toBe(2);
    expect(posix.stderr).toBe(
      `sigcert: --platform ${other}: only win32 can be graded on another OS (this machine is ${process.platform})`,
    );
    const zoo = path.join(root, 'test/zoo/persist-one-path/manifest.json');
    const undeclared = await sigcert('run', '--platform', 'win32', '--subject', zoo);
    expect(undeclared.code).toBe(2);
    expect(undeclared.stderr).toBe(
      'sigcert: --platform win32: the subject does not declare it (manifest "platforms": linux, darwin)',
    );
  });

  it('the report records the platform graded', async () => {
    const dir = outDir('cli');
    const json = path.join(dir, 'r.json');
    const r = await sigcert(
      'run',
      '--platform',
      'win32',
      '--grep',
      '^pidfile\\.lifecycle$',
      '--out',
      dir,
      '--json',
      json,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/certifying reference as win32 \(emulated on \w+: no POSIX signal is sent/);
    expect(r.stdout).toMatch(/graded as win32 \(emulated/);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(rep.options.platform).toBe('win32');
    expect(rep.options.emulated).toBe(true);
    expect(rep.environment.platform).toBe(process.platform);
    expect(rep.cases.find((c) => c.id === 'pidfile.lifecycle')?.outcome).toBe('pass');
  });
});
