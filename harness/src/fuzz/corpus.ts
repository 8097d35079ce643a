/**
 * The regression corpus: one JSON file per shrunk counterexample, replayable without fast-check.
 *
 * ```json
 * {
 *   "subject": "test/property/subjects/hup-loses-write/manifest.json",
 *   "seed": 42, "path": "3:1:0", "replayPath": "AAB:F",
 *   "commands": [{ "op": "put" }, { "op": "reload", "valid": true }],
 *   "violation": { "kind": "write-lost", "requirement": "DURABLE.ACK_AFTER_SYNC", "expected": "...", "actual": "..." },
 *   "expect": "violation",
 *   "savedAt": "2025-01-01T00:00:00.000Z"
 * }
 * ```
 *
 * `subject` is relative to the repository root. `expect: "violation"` marks a case against a subject
 * built to be broken (its manifest lists `breaks`): its replay must still find the same kind of
 * violation, which makes the corpus a regression test of the fuzzer itself. Any other case must pass
 * once its subject is fixed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { loadManifest, repoRoot } from '../launch/index.js';
import { type CmdSpec, describeCmd, isCmdSpec } from './operations.js';
import { DEFAULT_TIMINGS, type FuzzTimings, scaleTimings } from './real.js';
import { runSpecs } from './sequence.js';
import type { ViolationJSON, ViolationKind } from './violations.js';

export interface CorpusEntry {
  /** manifest path, relative to the repository root */
  subject: string;
  seed: number;
  /** fast-check's counterexample path (replay with the same seed) */
  path: string | null;
  /** fast-check's replay path of the commands (`fc.commands({ replayPath })`) */
  replayPath?: string;
  /** the shrunk commands, as run */
  commands: CmdSpec[];
  /** fast-check's own counterexample, when the final minimization shortened it (the seed/path replay it) */
  fastCheckCommands?: CmdSpec[];
  violation: ViolationJSON;
  /** "violation": the replay must still find this kind of violation (subjects built to be broken) */
  expect?: 'violation';
  savedAt: string;
}

export class CorpusError extends Error {
  override readonly name = 'CorpusError';
}

/** Parse and check one corpus file. */
export function parseEntry(json: unknown, file: string): CorpusEntry {
  const e = json as Partial<CorpusEntry> | null;
  const bad = (why: string) => new CorpusError(`${file}: ${why}`);
  if (typeof e !== 'object' || e === null) throw bad('not a JSON object');
  if (typeof e.subject !== 'string' || e.subject.length === 0) throw bad('"subject" must be a manifest path');
  if (typeof e.seed !== 'number') throw bad('"seed" must be a number');
  if (!Array.isArray(e.commands) || !e.commands.every(isCmdSpec)) throw bad('"commands" must be a list of commands');
  if (typeof e.violation !== 'object' || e.violation === null || typeof e.violation.kind !== 'string') {
    throw bad('"violation" must name a kind');
  }
  if (e.expect !== undefined && e.expect !== 'violation') throw bad('"expect" may only be "violation"');
  return {
    subject: e.subject,
    seed: e.seed,
    path: typeof e.path === 'string' ? e.path : null,
    ...(typeof e.replayPath === 'string' ? { replayPath: e.replayPath } : {}),
    commands: e.commands,
    ...(Array.isArray(e.fastCheckCommands) && e.fastCheckCommands.every(isCmdSpec)
      ? { fastCheckCommands: e.fastCheckCommands }
      : {}),
    violation: e.violation,
    ...(e.expect === 'violation' ? { expect: 'violation' as const } : {}),
    savedAt: typeof e.savedAt === 'string' ? e.savedAt : '',
  };
}

/** Every `*.json` case in a corpus folder, sorted by name. */
export function loadCorpus(dir: string): { file: string; entry: CorpusEntry }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((n) => {
    const file = join(dir, n);
    return { file, entry: parseEntry(JSON.parse(readFileSync(file, 'utf8')), file) };
  });
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'subject';
}

/** Write a case; returns its path. */
export function saveEntry(dir: string, entry: CorpusEntry, name: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${slug(name)}-${entry.violation.kind}-${entry.seed}.json`);
  writeFileSync(file, `${JSON.stringify(entry, null, 2)}\n`);
  return file;
}

export function subjectPath(manifestFile: string): string {
  const rel = relative(repoRoot(), resolve(manifestFile));
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(manifestFile) : rel.split('\\').join('/');
}

export interface ReplayOptions {
  /** tries before giving up on reproducing the violation (timing-dependent bugs); default 1 */
  attempts?: number;
  timings?: FuzzTimings;
  timeoutScale?: number;
  /** where sequence folders go; default a fresh folder in the OS temp dir */
  workDir?: string;
  out?: (line: string) => void;
}

export interface ReplayResult {
  /** a violation of the saved kind was found again */
  reproduced: boolean;
  /** the violation found (the first attempt that found one), or null */
  violation: ViolationJSON | null;
  /** attempts made */
  attempts: number;
  /** the commands whose precondition held in the last attempt */
  executed: string[];
  /** for a case marked "expect": "violation", reproduced; for any other, no violation at all */
  asExpected: boolean;
}

/** Replay a saved command list against its subject, directly (deterministic commands, no fast-check). */
export async function replayCase(entry: CorpusEntry, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const manifest = loadManifest(isAbsolute(entry.subject) ? entry.subject : join(repoRoot(), entry.subject));
  const timings = scaleTimings(opts.timings ?? DEFAULT_TIMINGS, opts.timeoutScale ?? 1);
  const base = opts.workDir ?? join(tmpdir(), `sigcert-replay-${process.pid}-${Date.now()}`);
  const attempts = Math.max(1, opts.attempts ?? 1);
  let found: ViolationJSON | null = null;
  let executed: string[] = [];
  let n = 0;
  for (; n < attempts; n++) {
    const outcome = await runSpecs({ manifest, runDir: join(base, `replay-${n}`), timings }, entry.commands);
    executed = outcome.executed.map(describeCmd);
    opts.out?.(
      `replay ${n + 1}/${attempts} [${executed.join(', ')}]: ${outcome.violation ? outcome.violation.message : 'no violation'}`,
    );
    if (outcome.violation !== null) {
      found = outcome.violation.toJSON();
      if (found.kind === entry.violation.kind) break;
    }
  }
  const reproduced = found !== null && found.kind === (entry.violation.kind as ViolationKind);
  const asExpected = entry.expect === 'violation' ? reproduced : found === null;
  // the run folders are evidence only when the replay surprised
  if (asExpected && opts.workDir === undefined) rmSync(base, { recursive: true, force: true });
  return { reproduced, violation: found, attempts: Math.min(n + 1, attempts), executed, asExpected };
}
