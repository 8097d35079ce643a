/**
 * The CLI's contract with people and CI: documented exit codes and one-line errors, no stack trace,
 * nothing left running. Runs the built CLI (`npm test` builds first).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { validateReport } from '../../harness/src/report/index.js';
import { JENKINS_JUNIT_XSD, JUNIT_XSD, validateXmlSchema } from './xml-schema.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/sigcert.js');
const fixture = (f: string) => path.join(root, 'test/harness/fixtures', f);

async function sigcert(...args: string[]) {
  return sigcertIn(root, ...args);
}

async function sigcertIn(cwd: string, ...args: string[]) {
  const r = await execa('node', [bin, ...args], {
    cwd,
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

/**
 * Resolves once the run printed its first finished case ("[1/N] ..."); rejects, with what the run said,
 * if it exits first or nothing finishes within 60 s (the run is then interrupted).
 */
function firstCaseDone(sub: ReturnType<typeof execa>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      process.kill(sub.pid!, 'SIGINT');
      reject(new Error(`no case finished within 60 s; stdout: ${out.slice(-500)} stderr: ${err.slice(-500)}`));
    }, 60_000);
    sub.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    sub.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/\[\s*1\/\d+\]/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void sub.then((r) => {
      clearTimeout(timer);
      reject(new Error(`the run ended (exit ${r.exitCode}) before a case finished; stderr: ${err.slice(-1000)}`));
    });
  });
}

/**
 * A run of four cases, one at a time (the last ones wait on held requests and a deadline, so there is
 * time to interrupt it), writing its JSON report to `partial.json` in a folder of its own.
 */
function interruptibleRun(name: string) {
  const dir = tmp(name);
  const json = path.join(dir, 'partial.json');
  const grep = '^(stop\\.idle|stop\\.in-flight|signals\\.hup-never-fatal|stop\\.deadline)$';
  const args = [bin, 'run', '--grep', grep, '--out', path.join(dir, 'run'), '--json', json, '--concurrency', '1'];
  const sub = execa('node', args, { cwd: root, reject: false, env: { NO_COLOR: '1', CI: '1' }, buffer: false });
  return { sub, json };
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

  it('a subject that never becomes ready is not certified: exit 4 with one line, leaving nothing running', async () => {
    const r = await sigcert('run', '--subject', fixture('never-ready.json'));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^sigcert: not certified: the subject did not start: .*never-ready.* not ready/);
    oneLineError(r.stderr);
    expect(running('never-ready.mjs')).toEqual([]);
  });

  it('a command that does not exist: the subject did not start, exit 4', async () => {
    const r = await sigcert('doctor', '--subject', fixture('not-found.json'));
    expect(r.code).toBe(4);
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
    await firstCaseDone(sub);
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

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), `sigcert-${prefix}-`));
const referenceManifest = path.join(root, 'subjects/reference/manifest.json');

