/**
 * Hand-written command lists, replayed directly (no fast-check) against correct subjects (the
 * property tests' own small subject and the reference): each pins one path of the model against a
 * real process (escalation, a blocked FIFO read across a stop, the deadline, refused connections
 * after the stop, a reload storm, the control channel), with the exit status the model must predict.
 * A model change that would flag a correct subject fails here first, with a readable sequence.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CmdSpec } from '../../harness/src/fuzz/operations.js';
import { DEFAULT_TIMINGS } from '../../harness/src/fuzz/real.js';
import { runSpecs } from '../../harness/src/fuzz/sequence.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import type { Manifest } from '../../harness/src/types.js';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const mini = loadManifest(path.join(here, 'subjects/mini-correct/manifest.json'));
const reference = loadManifest(path.join(root, 'subjects/reference/manifest.json'));
const work = path.join(tmpdir(), `sigcert-scenarios-${process.pid}`);
let n = 0;

let failed = false;

afterAll(async () => {
  await teardownAll();
  if (!failed) rmSync(work, { recursive: true, force: true });
});

async function run(manifest: Manifest, specs: CmdSpec[]) {
  const runDir = path.join(work, `s${n++}`);
  const out = await runSpecs({ manifest, runDir, timings: DEFAULT_TIMINGS }, specs);
  return {
    violation: out.violation?.message ?? null,
    executed: out.executed.length,
    code: out.ending?.exit.code,
    expected: out.ending?.expected.codes,
  };
}

const SIG = (sig: string): CmdSpec => ({ op: 'signal', sig });
type Scenario = [name: string, specs: CmdSpec[], exitCode: number];

const common: Scenario[] = [
  ['INT, INT with a request in flight: fast stop', [{ op: 'hold', ms: 400 }, SIG('SIGINT'), SIG('SIGINT')], 4],
  [
    'TERM, TERM: one graceful stop, the held request completes',
    [{ op: 'hold', ms: 300 }, SIG('SIGTERM'), SIG('SIGTERM')],
    0,
  ],
  ['TERM, QUIT: escalation', [{ op: 'hold', ms: 300 }, { op: 'put' }, SIG('SIGTERM'), SIG('SIGQUIT')], 4],
  [
    'TERM, then a first INT: the repeat map escalates, whatever started the stop (spec 4.2)',
    [{ op: 'hold', ms: 400 }, SIG('SIGTERM'), SIG('SIGINT')],
    4,
  ],
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
    [SIG('SIGWINCH'), SIG('SIGURG'), SIG('SIGCHLD'), SIG('SIGPIPE'), { op: 'hold', ms: 50 }, { op: 'await-requests' }],
    0,
  ],
  [
    'reload after the stop is ignored; reopen-logs still runs',
    [{ op: 'hold', ms: 200 }, SIG('SIGTERM'), { op: 'reload', valid: true }, SIG('SIGUSR1'), { op: 'await-requests' }],
    0,
  ],
];

const onlyMini: Scenario[] = [
  // hold 3 s against a 2 s grace period: the model predicts the deadline code, not 0
  ['a request longer than the grace period: the deadline', [{ op: 'hold', ms: 3000 }, SIG('SIGTERM')], 3],
];

const onlyReference: Scenario[] = [
  [
    'control channel: reloads answer with their outcome, a stop drains',
    [
      { op: 'control', action: 'reload', valid: true },
      { op: 'control', action: 'reload', valid: false },
      { op: 'control', action: 'reopen-logs' },
      { op: 'hold', ms: 300 },
      { op: 'control', action: 'stop' },
      { op: 'control', action: 'reload', valid: true },
      { op: 'await-requests' },
    ],
    0,
  ],
  [
    'control channel: a fast stop escalates a graceful stop',
    [{ op: 'hold', ms: 400 }, SIG('SIGTERM'), { op: 'control', action: 'fast-stop' }],
    4,
  ],
];

describe.skipIf(process.platform === 'win32')('scenarios against correct subjects', () => {
  const all: [Manifest, Scenario[]][] = [
    [mini, [...common, ...onlyMini]],
    [reference, [...common, ...onlyReference]],
  ];
  for (const [manifest, scenarios] of all) {
    for (const [name, specs, code] of scenarios) {
      it(`${manifest.name}: ${name} (exit ${code})`, async () => {
        const r = await run(manifest, specs);
        failed ||= r.violation !== null;
        expect(r.violation).toBeNull();
        expect(r.executed).toBe(specs.length);
        expect(r.code).toBe(code);
        expect(r.expected).toEqual([code]);
      });
    }
  }
});
