/**
 * sigcert as a user gets it: the packed tarball (`npm pack`) installed into an empty project with
 * `npm install --omit=dev`, then the CLI through npx and the package's bin, the library through
 * `import 'sigcert'`, and a run against the packaged reference manifest from another directory.
 * Needs the build (`npm test` builds first) and the npm registry (or npm's cache) for the dependencies.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('the packed package, installed into an empty project', () => {
  let work: string;
  let project: string;
  const env = { NO_COLOR: '1', CI: '1', npm_config_audit: 'false', npm_config_fund: 'false' };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'sigcert-pack-'));
    const packed = await execa(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: root,
      env,
      timeout: 120_000,
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files, 'the build is packed (run npm run build first)').toContain('dist/harness/src/cli.js');
    expect(files).toContain('dist/reference/src/main.js');
    expect(files).toContain('spec/requirements.json');
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('harness/src/'))).toBe(false);
    project = path.join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }),
    );
    await execa(
      npm,
      ['install', '--omit=dev', '--prefer-offline', '--no-package-lock', path.join(work, info!.filename)],
      { cwd: project, env, timeout: 180_000 },
    );
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs only the runtime dependencies', () => {
    const installed = JSON.parse(readFileSync(path.join(project, 'node_modules/sigcert/package.json'), 'utf8')) as {
      private?: boolean;
    };
    expect(installed.private).toBeUndefined();
    for (const dep of Object.keys(pkg.dependencies)) {
      expect(() => readFileSync(path.join(project, 'node_modules', dep, 'package.json'))).not.toThrow();
    }
    // no devDependency came along
    expect(() => readFileSync(path.join(project, 'node_modules/vitest/package.json'))).toThrow();
  });

  it('npx sigcert --version and sigcert run --help work', async () => {
    const v = await execa(npx, ['--no-install', 'sigcert', '--version'], { cwd: project, env, timeout: 60_000 });
    expect(v.stdout.trim()).toBe(pkg.version);
    const h = await execa(path.join(project, 'node_modules/.bin/sigcert'), ['run', '--help'], {
      cwd: project,
      env,
      timeout: 60_000,
    });
    expect(h.stdout).toMatch(/^Usage: sigcert run/);
  });

  it("import 'sigcert' works, and the README's library example runs from another directory", async () => {
    const script = path.join(project, 'lib.mjs');
    writeFileSync(
      script,
      `import { createRequire } from 'node:module';
import { History, launch, loadManifest, gracefulExitVerdicts } from 'sigcert';
const reference = createRequire(import.meta.url).resolve('sigcert/subjects/reference/manifest.json');
const manifest = loadManifest(reference);
const history = new History();
const s = await launch({ manifest, history, runDir: '.sigcert/lib-test' });
try {
  s.signal('SIGTERM');
  await s.waitProbe((e) => e.ev === 'persisted', 2000, 'persist');
  await s.waitExit(5000);
  const verdicts = gracefulExitVerdicts(history.sorted(), manifest);
  console.log(JSON.stringify({ name: manifest.name, statuses: verdicts.map((v) => v.status) }));
} finally {
  await s.teardown();
}
`,
    );
    const r = await execa('node', [script], { cwd: project, env, timeout: 60_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; statuses: string[] };
    expect(out.name).toBe('reference');
    expect(out.statuses.length).toBeGreaterThan(0);
    expect(out.statuses.every((s) => s === 'pass')).toBe(true);
  });

  it('sigcert run certifies a selection of the packaged reference from the project', async () => {
    const json = path.join(project, 'report.json');
    const r = await execa(
      path.join(project, 'node_modules/.bin/sigcert'),
      [
        'run',
        '--subject',
        'node_modules/sigcert/subjects/reference/manifest.json',
        '--grep',
        '^(stop\\.idle|map\\.stop\\.SIGTERM)$',
        '--json',
        json,
      ],
      { cwd: project, env, timeout: 120_000, reject: false },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { cases: { id: string; outcome: string }[] };
    expect(report.cases.map((c) => [c.id, c.outcome])).toEqual([
      ['map.stop.SIGTERM', 'pass'],
      ['stop.idle', 'pass'],
    ]);
  });
});
