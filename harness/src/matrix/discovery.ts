/**
 * Finding the subjects of a matrix: every folder of `subjects/` with a manifest.json, its own
 * matrix.json, whether the manifest declares this platform, whether the server is installed here
 * (the `installed` commands, or the manifest's command on the PATH) and which version it is.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadManifest, ManifestError } from '../launch/index.js';
import type { Manifest, Platform } from '../types.js';
import type { SubjectMatrixData, SubjectStatus } from './model.js';

export interface Candidate {
  name: string;
  dir: string;
  data: SubjectMatrixData;
  manifest?: Manifest;
  problem?: { status: SubjectStatus; reason: string };
}

function readSubjectData(dir: string): SubjectMatrixData {
  const file = path.join(dir, 'matrix.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as SubjectMatrixData;
}

/** Folders of `subjectsDir` holding a manifest.json, by name. */
export function listSubjects(subjectsDir: string): string[] {
  return readdirSync(subjectsDir)
    .filter((n) => {
      const d = path.join(subjectsDir, n);
      return statSync(d).isDirectory() && existsSync(path.join(d, 'manifest.json'));
    })
    .sort((a, b) => (a === 'reference' ? -1 : b === 'reference' ? 1 : a.localeCompare(b)));
}

function runCommand(cmd: string[], timeoutMs = 15_000): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const [file, ...args] = cmd;
    if (file === undefined) {
      resolve({ ok: false, output: 'empty command' });
      return;
    }
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout ?? ''}${stderr ?? ''}`.trim();
      if (err) resolve({ ok: false, output: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : output });
      else resolve({ ok: true, output });
    });
  });
}

function onPath(command: string): boolean {
  if (command.includes('/')) return existsSync(command);
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && existsSync(path.join(d, command)));
}

async function checkInstalled(c: Candidate, m: Manifest): Promise<string | null> {
  if (c.data.installed && c.data.installed.length > 0) {
    for (const cmd of c.data.installed) {
      const r = await runCommand(cmd);
      if (!r.ok) return `\`${cmd.join(' ')}\` failed${r.output ? `: ${r.output.split('\n').pop()}` : ''}`;
    }
    return null;
  }
  return onPath(m.command) ? null : `command not found: ${m.command}`;
}

export async function versionOf(c: Candidate): Promise<string | undefined> {
  if (!c.data.version) return undefined;
  const r = await runCommand(c.data.version);
  if (!r.ok) return undefined;
  // `nginx -v` prints to stderr, `caddy version` adds a hash: keep the first line
  return r.output.split('\n')[0]?.trim() || undefined;
}

export async function prepareSubject(subjectsDir: string, name: string): Promise<Candidate> {
  const dir = path.join(subjectsDir, name);
  const c: Candidate = { name, dir, data: {} };
  try {
    c.data = readSubjectData(dir);
  } catch (e) {
    c.problem = { status: 'error', reason: `matrix.json: ${(e as Error).message}` };
    return c;
  }
  let m: Manifest;
  try {
    m = loadManifest(path.join(dir, 'manifest.json'));
  } catch (e) {
    c.problem = { status: 'error', reason: e instanceof ManifestError ? e.message : String(e) };
    return c;
  }
  c.manifest = m;
  if (!m.platforms.includes(process.platform as Platform)) {
    c.problem = { status: 'unsupported-platform', reason: `the manifest does not declare ${process.platform}` };
    return c;
  }
  const missing = await checkInstalled(c, m);
  if (missing !== null) c.problem = { status: 'not-installed', reason: missing };
  return c;
}
