/**
 * Signal names in a manifest: only names this OS defines (os.constants.signals), a did-you-mean for a typo,
 * and never SIGKILL or SIGSTOP (no process can catch them). Relative paths resolve against the manifest file.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../harness/src/launch/errors.js';
import { closest, definedSignalNames, loadManifest, parseManifest } from '../../harness/src/launch/manifest.js';

const root = path.resolve(import.meta.dirname, '../..');
const base = { protocol: '1', name: 'x', command: 'x' };

function problem(json: unknown): string {
  try {
    parseManifest(json, '/tmp/m.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ManifestError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  return 'accepted';
}

describe('manifest signal names', () => {
  it('a misspelled signal is refused with a suggestion', () => {
    expect(problem({ ...base, signals: { SIGTREM: 'stop' } })).toBe(
      `/tmp/m.json: /signals/SIGTREM: not a signal ${process.platform} defines (did you mean SIGTERM?)`,
    );
    expect(problem({ ...base, signalsRepeat: { SIGNIT: 'fast-stop' } })).toMatch(
      /\/signalsRepeat\/SIGNIT: not a signal .* defines \(did you mean SIGINT\?\)/,
    );
    expect(problem({ ...base, signals: { SIGXYZZYQ: 'stop' } })).toMatch(/SIGXYZZYQ: not a signal \w+ defines$/);
  });

  it('SIGKILL and SIGSTOP cannot be declared, in either map', () => {
    for (const sig of ['SIGKILL', 'SIGSTOP']) {
      for (const field of ['signals', 'signalsRepeat']) {
        expect(problem({ ...base, [field]: { [sig]: 'ignore' } })).toBe(
          `/tmp/m.json: /${field}/${sig}: SIGKILL and SIGSTOP cannot be caught, blocked or ignored, so a subject cannot declare them`,
        );
      }
    }
  });

  it('the JSON schema itself refuses SIGKILL and SIGSTOP (editors and other tools see it too)', () => {
    const schema = JSON.parse(readFileSync(path.join(root, 'spec/schema/manifest.schema.json'), 'utf8'));
    const v = new Ajv({ strict: true, allowUnionTypes: true }).compile(schema);
    expect(v({ ...base, signals: { SIGKILL: 'stop' } })).toBe(false);
    expect(v({ ...base, signals: { SIGSTOP: 'stop' } })).toBe(false);
    expect(v({ ...base, signals: { SIGTERM: 'stop', SIGHUP: 'reload' } })).toBe(true);
  });

  it('every catchable signal this OS defines is accepted; the bundled manifests load', () => {
    const names = [...definedSignalNames()].filter((n) => n !== 'SIGKILL' && n !== 'SIGSTOP');
    expect(names).toContain('SIGTERM');
    const signals = Object.fromEntries(names.map((n) => [n, 'ignore']));
    expect(problem({ ...base, signals })).toBe('accepted');
    for (const m of ['reference', 'nginx', 'caddy', 'gunicorn', 'cherrypy', 'uvicorn']) {
      expect(loadManifest(path.join(root, 'subjects', m, 'manifest.json')).name).toBeTruthy();
    }
  });

  it('closest: a typo within a third of the length, nothing for an unrelated word', () => {
    expect(closest('SIGTREM', ['SIGTERM', 'SIGINT'])).toBe('SIGTERM');
    expect(closest('SIGUSR3', ['SIGUSR1', 'SIGUSR2', 'SIGHUP'])).toBe('SIGUSR1');
    expect(closest('banana', ['SIGTERM'])).toBeUndefined();
  });
});

describe('manifest paths', () => {
  it('relative command and cwd resolve against the manifest file, not the working directory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-manifest-'));
    mkdirSync(path.join(dir, 'app'));
    const file = path.join(dir, 'app', 'manifest.json');
    writeFileSync(file, JSON.stringify({ ...base, command: './server.sh', cwd: '../data' }));
    expect(process.cwd()).not.toBe(path.join(dir, 'app'));
    const m = loadManifest(file);
    expect(m.command).toBe(path.join(dir, 'app', 'server.sh'));
    expect(m.cwd).toBe(path.join(dir, 'data'));
    expect(m.dir).toBe(path.join(dir, 'app'));
    // a bare command name is looked up on PATH, not made a path
    writeFileSync(file, JSON.stringify({ ...base, command: 'python3' }));
    expect(loadManifest(file).command).toBe('python3');
  });
});
