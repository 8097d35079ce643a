/**
 * A test that needs a program npm cannot provide is skipped with a one-line reason naming the install
 * command, and fails instead when SIGCERT_REQUIRE_TOOLS=1 (what .ci/run exports). Both modes, through a
 * real vitest run of test/fixtures/tool-gate/gate.test.ts.
 */
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { decide, findOnPath, missingReason, systemTool, toolsRequired } from '../harness/system-tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const gateDir = path.join(root, 'test', 'fixtures', 'tool-gate');

async function runGate(env: Record<string, string>) {
  const r = await execa(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run'], {
    cwd: gateDir,
    reject: false,
    env: { NO_COLOR: '1', CI: '1', SIGCERT_REQUIRE_TOOLS: '', ...env },
    timeout: 60_000,
    all: true,
  });
  return { code: r.exitCode, out: r.all ?? '' };
}

describe('programs npm cannot provide', () => {
  it('decide: run when found; skip when missing; fail when missing and required', () => {
    const missing = systemTool('chromium', false, 'apt-get install -y chromium');
    expect(decide({ ...missing, found: true }, {})).toBe('run');
    expect(decide(missing, {})).toBe('skip');
    expect(decide(missing, { SIGCERT_REQUIRE_TOOLS: '0' })).toBe('skip');
    expect(decide(missing, { SIGCERT_REQUIRE_TOOLS: '1' })).toBe('fail');
    expect(toolsRequired({ SIGCERT_REQUIRE_TOOLS: 'true' })).toBe(true);
    expect(missingReason(missing)).toBe('chromium is not installed (install: apt-get install -y chromium)');
  });

  it('findOnPath finds node and not a made-up name', () => {
    expect(findOnPath(['node'], path.dirname(process.execPath))).toBe(process.execPath);
    expect(findOnPath(['sigcert-no-such-program'])).toBeNull();
  });

  it('without SIGCERT_REQUIRE_TOOLS a missing program skips the test and says why', { timeout: 90_000 }, async () => {
    const r = await runGate({});
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(
      'skipped "needs a missing program": sigcert-no-such-program is not installed (install: apt-get install -y sigcert-no-such-program)',
    );
    expect(r.out).toMatch(/1 passed \| 1 skipped/);
    expect(r.out).not.toContain('ran although the program is missing');
  });

  it('with SIGCERT_REQUIRE_TOOLS=1 the same missing program fails the run', { timeout: 90_000 }, async () => {
    const r = await runGate({ SIGCERT_REQUIRE_TOOLS: '1' });
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(
      'sigcert-no-such-program is not installed (install: apt-get install -y sigcert-no-such-program)',
    );
    expect(r.out).toContain('SIGCERT_REQUIRE_TOOLS=1 makes a missing program a failure');
    expect(r.out).toMatch(/1 failed \| 1 passed/);
  });
});