describe('sigcert CLI: what every CLI has', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await sigcert(flag);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it('every command has --help (exit 0), listing its options', async () => {
    const expectations: Record<string, RegExp> = {
      run: /--last-failed[\s\S]*--concurrency <n>[\s\S]*exit codes: 0 compliant/,
      list: /--subject <manifest>/,
      analyze: /<run-dir>/,
      doctor: /--subject <manifest>/,
      fuzz: /--time-limit <duration>/,
      matrix: /--only <names>/,
      merge: /<report\.json\.\.\.>/,
    };
    for (const [cmd, re] of Object.entries(expectations)) {
      const r = await sigcert(cmd, '--help');
      expect(r.code, `${cmd} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: sigcert ${cmd}`));
      expect(r.stdout).toMatch(re);
    }
    const top = await sigcert('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/merge/);
  });

  it.skipIf(process.platform === 'win32')('a reader that stops early (| head) is not an error', async () => {
    // `true` exits at once, so every write of sigcert meets a closed pipe (EPIPE)
    const r = await execa('bash', ['-c', `set -o pipefail; node ${JSON.stringify(bin)} list | true`], {
      cwd: root,
      reject: false,
      env: { NO_COLOR: '1', CI: '1' },
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('did you mean: a misspelled command or option', async () => {
    const c = await sigcert('rnu');
    expect(c.code).toBe(2);
    expect(c.stderr.trim()).toBe('sigcert: unknown command: rnu (did you mean run?)');
    const o = await sigcert('run', '--jsn', 'r.json');
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/unknown option '--jsn' \(did you mean --json\?\)/);
    oneLineError(o.stderr);
    const a = await sigcert('analyze', 'some-run', '--hmtl', 'r.html');
    expect(a.code).toBe(2);
    expect(a.stderr.trim()).toBe("sigcert: unknown option '--hmtl' (did you mean --html?)");
    const n = await sigcert('analyze');
    expect(n.code).toBe(2);
    expect(n.stderr.trim()).toBe("sigcert: missing required argument 'run-dir'");
  });

  it('values out of range exit 2 with one line naming the option', async () => {
    const bad: [string[], RegExp][] = [
      [['run', '--repeat', '0'], /--repeat "0": must be an integer >= 1/],
      [['run', '--concurrency', '0'], /--concurrency "0": must be an integer >= 1/],
      [['run', '--retries', '-1'], /--retries "-1": must be an integer >= 0/],
      [['run', '--repeat', '1.5'], /--repeat "1.5": must be an integer >= 1/],
      [['run', '--timeout-scale', '0'], /--timeout-scale "0": must be a number > 0/],
      [['run', '--shard', '0/3'], /--shard "0\/3": needs 1 <= i <= n/],
      [['run', '--shard', 'two'], /--shard "two": must look like i\/n/],
      [['run', '--grep', '('], /--grep "\(": is not a valid regular expression/],
      [['fuzz', '--runs', '0'], /--runs "0": must be an integer >= 1/],
      [['fuzz', '--time-limit', 'soon'], /--time-limit "soon": must look like 60s/],
      [['matrix', '--concurrency', '0'], /--concurrency "0": must be an integer >= 1/],
      [['run', '--json'], /--json <file>' argument missing/],
    ];
    for (const [args, re] of bad) {
      const r = await sigcert(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      oneLineError(r.stderr);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a --grep or --shard that selects nothing exits 2 before anything starts', async () => {
    const out = path.join(tmp('nothing'), 'run');
    const r = await sigcert('run', '--grep', '^no\\.such\\.case$', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'sigcert: --grep "^no\\\\.such\\\\.case$" selects no case (sigcert list shows the case ids)',
    );
    expect(existsSync(out)).toBe(false);
    const s = await sigcert('run', '--grep', '^stop\\.idle$', '--shard', '2/2');
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--grep .* with --shard 2\/2 selects no case/);
  });

  it('matrix --only with an unknown subject exits 2, suggesting the near one', async () => {
    const r = await sigcert('matrix', '--only', 'reference,ngnix');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^sigcert: --only: no subject named "ngnix" \(did you mean nginx\?\); subjects: .*reference/,
    );
    oneLineError(r.stderr);
  });

  it('an output path that cannot be written exits 2 before the run starts', async () => {
    const dir = tmp('unwritable');
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    const out = path.join(dir, 'run');
    for (const flag of ['--html', '--json', '--junit']) {
      const r = await sigcert('run', '--grep', '^stop\\.idle$', flag, path.join(file, 'report.out'), '--out', out);
      expect(r.code, flag).toBe(2);
      expect(r.stderr).toContain(`sigcert: ${flag} ${path.join(file, 'report.out')}: ${file} is a file, not a folder`);
      oneLineError(r.stderr);
    }
    const d = await sigcert('run', '--json', dir, '--out', out);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--json .*: is a directory/);
    const o = await sigcert('run', '--out', file);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/--out .*: is a file, not a folder/);
    expect(existsSync(out)).toBe(false); // nothing ran
  });

  it('a misspelled or uncatchable signal in a manifest exits 2 naming it', async () => {
    const dir = tmp('signals');
    const write = (name: string, signals: Record<string, string>) => {
      const f = path.join(dir, `${name}.json`);
      writeFileSync(f, JSON.stringify({ protocol: '1', name, command: 'node', args: ['x.mjs'], signals }));
      return f;
    };
    const typo = await sigcert('doctor', '--subject', write('typo', { SIGTREM: 'stop' }));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/typo\.json: \/signals\/SIGTREM: not a signal \w+ defines \(did you mean SIGTERM\?\)/);
    oneLineError(typo.stderr);
    const kill = await sigcert('run', '--subject', write('kill', { SIGTERM: 'stop', SIGKILL: 'stop' }));
    expect(kill.code).toBe(2);
    expect(kill.stderr).toMatch(/kill\.json: \/signals\/SIGKILL: SIGKILL and SIGSTOP cannot be caught/);
  });

  it('a subject that never starts still gets JSON, JUnit and HTML reports that say why', async () => {
    const dir = tmp('never');
    const json = path.join(dir, 'out', 'report.json');
    const junit = path.join(dir, 'out', 'report.xml');
    const html = path.join(dir, 'out', 'report.html');
    const r = await sigcert(
      'run',
      '--subject',
      fixture('never-ready.json'),
      '--json',
      json,
      '--junit',
      junit,
      '--html',
      html,
      '--out',
      path.join(dir, 'run'),
    );
    expect(r.code).toBe(4);
    oneLineError(r.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      cases: { id: string; outcome: string; reason?: string }[];
      verdict: {
        label: string;
        compliant: boolean;
        harnessErrors: number;
        notStarted?: { kind: string; reason: string };
      };
    };
    // the subject's fault, not the harness's: no harness error, no requirement judged, not certified
    expect(report.verdict.label).toBe('not certified');
    expect(report.verdict.compliant).toBe(false);
    expect(report.verdict.harnessErrors).toBe(0);
    expect(report.verdict.notStarted?.kind).toBe('not-ready');
    expect(report.verdict.notStarted?.reason).toMatch(/not ready/);
    const skipped = report.cases.filter((c) => c.outcome === 'skipped');
    expect(skipped.length).toBeGreaterThan(0);
    for (const c of skipped) expect(c.reason).toMatch(/^not run: the subject did not start: .*not ready/);
    expect(report.cases.every((c) => ['skipped', 'not-applicable'].includes(c.outcome))).toBe(true);
    expect(validateReport(report).errors).toEqual([]);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<failure message="the subject did not start: [^"]*not ready[^"]*" type="not-started"/);
    expect(xml).toMatch(/<testsuites name="sigcert" tests="\d+" failures="1" errors="0"/);
    expect((await validateXmlSchema(xml, JUNIT_XSD)).errors).toEqual([]);
    expect((await validateXmlSchema(xml, JENKINS_JUNIT_XSD)).errors).toEqual([]);
    expect(readFileSync(html, 'utf8')).toContain('not certified — the subject did not start');
    expect(readFileSync(path.join(dir, 'run', 'report.json'), 'utf8')).toContain('did not start');
    expect(running('never-ready.mjs')).toEqual([]);
  });

  it('--last-failed runs only what failed in the newest run of that subject', async () => {
    const cwd = tmp('last-failed');
    const none = await sigcertIn(cwd, 'run', '--last-failed');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--last-failed: no earlier run of reference in .*\.sigcert\/runs/);
    const old = path.join(cwd, '.sigcert', 'runs', '2020-01-01T00-00-00-000Z');
    mkdirSync(old, { recursive: true });
    const fake = (outcome: string) => ({
      subject: { name: 'reference' },
      cases: [
        { id: 'stop.idle', outcome },
        { id: 'stop.in-flight', outcome: 'pass' },
      ],
    });
    writeFileSync(path.join(old, 'report.json'), JSON.stringify(fake('pass')));
    const clean = await sigcertIn(cwd, 'run', '--last-failed');
    expect(clean.code).toBe(2);
    expect(clean.stderr).toMatch(/--last-failed: nothing failed in the last run of reference/);
    writeFileSync(path.join(old, 'report.json'), JSON.stringify(fake('fail')));
    const json = path.join(cwd, 'again.json');
    const r = await sigcertIn(cwd, 'run', '--last-failed', '--subject', referenceManifest, '--json', json);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASS\s+stop\.idle/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      cases: { id: string }[];
      options: { lastFailed?: string };
    };
    expect(report.cases.map((c) => c.id)).toEqual(['stop.idle']);
    expect(report.options.lastFailed).toBe(old);
  });

  it('SIGHUP, like Ctrl-C, stops every subject, writes a partial report and exits 130', async () => {
    const { sub, json } = interruptibleRun('hup');
    await firstCaseDone(sub);
    process.kill(sub.pid!, 'SIGHUP');
    const r = await sub;
    expect(r.exitCode).toBe(130);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { partial?: boolean; cases: { outcome: string }[] };
    expect(report.partial).toBe(true);
    expect(report.cases.some((c) => c.outcome === 'skipped')).toBe(true);
    expect(marked(`sc-${sub.pid}-`)).toEqual([]);
  });

  it('Ctrl-C then the terminal closes (SIGHUP): the second signal kills every subject at once, the partial report is still written', async () => {
    const { sub, json } = interruptibleRun('int-hup');
    let stderr = '';
    const said = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${re} on stderr within 30 s: ${stderr.slice(-500)}`)), 30_000);
        const check = () => {
          if (re.test(stderr)) {
            clearTimeout(t);
            resolve();
          }
        };
        sub.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString();
          check();
        });
        check();
      });
    const interrupted = said(/interrupted \(SIGINT\)/);
    await firstCaseDone(sub);
    process.kill(sub.pid!, 'SIGINT');
    await interrupted; // the first signal was handled: now the terminal goes away
    const again = said(/interrupted again \(SIGHUP\); killing every subject now/);
    process.kill(sub.pid!, 'SIGHUP');
    await again;
    const r = await sub;
    expect(r.exitCode).toBe(130);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { partial?: boolean };
    expect(report.partial).toBe(true);
    expect(marked(`sc-${sub.pid}-`)).toEqual([]);
  });
});
