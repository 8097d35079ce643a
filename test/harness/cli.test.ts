/**
 * The CLI's contract with people and CI: documented exit codes and one-line errors, no stack trace,
 * nothing left running. Runs the built CLI (`npm test` builds first).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/sigcert.js');
const fixture = (f: string) => path.join(root, 'test/harness/fixtures', f);

async function sigcert(...args: string[]) {
  const r = await execa('node', [bin, ...args], {
    cwd: root,
    reject: false,
    env: { NO_COLOR: '1', CI: '1' },
    timeout: 60_000,
  });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** Linux: processes whose command line mentions `needle` (the fixture's script). */
function running(needle: string): string[] {
  if (process.platform !== 'linux') return [];
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle) && !cmd.includes('vitest')) out.push(`${pid} ${cmd}`);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Linux: live processes whose environment carries a run marker starting with `prefix`. */
function marked(prefix: string): string[] {
  if (process.platform !== 'linux') return [];
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (env.includes(`SIGCERT_RUN_ID=${prefix}`)) out.push(pid);
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

function oneLineError(stderr: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^sigcert: /);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('sigcert CLI', () => {
  it('usage errors exit 2 with one line', async () => {
    const r = await sigcert('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command: frobnicate/);
    oneLineError(r.stderr);
    const s = await sigcert('run', '--shard', '3/2');
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--shard/);
  });

  it('a missing manifest exits 2 naming the file', async () => {
    const r = await sigcert('run', '--subject', 'no/such/manifest.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no\/such\/manifest\.json: file not found/);
    oneLineError(r.stderr);
  });

  it('invalid JSON and an unknown field exit 2 naming the problem', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-cli-'));
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ "protocol": "1", "name": ');
    const r = await sigcert('doctor', '--subject', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json/);
    oneLineError(r.stderr);
    const u = await sigcert('run', '--subject', fixture('unknown-field.json'));
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/\/capabilities\/relaod: unknown field/);
  });

  it('a subject that never becomes ready exits 3 with one line, leaving nothing running', async () => {
    const r = await sigcert('run', '--subject', fixture('never-ready.json'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/could not be started: .*never-ready.* not ready/);
    oneLineError(r.stderr);
    expect(running('never-ready.mjs')).toEqual([]);
  });

  it('a command that does not exist exits 3', async () => {
    const r = await sigcert('doctor', '--subject', fixture('not-found.json'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/command not found/);
    oneLineError(r.stderr);
  });

  it('Ctrl-C stops every subject, writes a partial report and exits 130', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-int-'));
    const json = path.join(dir, 'partial.json');
    const sub = execa('node', [bin, 'run', '--out', path.join(dir, 'run'), '--json', json, '--concurrency', '1'], {
      cwd: root,
      reject: false,
      env: { NO_COLOR: '1', CI: '1' },
      buffer: false,
    });
    // interrupt once the first case has finished (observed on stdout, not guessed by time)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no case finished within 60 s')), 60_000);
      let out = '';
      sub.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (/\[\s*1\/\d+\]/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    process.kill(sub.pid!, 'SIGINT');
    const r = await sub;
    expect(r.exitCode).toBe(130);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { partial?: boolean; cases: { outcome: string }[] };
    expect(report.partial).toBe(true);
    expect(report.cases.some((c) => c.outcome === 'skipped')).toBe(true);
    expect(marked(`sc-${sub.pid}-`)).toEqual([]);
  });

  it('analyze re-grades a stored run: the same verdict, and a different one when the history says otherwise', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-analyze-'));
    const run = path.join(dir, 'run');
    const r = await sigcert('run', '--grep', '^stop\\.idle$', '--out', run);
    expect(r.code).toBe(0); // a selection passes when its cases pass; it is not a certificate
    expect(r.stdout).toMatch(/not a certificate/);
    expect(r.stdout).toMatch(/PASS\s+stop\.idle/);
    const again = await sigcert('analyze', run);
    expect(again.stdout).toMatch(/PASS\s+stop\.idle/);
    // rewrite history: the subject now "died by SIGTERM" instead of exiting 0
    const hfile = path.join(run, 'stop.idle', 'history.json');
    const h = JSON.parse(readFileSync(hfile, 'utf8')) as {
      events: { source: string; kind: string; data: Record<string, unknown> }[];
    };
    const exit = h.events.find((e) => e.source === 'process' && e.kind === 'exit');
    expect(exit).toBeDefined();
    exit!.data.code = null;
    exit!.data.signal = 'SIGTERM';
    writeFileSync(hfile, JSON.stringify(h));
    const tampered = await sigcert('analyze', run);
    expect(tampered.stdout).toMatch(/CRASH\s+stop\.idle/);
    expect(tampered.stdout).toMatch(/PROC\.NO_CRASH_SIGNAL/);
  });

  it('list shows every case and marks requirements without one', async () => {
    const r = await sigcert('list');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stop\.in-flight\s+STOP\.DRAIN\.IN_FLIGHT/);
    expect(r.stdout).toMatch(/0 MUST\/SHOULD without a case/);
  });
});
