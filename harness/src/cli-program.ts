/**
 * The command line: commands, options, help, --version, did-you-mean and range checks, with
 * commander (https://github.com/tj/commander.js). Why commander: it is the most used Node argument
 * parser, maintained, has no dependencies, and does subcommands, per-command --help, --version and
 * "did you mean" for commands and options out of the box; value checks plug in as argument parsers.
 * (node:util parseArgs does none of those: every one would be ours to write and keep.)
 *
 * This module only parses. Each command's work is a handler passed in by cli.ts, called with checked,
 * typed options. Every usage error becomes a UsageError with a one-line message (exit 2).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { closest } from './launch/manifest.js';
import type { Platform } from './types.js';

export class UsageError extends Error {}

export interface RunOptions {
  subject?: string;
  grep?: string;
  shard?: [number, number];
  bail?: boolean;
  first?: string;
  repeat: number;
  retries: number;
  timeoutScale: number;
  concurrency: number;
  json?: string;
  junit?: string;
  html?: string;
  out?: string;
  lastFailed?: boolean;
  /** grade the subject as this platform (default: this machine's); `win32` elsewhere emulates Windows */
  platform?: Platform;
}

export interface SubjectOptions {
  subject?: string;
}

export interface FuzzOptions {
  subject?: string;
  runs: number;
  seed?: number;
  timeLimitMs?: number;
  maxCommands?: number;
  corpus?: string;
  timeoutScale: number;
}

export interface MatrixOptions {
  only?: string[];
  out?: string;
  grep?: string;
  concurrency: number;
  timeoutScale: number;
  html?: string;
}

/** The report files a command writes when asked. */
export interface ReportFiles {
  json?: string;
  junit?: string;
  html?: string;
}

export type MergeOptions = ReportFiles;

export interface Handlers {
  run(o: RunOptions): Promise<number>;
  list(o: SubjectOptions): Promise<number>;
  /** analyze parses its own arguments: `argv` is `<run-dir> [--json F] [--junit F] [--html F]`, checked */
  analyze(argv: string[], o: ReportFiles): Promise<number>;
  doctor(o: SubjectOptions): Promise<number>;
  fuzz(o: FuzzOptions): Promise<number>;
  matrix(o: MatrixOptions): Promise<number>;
  merge(files: string[], o: MergeOptions): Promise<number>;
}

export const EXIT_CODES_HELP =
  'exit codes: 0 compliant, 1 not compliant, 2 usage or manifest error, 3 harness error, 4 not certified (the subject did not start), 130 interrupted';

// ----- value checks (each throws InvalidArgumentError with the problem; commander names the option)

export function intAtLeast(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return n;
  };
}

function anyInt(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

export function shardSpec(v: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('must look like i/n, e.g. 2/3');
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || i < 1 || i > n) throw new InvalidArgumentError('needs 1 <= i <= n');
  return [i, n];
}

function regex(v: string): string {
  try {
    new RegExp(v);
  } catch {
    throw new InvalidArgumentError('is not a valid regular expression');
  }
  return v;
}

/** `60s`, `2m`, `5000ms` or a number of seconds, in milliseconds. */
export function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new InvalidArgumentError('must look like 60s, 2m or 5000ms');
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new InvalidArgumentError('must be longer than 0');
  return ms;
}

const PLATFORMS: readonly Platform[] = ['linux', 'darwin', 'win32'];
const PLATFORM_ALIASES: Record<string, Platform> = {
  windows: 'win32',
  win: 'win32',
  win64: 'win32',
  macos: 'darwin',
  mac: 'darwin',
  osx: 'darwin',
};

/** A platform name as Node spells it (`process.platform`): linux, darwin or win32. */
export function platformName(v: string): Platform {
  if ((PLATFORMS as readonly string[]).includes(v)) return v as Platform;
  const near = PLATFORM_ALIASES[v.toLowerCase()] ?? closest(v, PLATFORMS);
  throw new InvalidArgumentError(`must be one of ${PLATFORMS.join(', ')}${near ? ` (did you mean ${near}?)` : ''}`);
}

function nameList(v: string): string[] {
  const names = v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (names.length === 0) throw new InvalidArgumentError('must name at least one subject');
  return names;
}

/** A CommanderError as one line, without commander's "error: " and with its suggestion inline. */
export function commanderMessage(e: CommanderError): string {
  let msg = e.message.replace(/^error:\s*/, '');
  msg = msg.replace(/\s*\n\(Did you mean (.+)\?\)/, ' (did you mean $1?)');
  const invalid = /^option '([^' ]+)[^']*' argument '([\s\S]*)' is invalid\.\s*([\s\S]*)$/.exec(msg);
  if (invalid) msg = `${invalid[1]} ${JSON.stringify(invalid[2])}: ${invalid[3]}`;
  const unknownCmd = /^unknown command '([^']*)'(.*)$/.exec(msg);
  if (unknownCmd) msg = `unknown command: ${unknownCmd[1]}${unknownCmd[2]}`;
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The sigcert program. `handlers` do the work; `result.code` holds the exit status of the command that
 * ran. Parse with `program.parseAsync(argv, { from: 'user' })`; commander errors are thrown (exitOverride),
 * not printed, so the caller turns them into one line.
 */
