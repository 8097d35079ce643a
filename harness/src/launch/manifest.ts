/**
 * Reading a subject manifest (spec/subject-protocol.md section 1): JSON, validated against
 * spec/schema/manifest.schema.json, cross-checked (ports named by readiness/upstream/placeholders exist),
 * then completed with the protocol's defaults and absolute paths.
 *
 * Every problem is a ManifestError with a one-line message: `<file>: <JSON pointer>: <problem>`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import {
  type Action,
  type Capability,
  DEFAULT_SIGNAL_MAP,
  DEFAULT_SIGNAL_REPEAT,
  ENDPOINTS,
  type Endpoint,
  type ExitCodeSpec,
  type Manifest,
  type Platform,
} from '../types.js';
import { ManifestError } from './errors.js';
import { manifestSchemaPath } from './paths.js';
import { placeholderProblems } from './placeholders.js';

export const DEFAULT_READINESS_TIMEOUT_MS = 10_000;
export const DEFAULT_READINESS_PATH = '/ready';
export const DEFAULT_GRACE_PERIOD_MS = 5_000;
export const DEFAULT_EXIT_CODES: Readonly<Manifest['exitCodes']> = Object.freeze({
  graceful: 0,
  deadline: 3,
  fastStop: 4,
});
export const ALL_PLATFORMS: readonly Platform[] = Object.freeze(['linux', 'darwin', 'win32']);
/** `upstream.holdMs` when the manifest gives none (the protocol names no default). */
export const DEFAULT_UPSTREAM_HOLD_MS = 2_000;

/** The manifest as written (schema-valid), before defaults. */
interface RawManifest {
  protocol: '1';
  name: string;
  description?: string;
  command: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  ports?: string[];
  readiness?: { kind: 'probe' | 'http' | 'tcp' | 'notify'; path?: string; port?: string; timeoutMs?: number };
  signals?: Record<string, Action>;
  signalsRepeat?: Record<string, Action>;
  capabilities?: Partial<Record<Capability, boolean>>;
  endpoints?: Endpoint[];
  gracePeriodMs?: number;
  preDrainDelayMs?: number;
  exitCodes?: Partial<Record<'graceful' | 'deadline' | 'fastStop', ExitCodeSpec>>;
  platforms?: Platform[];
  upstream?: { port: string; holdMs?: number };
  setup?: string[];
  breaks?: string[];
}

let validator: ValidateFunction | null = null;

function validate(): ValidateFunction {
  if (validator === null) {
    const schema = JSON.parse(readFileSync(manifestSchemaPath(), 'utf8')) as Record<string, unknown>;
    // `$schema` in the schema is draft-07, Ajv's default dialect.
    const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
    validator = ajv.compile(schema);
  }
  return validator;
}

const UNCATCHABLE = 'SIGKILL and SIGSTOP cannot be caught, blocked or ignored, so a subject cannot declare them';

/**
 * POSIX.1 signal names (plus SIGWINCH). On Windows, whose Node defines only a handful of signal names,
 * a manifest may still name these: its signal cases are not applicable there, and the same manifest
 * serves Linux and macOS.
 */
const POSIX_SIGNALS: ReadonlySet<string> = new Set([
  'SIGABRT',
  'SIGALRM',
  'SIGBUS',
  'SIGCHLD',
  'SIGCONT',
  'SIGFPE',
  'SIGHUP',
  'SIGILL',
  'SIGINT',
  'SIGKILL',
  'SIGPIPE',
  'SIGQUIT',
  'SIGSEGV',
  'SIGSTOP',
  'SIGTERM',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGUSR1',
  'SIGUSR2',
  'SIGPOLL',
  'SIGPROF',
  'SIGSYS',
  'SIGTRAP',
  'SIGURG',
  'SIGVTALRM',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGWINCH',
]);

