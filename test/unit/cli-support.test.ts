/**
 * Pieces of `sigcert run`: the output-path check, colours (NO_COLOR / FORCE_COLOR), the live status line
 * listing every running case, and the command-line value checks.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commanderMessage, duration, intAtLeast, shardSpec } from '../../harness/src/cli-program.js';
import {
  checkOutputDir,
  checkOutputFile,
  clearEarlierRun,
  colorWanted,
  ProgressBoard,
} from '../../harness/src/cli-support.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('output paths', () => {
  it('accepts a new file in a folder to be created; refuses a folder, or a file where a folder must be', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-out-'));
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'x');
    expect(() => checkOutputFile('--json', path.join(dir, 'new', 'deeper', 'r.json'))).not.toThrow();
    expect(() => checkOutputFile('--json', file)).not.toThrow(); // overwriting a file is fine
    expect(() => checkOutputFile('--json', dir)).toThrow(/^--json .*: is a directory$/);
    expect(() => checkOutputFile('--junit', path.join(file, 'r.xml'))).toThrow(/is a file, not a folder/);
    expect(() => checkOutputFile('--html', '')).toThrow(/--html: empty path/);
    expect(() => checkOutputDir('--out', file)).toThrow(/is a file, not a folder/);
    expect(() => checkOutputDir('--out', path.join(dir, 'runs'))).not.toThrow();
  });
});

describe('an --out used again', () => {
  it("loses the earlier run's case folders and preflight, and nothing else", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'sigcert-out-'));
    for (const folder of ['stop.idle', 'stop.idle.a2', 'durable.sigkill.r1', 'preflight', 'notes', 'keep.me']) {
      mkdirSync(path.join(out, folder, 'launch-0'), { recursive: true });
    }
    for (const folder of ['stop.idle', 'stop.idle.a2', 'durable.sigkill.r1']) {
      writeFileSync(path.join(out, folder, 'history.json'), '{}');
    }
    writeFileSync(path.join(out, 'keep.me', 'notes.txt'), 'mine');
    writeFileSync(path.join(out, 'report.json'), '{}');
    expect(clearEarlierRun(out)).toBe(4);
    for (const gone of ['stop.idle', 'stop.idle.a2', 'durable.sigkill.r1', 'preflight']) {
      expect(existsSync(path.join(out, gone)), gone).toBe(false);
    }
    expect(readFileSync(path.join(out, 'keep.me', 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(path.join(out, 'notes'))).toBe(true);
    expect(existsSync(path.join(out, 'report.json'))).toBe(true);
    expect(clearEarlierRun(path.join(out, 'never-made'))).toBe(0);
  });
});

describe('colours', () => {
  it('FORCE_COLOR forces, NO_COLOR stops, else a terminal outside CI', () => {
    expect(colorWanted({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorWanted({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(true);
    expect(colorWanted({ isTTY: true }, { FORCE_COLOR: '0', NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({ isTTY: true }, {})).toBe(true);
    expect(colorWanted({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(colorWanted({ isTTY: false }, {})).toBe(false);
  });
});

describe('the live status line', () => {
  it('lists every running case, prints finished ones above it, and never draws when not live', () => {
    let live = '';
    const board = new ProgressBoard((s) => {
      live += s;
    }, true);
    board.start('stop.idle#0', 3);
    board.start('stop.in-flight#1', 3);
    expect(board.status(3)).toMatch(/^\[0\/3\] running 2: stop\.idle \d+s, stop\.in-flight \d+s$/);
    board.finish('stop.idle#0', 3, 'PASS stop.idle');
    expect(board.finished).toBe(1);
    expect(board.status(3)).toMatch(/^\[1\/3\] running 1: stop\.in-flight \d+s$/);
    expect(live).toContain('\r\x1b[2KPASS stop.idle\n');
    let plain = '';
    const quiet = new ProgressBoard((s) => {
      plain += s;
    }, false);
    quiet.start('a#0', 1);
    quiet.finish('a#0', 1, 'PASS a');
    quiet.clear();
    expect(plain).toBe('PASS a\n');
  });
});

describe('value checks', () => {
  it('integers, shards, durations', () => {
    expect(intAtLeast(1)('3')).toBe(3);
    expect(() => intAtLeast(1)('0')).toThrow(/>= 1/);
    expect(() => intAtLeast(0)('')).toThrow();
    expect(shardSpec('2/3')).toEqual([2, 3]);
    expect(() => shardSpec('4/3')).toThrow();
    expect(duration('90s')).toBe(90_000);
    expect(duration('2m')).toBe(120_000);
    expect(duration('250ms')).toBe(250);
    expect(() => duration('0s')).toThrow();
  });

  it('commander messages become one line', () => {
    const e = (message: string) => ({ message }) as Parameters<typeof commanderMessage>[0];
    expect(commanderMessage(e("error: unknown option '--jsn'\n(Did you mean --json?)"))).toBe(
      "unknown option '--jsn' (did you mean --json?)",
    );
    expect(commanderMessage(e("error: unknown command 'rnu'\n(Did you mean run?)"))).toBe(
      'unknown command: rnu (did you mean run?)',
    );
    expect(commanderMessage(e("error: option '--repeat <n>' argument '0' is invalid. must be an integer >= 1"))).toBe(
      '--repeat "0": must be an integer >= 1',
    );
  });
});

describe('.ci/run', () => {
  it('makes a skipped test for a missing program a failure in CI', () => {
    const script = readFileSync(path.join(root, '.ci', 'run'), 'utf8');
    expect(script).toMatch(/^export SIGCERT_REQUIRE_TOOLS=1$/m);
    expect(script).toMatch(/need\+=\(chromium\)/);
  });
});
