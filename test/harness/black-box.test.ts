/**
 * Black-box scope (issue: a fair verdict for servers that do not speak the probe). The README's own
 * example manifest, run against the small correct server it describes (examples/black-box), is
 * certified compliant within its black-box scope with exit 0; what it cannot observe is listed as
 * not-observable with what would make it testable, never as a missing MUST. Declaring the server's own
 * `GET /hold` (the README's next step) makes the drain requirements testable, and a single-defect
 * variant of the same server (busy keep-alive connections left open after their response, the classic
 * Node drain bug) is then not compliant.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../harness/src/report/model.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/sigcert.js');
const example = path.join(root, 'examples/black-box');

async function certify(manifest: string, ...args: string[]): Promise<{ code: number | undefined; report: Report }> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'sigcert-bb-'));
  const json = path.join(out, 'report.json');
  const r = await execa('node', [bin, 'run', '--subject', manifest, '--json', json, '--out', out, ...args], {
    cwd: root,
    reject: false,
    env: { NO_COLOR: '1', CI: '1' },
    timeout: 110_000,
  });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`sigcert exited ${r.exitCode}: ${r.stderr}`);
  return { code: r.exitCode, report: JSON.parse(readFileSync(json, 'utf8')) as Report };
}

const status = (report: Report, id: string) => report.requirements.find((r) => r.id === id)?.status;

/** The first ```json block of the README's "Certifying your own server". */
function readmeManifest(): unknown {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Certifying your own server'));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README: no json block under "Certifying your own server"');
  return JSON.parse(block[1]!);
}

describe('black-box scope', () => {
  it('the README example manifest is the one in examples/black-box', () => {
    expect(readmeManifest()).toEqual(JSON.parse(readFileSync(path.join(example, 'myserver.json'), 'utf8')));
  });

  it('the README example, against a correct server: compliant within its black-box scope, exit 0', async () => {
    const { code, report } = await certify(path.join(example, 'myserver.json'));
    expect(report.verdict.compliant).toBe(true);
    expect(code).toBe(0);
    // the scope is stated: what was tested, and what would need cooperation
    expect(report.verdict.scope?.kind).toBe('black-box');
    expect(report.verdict.scope?.mustTested).toBeGreaterThan(5);
    expect(report.verdict.scope?.notObservableMust).toContain('STOP.PERSIST_ALL_PATHS');
    expect(report.verdict.scope?.needs.probe).toBeGreaterThan(0);
    // persistence is not observable without a probe: not a missing MUST, and it says what would help
    const persist = report.requirements.find((r) => r.id === 'STOP.PERSIST_ALL_PATHS');
    expect(persist?.status).toBe('not-observable');
    expect(persist?.needs).toContain('probe');
    expect(report.verdict.untestedMust).toEqual([]);
    // drain cases need a slow request: not observable without GET /hold, not "not applicable"
    expect(status(report, 'STOP.DRAIN.IN_FLIGHT')).toBe('not-observable');
    expect(report.cases.find((c) => c.id === 'stop.in-flight')).toMatchObject({
      outcome: 'not-applicable',
      needs: ['hold'],
    });
    // what a black box does show is judged
    for (const id of ['SIG.TERM.GRACEFUL', 'STOP.LISTENER_CLOSED', 'STOP.EXIT_ZERO', 'PROC.NO_ORPHANS'])
      expect(status(report, id), id).toBe('pass');
    // the map declares no SIGQUIT: the requirement named after it does not apply
    expect(status(report, 'SIG.QUIT.FAST')).toBe('not-applicable');
  });

  it("declaring the server's own /hold makes the drain testable: still compliant, more tested", async () => {
    const { code, report } = await certify(path.join(example, 'myserver-hold.json'));
    expect(report.verdict.compliant).toBe(true);
    expect(code).toBe(0);
    for (const id of ['STOP.DRAIN.IN_FLIGHT', 'STOP.CONNECTION_CLOSE', 'STOP.IDLE_KEEPALIVE_CLOSED', 'STOP.DEADLINE'])
      expect(status(report, id), id).toBe('pass');
    expect(report.verdict.scope?.needs.hold).toBeUndefined();
  });

  it('the same server with one drain bug (busy keep-alives left open after their response) is not compliant', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-bb-bug-'));
    const correct = readFileSync(path.join(example, 'server.mjs'), 'utf8');
    const fix = /\n {2}res\.on\('finish', \(\) => \{\n {4}if \(stopping\) req\.socket\.end\(\);\n {2}\}\);/;
    expect(correct).toMatch(fix);
    writeFileSync(path.join(dir, 'server.mjs'), correct.replace(fix, ''));
    const manifest = JSON.parse(readFileSync(path.join(example, 'myserver-hold.json'), 'utf8'));
    writeFileSync(path.join(dir, 'myserver.json'), JSON.stringify({ ...manifest, name: 'myserver-drain-bug' }));
    const { code, report } = await certify(path.join(dir, 'myserver.json'), '--grep', '^stop\\.in-flight$');
    expect(code).toBe(1);
    expect(report.verdict.compliant).toBe(false);
    expect(status(report, 'STOP.CONNECTION_CLOSE')).toBe('fail');
    expect(report.verdict.mustFailures).toContain('STOP.CONNECTION_CLOSE');
  });
});

describe('sigcert doctor', () => {
  it('checks each declaration against the running server and says which cases will run', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-doctor-'));
    const manifest = JSON.parse(readFileSync(path.join(example, 'myserver-hold.json'), 'utf8'));
    // the example server has /hold but no /cpu and no probe: two declarations it does not live up to
    const file = path.join(dir, 'overclaims.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...manifest,
        name: 'overclaims',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a manifest placeholder, not a template
        args: [path.join(example, 'server.mjs'), '--port', '${port.http}'],
        capabilities: { probe: true },
        endpoints: ['hold', 'cpu'],
      }),
    );
    const r = await execa('node', [bin, 'doctor', '--subject', file], {
      cwd: dir,
      reject: false,
      env: { NO_COLOR: '1', CI: '1' },
      timeout: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAIL capability probe: declared, but the server wrote no probe event/);
    expect(r.stdout).toMatch(/ok {3}endpoint hold: GET \/hold\?ms=50: 200/);
    expect(r.stdout).toMatch(/FAIL endpoint cpu: GET \/cpu\?ms=10: /);
    expect(r.stdout).toMatch(/cases that will run \(\d+\): .*stop\.in-flight/);
    expect(r.stdout).toMatch(
      /not applicable \(\d+\):\n(.*\n)*\s+pidfile\.lifecycle\s+the subject does not declare capability pidfile/,
    );
    expect(r.stdout).toMatch(/2 declaration\(s\) the server does not live up to: capability probe, endpoint cpu/);
  });
});