export function buildProgram(handlers: Handlers, version: string): { program: Command; result: { code: number } } {
  const result = { code: 0 };
  const program = new Command('sigcert');
  program
    .description('certify how a long-running server handles signals (Clean Signal Handling v1)')
    .version(version, '-V, --version', 'print the version of sigcert')
    .helpOption('-h, --help', 'show help (also: sigcert <command> --help)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's own error text is replaced by ours (one line) in cli.ts
      outputError: () => {},
    })
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);

  const subject = () => new Option('--subject <manifest>', 'subject manifest (default: the bundled reference server)');

  program
    .command('run')
    .description('certify a subject (default: the bundled reference server)')
    .addOption(subject())
    .option('--grep <regex>', 'only cases whose id, title or requirement matches', regex)
    .option('--shard <i/n>', 'run the i-th of n shards', shardSpec)
    .option('--last-failed', 'run only the cases that did not pass in the last run (in .sigcert/runs)')
    .option('--bail', 'stop starting cases after the first that does not pass (a quick red, not a certificate)')
    .option('--first <regex>', 'start the cases whose id matches before the others (the order only)', regex)
    .option('--repeat <n>', 'run every case n times', intAtLeast(1), 1)
    .option('--retries <n>', 'retry a failing case n times (a pass after a retry is graded flaky)', intAtLeast(0), 0)
    .option('--timeout-scale <x>', 'multiply every deadline by x (slow machines)', positiveNumber, 1)
    .option('--concurrency <n>', 'cases run at once, each on its own ports', intAtLeast(1), 2)
    .option('--json <file>', 'write the canonical JSON report')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--out <dir>', 'where the run directory goes (default .sigcert/runs/<time>)')
    .option(
      '--platform <name>',
      "grade as this platform (default: this machine's); win32 on Linux or macOS treats the subject as if on Windows: no POSIX signal, control channel only",
      platformName,
    )
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .action(async (o: RunOptions) => {
      result.code = await handlers.run(o);
    });

  program
    .command('list')
    .description('cases x requirements; requirements with no case are marked')
    .addOption(subject().default(undefined, 'none: applicability is not shown'))
    .action(async (o: SubjectOptions) => {
      result.code = await handlers.list(o);
    });

  program
    .command('analyze')
    .description('re-grade a stored run directory without re-running it')
    .argument('<run-dir>', 'a run directory (.sigcert/runs/<time>)')
    .option('--json <file>', 'write the canonical JSON report')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--html <file>', 'write a self-contained HTML report')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .action(async (dir: string, o: ReportFiles) => {
      // analyze reads its arguments itself (cli.ts): hand it the checked ones in its own form
      const argv = [dir];
      for (const k of ['json', 'junit', 'html'] as const) if (o[k] !== undefined) argv.push(`--${k}`, o[k]);
      result.code = await handlers.analyze(argv, o);
    });

  program
    .command('doctor')
    .description("check a manifest, the subject's readiness, and which signals this OS can deliver")
    .addOption(subject())
    .action(async (o: SubjectOptions) => {
      result.code = await handlers.doctor(o);
    });

  program
    .command('fuzz')
    .description('random signal sequences against a subject, shrunk to a minimal failing sequence')
    .addOption(subject())
    .option('--runs <n>', 'sequences to try', intAtLeast(1), 20)
    .option('--seed <s>', 'seed, to replay a run', anyInt)
    .addOption(new Option('--time-limit <duration>', 'stop after this long (60s, 2m, 5000ms)').argParser(duration))
    .option('--max-commands <n>', 'longest sequence', intAtLeast(1))
    .option('--corpus <dir>', 'where failing sequences are saved (default test/property/corpus)')
    .option('--timeout-scale <x>', 'multiply every deadline by x', positiveNumber, 1)
    .action(async (o: Omit<FuzzOptions, 'timeLimitMs'> & { timeLimit?: number }) => {
      const { timeLimit, ...rest } = o;
      result.code = await handlers.fuzz({ ...rest, ...(timeLimit !== undefined ? { timeLimitMs: timeLimit } : {}) });
    });

  program
    .command('matrix')
    .description('certify every subject in subjects/ side by side')
    .option('--only <names>', 'comma-separated subject names', nameList)
    .option('--out <dir>', 'where matrix.md and matrix.json go (default reports/matrix)')
    .option('--grep <regex>', 'only cases whose id, title or requirement matches', regex)
    .option('--concurrency <n>', 'subjects certified at once', intAtLeast(1), 3)
    .option('--timeout-scale <x>', 'multiply every deadline by x', positiveNumber, 1)
    .option('--html <file>', 'also write one HTML report per subject (<file>.<subject>.html)')
    .action(async (o: MatrixOptions) => {
      result.code = await handlers.matrix(o);
    });

  program
    .command('merge')
    .description('combine the JSON reports of shards into one report and one verdict')
    .argument('<report.json...>', 'shard reports of the same subject, spec and sigcert version')
    .option('--json <file>', 'write the merged JSON report')
    .option('--junit <file>', 'write the merged JUnit XML report')
    .option('--html <file>', 'write the merged HTML report')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .action(async (files: string[], o: MergeOptions) => {
      result.code = await handlers.merge(files, o);
    });

  return { program, result };
}

export { CommanderError };