/** Signal names a manifest may use on `platform`: the ones this OS defines (os.constants.signals). */
export function definedSignalNames(platform: NodeJS.Platform = process.platform): Set<string> {
  const names = new Set(Object.keys(os.constants.signals));
  if (platform === 'win32') for (const n of POSIX_SIGNALS) names.add(n);
  return names;
}

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `candidates` to `word` when it is close enough to be a typo, else undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const dd = distance(word, c);
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function checkSignalNames(file: string, field: 'signals' | 'signalsRepeat', map: Record<string, Action> | undefined) {
  if (map === undefined) return;
  const defined = definedSignalNames();
  for (const name of Object.keys(map)) {
    if (name === 'SIGKILL' || name === 'SIGSTOP') throw new ManifestError(file, `/${field}${seg(name)}`, UNCATCHABLE);
    if (!defined.has(name)) {
      const near = closest(
        name,
        [...defined].filter((n) => n !== 'SIGKILL' && n !== 'SIGSTOP'),
      );
      throw new ManifestError(
        file,
        `/${field}${seg(name)}`,
        `not a signal ${process.platform} defines${near ? ` (did you mean ${near}?)` : ''}`,
      );
    }
  }
}

/** Escape one JSON pointer segment (RFC 6901). */
function seg(s: string): string {
  return `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The first schema violation, as a pointer and a short problem. */
function describe(errors: readonly ErrorObject[]): { pointer: string; problem: string } {
  const oneOf = errors.find((e) => e.keyword === 'oneOf');
  if (oneOf) {
    const problem = oneOf.schemaPath.includes('exitCode')
      ? 'must be an integer 0..255 or "signal"'
      : 'must match exactly one allowed form';
    return { pointer: oneOf.instancePath, problem };
  }
  const e = errors[0];
  if (e === undefined) return { pointer: '', problem: 'invalid' };
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { pointer: e.instancePath + seg(String(p.additionalProperty)), problem: 'unknown field' };
    case 'required':
      return { pointer: e.instancePath + seg(String(p.missingProperty)), problem: 'required field missing' };
    case 'enum':
      return {
        pointer: e.instancePath,
        problem: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { pointer: e.instancePath, problem: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'not':
      if (typeof e.propertyName === 'string' && e.schemaPath.includes('signalMap')) {
        return { pointer: e.instancePath + seg(e.propertyName), problem: UNCATCHABLE };
      }
      return { pointer: e.instancePath, problem: e.message ?? e.keyword };
    case 'pattern':
      if (typeof e.propertyName === 'string' || typeof p.propertyName === 'string') {
        const name = String(e.propertyName ?? p.propertyName);
        return { pointer: e.instancePath + seg(name), problem: `invalid name (must match ${String(p.pattern)})` };
      }
      return { pointer: e.instancePath, problem: `must match ${String(p.pattern)}` };
    case 'uniqueItems':
      return { pointer: e.instancePath, problem: `duplicate items (#${String(p.j)} and #${String(p.i)})` };
    default:
      return { pointer: e.instancePath, problem: e.message ?? e.keyword };
  }
}

/** `line L column C` of a 0-based character offset. */
function lineColumn(text: string, pos: number): string {
  const before = text.slice(0, Math.max(0, Math.min(pos, text.length)));
  const lines = before.split('\n');
  return `line ${lines.length} column ${(lines[lines.length - 1]?.length ?? 0) + 1}`;
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message.replace(/\s*\(line \d+ column \d+\)\s*$/, '');
    const m = /at position (\d+)/.exec(msg);
    let where = '';
    if (m) where = ` at ${lineColumn(text, Number(m[1]))}`;
    else if (/end of JSON input/i.test(msg)) where = ` at ${lineColumn(text, text.length)}`;
    const what = msg.replace(/\s*in JSON at position \d+/, '').replace(/\s*at position \d+/, '');
    throw new ManifestError(file, null, `invalid JSON${where}: ${what}`);
  }
}

function check(cond: boolean, file: string, pointer: string, problem: string): void {
  if (!cond) throw new ManifestError(file, pointer, problem);
}

