/**
 * Hand-written command lists, replayed directly (no fast-check) against the property tests' own
 * correct subject: each pins one path of the model against a real process (escalation, a blocked
 * FIFO read across a stop, the deadline, refused connections after the stop, a reload storm), so a
 * model change that would flag a correct subject fails here first, with a readable sequence.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CmdSpec } from '../../harness/src/fuzz/commands.js';
import { DEFAULT_TIMINGS } from '../../harness/src/fuzz/real.js';
import { runSpecs } from '../../harness/src/fuzz/sequence.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';

const here = import.meta.dirname;
const correct = loadManifest(path.join(here, 'subjects/mini-correct/manifest.json'));
const work = path.join(tmpdir(), `sigcert-scenarios-${process.pid}`);
let n = 0;

afterAll(async () => {
  await teardownAll();
});

async function run(specs: CmdSpec[]) {
  const out = await runSpecs(
    { manifest: correct, runDir: path.join(work, `s${n++}`), timings: DEFAULT_TIMINGS },
    specs,
  );
  return {
    violation: out.violation?.message ?? null,
    executed: out.executed.length,
    code: out.ending?.exit.code,
    expected: out.ending?.expected.codes,
  };
}

const SIG = (sig: string): CmdSpec => ({ op: 'signal', sig });

describe.skipIf(process.platform === 'win32')('scenarios against a correct subject', () => {
  const cases: [string, CmdSpec[], number][] = [
    ['INT, INT with a request in flight: fast stop', [{ op: 'hold', ms: 400 }, SIG('SIGINT'), SIG('SIGINT')], 4],
    [
      'TERM, TERM: one graceful stop, the held request completes',
      [{ op: 'hold', ms: 300 }, SIG('SIGTERM'), SIG('SIGTERM')],
      0,
    ],
    ['TERM, QUIT: escalation', [{ op: 'hold', ms: 300 }, { op: 'put' }, SIG('SIGTERM'), SIG('SIGQUIT')], 4],
    [
      'a FIFO read blocked across a graceful stop completes once the line is written',
      [{ op: 'fifo-read' }, SIG('SIGTERM'), { op: 'connect-after-stop' }, { op: 'fifo-write' }],
      0,
    ],
    [
      'a reload storm ending on an invalid file, then the reloads settle',
      [
        { op: 'reload', valid: true },
        { op: 'reload', valid: true },
        { op: 'reload', valid: false },
        { op: 'await-reload' },
        { op: 'reload', valid: true },
        { op: 'await-reload' },
      ],
      0,
    ],
    [
      'writes across a reload and a fast stop: acknowledged ones survive the restart',
      [{ op: 'put' }, { op: 'await-requests' }, { op: 'reload', valid: true }, { op: 'put' }, SIG('SIGQUIT')],
      4,
    ],
    [
      'harmless signals and SIGPIPE change nothing',
      [SIG('SIGWINCH'), SIG('SIGURG'), SIG('SIGCHLD'), SIG('SIGPIPE')],
      0,
    ],
    [
      'reload after the stop is ignored; reopen-logs still runs',
      [
        { op: 'hold', ms: 200 },
        SIG('SIGTERM'),
        { op: 'reload', valid: true },
        SIG('SIGUSR1'),
        { op: 'await-requests' },
      ],
      0,
    ],
    // hold 3 s against a 2 s grace period: the model predicts the deadline code, not 0
    ['a request longer than the grace period: the deadline', [{ op: 'hold', ms: 3000 }, SIG('SIGTERM')], 3],
  ];
  for (const [name, specs, code] of cases) {
    it(`${name} (exit ${code})`, async () => {
      const r = await run(specs);
      expect(r.violation).toBeNull();
      expect(r.executed).toBe(specs.length);
      expect(r.code).toBe(code);
      expect(r.expected).toEqual([code]);
    });
  }
});