/** Cross-field rules the schema cannot say. */
function crossCheck(file: string, raw: RawManifest, ports: string[]): void {
  checkSignalNames(file, 'signals', raw.signals);
  checkSignalNames(file, 'signalsRepeat', raw.signalsRepeat);
  const portList = ports.join(', ');
  if (raw.readiness?.port !== undefined) {
    check(
      ports.includes(raw.readiness.port),
      file,
      '/readiness/port',
      `unknown port "${raw.readiness.port}" (ports: ${portList})`,
    );
  }
  if (raw.readiness?.kind === 'probe') {
    check(raw.capabilities?.probe === true, file, '/readiness/kind', 'probe readiness needs capabilities.probe');
  }
  if (raw.upstream !== undefined) {
    check(
      ports.includes(raw.upstream.port),
      file,
      '/upstream/port',
      `unknown port "${raw.upstream.port}" (ports: ${portList})`,
    );
  }
  if ((raw.preDrainDelayMs ?? 0) > 0) {
    check(raw.capabilities?.preDrainDelay === true, file, '/preDrainDelayMs', 'needs capabilities.preDrainDelay');
  }
  (raw.args ?? []).forEach((a, i) => {
    const problems = placeholderProblems(a, ports);
    check(problems.length === 0, file, `/args/${i}`, problems[0] ?? '');
  });
  for (const [k, v] of Object.entries(raw.env ?? {})) {
    check(
      !k.startsWith('SIGCERT_'),
      file,
      `/env${seg(k)}`,
      'reserved name (SIGCERT_* variables are set by the harness)',
    );
    const problems = placeholderProblems(v, ports);
    check(problems.length === 0, file, `/env${seg(k)}`, problems[0] ?? '');
  }
}

/** Default repeat map: the spec's (SIGINT -> fast-stop), kept only for signals the map treats as `stop`. */
function defaultRepeat(signals: Record<string, Action>): Record<string, Action> {
  const out: Record<string, Action> = {};
  for (const [sig, action] of Object.entries(DEFAULT_SIGNAL_REPEAT)) if (signals[sig] === 'stop') out[sig] = action;
  return out;
}

/** Turn a schema-valid raw manifest into a complete Manifest (defaults, absolute paths). */
function completeManifest(raw: RawManifest, absFile: string): Manifest {
  const dir = dirname(absFile);
  const ports = raw.ports ?? ['http'];
  const firstPort = ports[0] ?? 'http';
  const probe = raw.capabilities?.probe === true;
  const signals = { ...(raw.signals ?? DEFAULT_SIGNAL_MAP) };
  const hasSlash = raw.command.includes('/') || (process.platform === 'win32' && raw.command.includes('\\'));
  const m: Manifest = {
    protocol: raw.protocol,
    name: raw.name,
    command: hasSlash && !isAbsolute(raw.command) ? resolve(dir, raw.command) : raw.command,
    args: [...(raw.args ?? [])],
    cwd: resolve(dir, raw.cwd ?? '.'),
    env: { ...(raw.env ?? {}) },
    ports: [...ports],
    readiness: {
      kind: raw.readiness?.kind ?? (probe ? 'probe' : 'tcp'),
      port: raw.readiness?.port ?? firstPort,
      path: raw.readiness?.path ?? DEFAULT_READINESS_PATH,
      timeoutMs: raw.readiness?.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS,
    },
    signals,
    signalsRepeat: { ...(raw.signalsRepeat ?? defaultRepeat(signals)) },
    capabilities: { ...(raw.capabilities ?? {}) },
    endpoints: raw.capabilities?.conformanceEndpoints === true ? [...ENDPOINTS] : [...(raw.endpoints ?? [])],
    gracePeriodMs: raw.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS,
    preDrainDelayMs: raw.preDrainDelayMs ?? 0,
    exitCodes: { ...DEFAULT_EXIT_CODES, ...(raw.exitCodes ?? {}) },
    platforms: [...(raw.platforms ?? ALL_PLATFORMS)],
    file: absFile,
    dir,
  };
  if (raw.description !== undefined) m.description = raw.description;
  if (raw.upstream !== undefined)
    m.upstream = { port: raw.upstream.port, holdMs: raw.upstream.holdMs ?? DEFAULT_UPSTREAM_HOLD_MS };
  if (raw.setup !== undefined) m.setup = [...raw.setup];
  if (raw.breaks !== undefined) m.breaks = [...raw.breaks];
  return m;
}

/**
 * Validate an already-parsed manifest object. `file` is used in messages and to resolve relative paths.
 */
export function parseManifest(json: unknown, file: string): Manifest {
  const v = validate();
  if (!v(json)) {
    const { pointer, problem } = describe(v.errors ?? []);
    throw new ManifestError(file, pointer, problem);
  }
  const raw = json as RawManifest;
  crossCheck(file, raw, raw.ports ?? ['http']);
  return completeManifest(raw, resolve(file));
}

/** Read, validate and complete a manifest file. Throws ManifestError (one line) on any problem. */
export function loadManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot read (${code ?? (err as Error).message})`;
    throw new ManifestError(file, null, problem);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseManifest(parseJson(file, text), file);
}
