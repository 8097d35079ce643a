/**
 * The zoo: "a conformance harness is only as good as the bugs it catches".
 *
 * Every folder of test/zoo with a manifest.json is a subject built to violate the requirements its
 * manifest lists in `breaks`, through exactly one bug (the Node servers are the shared base
 * `_base/server.mjs` with one `ZOO_BUG` switch; the Python ones `_pybase/server.py`; one is in C). Two
 * controls (`base-control`, `py-control`: the bases with no bug, `breaks: []`) show that the bases
 * themselves fail nothing. For every subject the harness's own catalog runs through its own runner and
 * rollup, exactly as `sigcert run` would, and this test asserts:
 *
 *  - caught: every requirement in `breaks` has status fail (or non-strict) in the rollup;
 *  - no false failure: no MUST requirement outside `breaks` has status fail, and a control (no bug)
 *    fails no requirement of any level: a SHOULD check that fails a correct server is a false failure too;
 *  - every `breaks` ID exists in spec/requirements.json, and no case ends in harness-error or timeout;
 *
 * except where KNOWN_DEVIATIONS / KNOWN_ERROR_CASES name the harness defect (HARNESS_ISSUES, found by
 * this zoo) that explains a deviation. Those lists are strict: an entry no longer observed fails the test,
 * so a fixed harness forces its removal. TIMING_DEPENDENT lists the consequences of a bug that the
 * catalog sees only sometimes; launches that lost a port race (H7) are run again and reported.
 *
 * Case selection (documented, fixed). The `latency.*` trial suites run only for a subject whose `breaks`
 * cites one of their requirements: they time 100 signals each against p99 budgets of 5-100 ms, which the
 * CPU load of a concurrently running zoo on a two-core machine would make meaningless. The `lifecycle.*`
 * cells (26 cases, 40% of a subject's time) run for the controls (no `breaks`: every cell, so none fails a
 * correct server) and for a subject whose `breaks` cites a requirement they judge (`requirements` or
 * `alsoJudges`); test/reference/lifecycle-zoo.test.ts drives the base through every cell as well. Every
 * other case runs
 *
 *  - for the controls, always: every case, so none fails a correct base;
 *  - for a broken subject, when the case judges a requirement of the same area (the ID's first part:
 *    STOP, DURABLE, RELOAD, ...) as one of its `breaks`. That keeps every case that can catch the bug and
 *    every case where the bug's effect could be re-judged under a neighbouring requirement (the false
 *    failures H3 and H4 were all of that kind); it leaves out cases that judge only other areas, which on
 *    a one-bug variant of a base the controls certify repeat the control's run. The whole zoo on every
 *    case of every subject took 280-356 s of npm test's 15 minutes; the area selection about 40% of it.
 *  - with `SIGCERT_ZOO=full` (`npm run zoo`, and the weekly workflow .github/workflows/zoo.yml): every
 *    case for every subject, the full precision check.
 *
 * Cases that do not apply to a subject (capabilities, map) are not-applicable as usual and cost nothing.
 *
 * Time: subjects run three at a time, two cases at once each; the run is CPU-bound (each case starts at
 * least one subject process).
 *
 * Output: the detection matrix (subject x requirement, declared vs observed) printed and written to
 * reports/zoo-matrix.md and reports/zoo-matrix.json, ending with `caught N/M, false failures K`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaseDef } from '../../harness/src/case.js';
import { loadCases } from '../../harness/src/cases/index.js';
import { rollupRequirements } from '../../harness/src/grade/rules.js';
import { loadManifest, teardownAll } from '../../harness/src/launch/index.js';
import type { CaseResult, RequirementRollup } from '../../harness/src/report/index.js';
import { runCases } from '../../harness/src/runner.js';
import { loadRegistry } from '../../harness/src/spec.js';
import type { Level, Manifest } from '../../harness/src/types.js';
import { REQUIRE_TOOLS_VAR, toolsRequired } from '../harness/system-tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const zooDir = import.meta.dirname;
/** Subjects run at once, and cases at once per subject: 3 x 2 keeps a two-core machine busy, not saturated. */
const SUBJECTS_AT_ONCE = 3;
const CASES_AT_ONCE = 2;

// ---------------------------------------------------------------------------------------------
// Known harness issues. Each one was found by this zoo; the report of the zoo's author describes the
// proposed fixes. `kind`: `missed` = a declared break the harness does not catch; `false-failure` = a
// MUST outside `breaks` the harness fails. `strict: false` only for an issue that depends on timing.

interface HarnessIssue {
  title: string;
  fix: string;
}

const HARNESS_ISSUES: Record<string, HarnessIssue> = {
  H1: {
    title:
      'runner.ts discards the evidence when a case run throws: a subject that died or stopped mid-case (signalled after its exit, a refused connection, a probe event that never came) yields harness-error with no verdicts, so the failure it already showed is lost',
    fix: 'runner.runOnce keeps an unexpected death it already recorded (outcome crash, PROC.NO_CRASH_SIGNAL) when the run then throws; and the cases stop where the subject may be gone: control.channel ends (CONTROL.AUTH fail) after an unauthenticated request was obeyed, reload.invalid-config checks s.exited before its second signal, stop.predrain-delay catches the wait for stop-accepting',
  },
  H2: {
    title:
      'report/rollup.ts: a crashed case votes fail on every requirement it cites, also those its verdicts passed or did not judge (e.g. PROC.NO_ORPHANS and PROC.REAP from proc.no-orphans, LATENCY.WITHIN_GRACE and STOP.PERSIST_ALL_PATHS from stop.idle)',
    fix: 'voteOf: treat `crash` like `timeout`/`harness-error` (fail only where the case has a fail verdict, else undecided); the death itself is already a PROC.NO_CRASH_SIGNAL fail verdict (grade.ts)',
  },
  H3: {
    title:
      'repeat.stop-then-reload grades SIG.HUP.NEVER_FATAL as "the stop exited 0": a stop that ends with the deadline status (3) is reported as killed by SIGHUP',
    fix: 'SIG.HUP.NEVER_FATAL passes when the subject exited and not by a signal (x !== null && x.signal === null); the exit code is STOP.EXIT_ZERO, already graded by the same case',
  },
  H4: {
    title:
      'verdicts that re-judge the drain, the persist or the exit code under another requirement: REPEAT.STOP_DOMINATES (repeat.stop-then-reload), PROC.GROUP_DELIVERY (proc.group-delivery) and BUS.APP_REQUESTS (control.channel) require exit 0; REPEAT.IDEMPOTENT (repeat.stop-stop) requires the held request to complete, exactly one persist and an acknowledgement of a second signal the subject may never see (it exited first); STOP.CONNECTION_CLOSE (stop.busy-keepalive-not-reused) requires the busy response to succeed',
    fix: 'each verdict judges only its own requirement: no reload after the stop and an exit not by a signal (STOP_DOMINATES, APP_REQUESTS after the stop request), one STOPPING and at most one persist (GROUP_DELIVERY, IDEMPOTENT; IDEMPOTENT unknown when the second signal was never acknowledged), the connection not reused (CONNECTION_CLOSE); the drain, the persist and the exit code are graded in the same cases by STOP.DRAIN.IN_FLIGHT, STOP.PERSIST_ALL_PATHS and STOP.EXIT_ZERO (proc.group-delivery gains a STOP.DRAIN.IN_FLIGHT verdict)',
  },
  H5: {
    title:
      'io.slow-download and io.slow-upload send the reload signal and the stop signal back to back: which one the subject handles first is not determined, so whether the reload happens during the transfer is a race; and they grade STOP.DRAIN.IN_FLIGHT with the same condition as IO.EINTR, so a transfer the reload dropped also counts as dropped by the stop',
    fix: 'wait for the reload acknowledgement (waitAck, then reload-done/reload-failed with a probe) before sending the stop signal; grade STOP.DRAIN.IN_FLIGHT unknown when the transfer failed after a reload signal',
  },
  H6: {
    title:
      'DURABLE.ACK_AFTER_SYNC is graded only across a graceful stop, whose persist step flushes everything: a store that acknowledges before fsync passes it (only DURABLE.CRASH, for crashDurability subjects, can see the lie)',
    fix: 'also grade DURABLE.ACK_AFTER_SYNC in durable.sigkill (every acknowledged write readable after SIGKILL), or add a case for durableStore subjects that kills without persisting',
  },
  H7: {
    title:
      "launch/ports.ts takes ports from the kernel ephemeral range (listen on port 0, then close), the range the harness's own client sockets draw their source ports from: under load a port handed to a subject is sometimes already the source port of a live client connection, and the subject fails to bind it (EADDRINUSE), a harness-error",
    fix: 'allocate from a range disjoint from the ephemeral one (Linux: below net.ipv4.ip_local_port_range, e.g. random ports in 20000-32767, each checked by a bind; macOS: below 49152), or retry the launch with fresh ports when the subject exits before ready while its port is taken',
  },
};

interface KnownDeviation {
  zoo: string;
  requirement: string;
  kind: 'missed' | 'false-failure';
  issue: keyof typeof HARNESS_ISSUES;
  /** default true: the deviation must be observed (it disappears when the harness is fixed) */
  strict?: boolean;
}

/** A case allowed to end in harness-error or timeout for one subject, because of a known issue. */
interface KnownErrorCase {
  zoo: string;
  caseId: string;
  issue: keyof typeof HARNESS_ISSUES;
}

// Empty: every issue this zoo found (HARNESS_ISSUES) is fixed in the harness. The mechanism stays so
// that a new one is recorded honestly rather than hidden; a stale entry fails the test.
const KNOWN_DEVIATIONS: KnownDeviation[] = [];

/**
 * Consequences of a zoo subject's one bug that the catalog observes only sometimes, because they depend
 * on timing. They are not declared in `breaks` (which must be caught on every run) and are exempt from
 * the false-failure assertion; the matrix marks them `x` when they were observed.
 */
const TIMING_DEPENDENT: { zoo: string; requirement: string; why: string }[] = [
  {
    zoo: 'reload-drops-in-flight',
    requirement: 'RELOAD.LISTENER_KEPT',
    why: "reload.in-flight's load clients open a new connection per request; one of them is dropped only if its request is in flight at one of the five reloads",
  },
  {
    zoo: 'c-late-handlers',
    requirement: 'SIG.INT.SECOND_FAST',
    why: 'map.repeat.SIGINT: the first SIGINT meets the default action (the late handlers); whether the second was sent before the death was observed decides whether the repeat is judged at all',
  },
  {
    zoo: 'c-late-handlers',
    requirement: 'REPEAT.ESCALATION',
    why: 'the same race as SIG.INT.SECOND_FAST',
  },
  {
    zoo: 'py-exit-143',
    requirement: 'REPEAT.ESCALATION',
    why: 'map.repeat.SIGINT holds no request open (the Python base has no /hold): when the graceful stop ends just as the second SIGINT arrives, its exit 130 (the bug: 128 + SIGINT instead of 0) cannot be told from a fast stop with a wrong status; with status 0 the repeat would be reported unobservable (seen once in a full zoo run on a loaded machine)',
  },
  {
    zoo: 'py-exit-143',
    requirement: 'SIG.INT.SECOND_FAST',
    why: 'the same race as REPEAT.ESCALATION',
  },
  {
    zoo: 'py-no-term-handler',
    requirement: 'PROC.NO_ORPHANS',
    why: 'proc.pid1: as PID 1 without a TERM handler the subject ignores SIGTERM, so the teardown ends unshare and its PID 1 together; the namespace child is sometimes still dying when the teardown looks',
  },
  {
    zoo: 'reload-during-reload-dropped',
    requirement: 'SIG.HUP.RELOAD',
    why: 'reload.storm sends SIGHUPs back to back; the newest configuration is lost only when the last one lands while the previous reload still runs',
  },
  {
    zoo: 'idle-rst',
    requirement: 'IO.EINTR',
    why: 'io.slow-download: once the server has written the whole response its connection counts as idle, and the reset at the drain start discards what the slow reader has not read yet; only when the stop lands after the last write',
  },
  {
    zoo: 'epipe-crash',
    requirement: 'PROC.NO_ORPHANS',
    why: 'the crash ends the supervisor with its worker still running (a true orphan by the spec: the worker has not exited when the main process does); the worker leaves on its IPC disconnect a few milliseconds later, so the teardown finds it only when it looks within that window',
  },
];

const KNOWN_ERROR_CASES: KnownErrorCase[] = [];

/**
 * The requirements no zoo subject breaks, and why. Every other requirement must be in some subject's
 * `breaks` (asserted): a check no broken server has failed is a check not proven.
 */
const WITHOUT_ZOO_SUBJECT: Record<string, string> = {
  'CONTROL.LOOPBACK':
    "a subject that fails it listens off loopback, which this project's tests never do; control.channel's check is a connect to a non-loopback address of this machine",
  'LATENCY.WITHIN_GRACE':
    'a handler slower than the grace period (cpu-main-thread with a grace below its 1 s job) brings in the latency.* trial suites, 100 trials of over a second each: minutes of the zoo for one verdict that stop.cpu-work already computes with the same verifier (verifyAckWithinGrace)',
};

// ---------------------------------------------------------------------------------------------
// Discovery

interface ZooSubject {
  /** folder name */
  id: string;
  manifest: Manifest;
  language: 'Node.js' | 'Python' | 'C';
  /** the injected bug, from the manifest description */
  bug: string;
  breaks: string[];
  /** why it cannot run here, or null */
  skip: string | null;
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Zoo servers whose bug only strace shows (a window too short for a timed signal). */
const NEEDS_STRACE: ReadonlySet<string> = new Set(['c-handlers-after-listen']);

function discover(): ZooSubject[] {
  const out: ZooSubject[] = [];
  for (const id of readdirSync(zooDir).sort()) {
    const file = path.join(zooDir, id, 'manifest.json');
    if (!existsSync(file)) continue;
    const manifest = loadManifest(file);
    let skip: string | null = null;
    let language: ZooSubject['language'] = 'Node.js';
    if (manifest.command.endsWith('python3')) {
      language = 'Python';
      // the manifests name /usr/bin/python3; fall back to python3 on PATH
      if (!existsSync(manifest.command)) {
        if (hasCommand('python3')) manifest.command = 'python3';
        else skip = 'no python3 on this machine';
      }
    } else if (manifest.setup?.some((s) => /\bcc\b/.test(s))) {
      language = 'C';
      if (!existsSync(manifest.command) && !hasCommand('cc')) skip = 'no C compiler (cc) on this machine';
    }
    // its bug is seen only through a trace of its syscalls (startup.handlers-before-listen)
    if (skip === null && NEEDS_STRACE.has(id) && process.platform === 'linux' && !hasCommand('strace')) {
      skip = 'no strace on this machine';
    }
    if (skip === null && !manifest.platforms.includes(process.platform as Manifest['platforms'][number])) {
      skip = `the subject does not run on ${process.platform}`;
    }
    const bug = (manifest.description ?? '').split(/(?<=\.)\s/)[0] ?? '';
    out.push({ id, manifest, language, bug, breaks: manifest.breaks ?? [], skip });
  }
  return out;
}

/**
 * `SIGCERT_ZOO_ONLY=id,id`: run only these subjects (a developer's loop on a new zoo server and its
 * control); the honesty checks still read every manifest, and no report file is written.
 */
const ONLY = (process.env.SIGCERT_ZOO_ONLY ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter((x) => x !== '');

/** `SIGCERT_ZOO=full`: every case for every subject (see the file comment). */
const FULL = process.env.SIGCERT_ZOO === 'full';
const SELECTION = FULL
  ? 'full: every case for every subject, except the latency.* trial suites, which run only where breaks cites one of their requirements, and the lifecycle.* cells, which run for the controls and where breaks cites one of their requirements'
  : "areas: every case for the controls; for a broken subject, the cases that judge a requirement of one of its breaks' areas (the ID's first part), except latency.* and lifecycle.*, which run only where breaks cites one of their requirements";

/** A requirement's area: the first part of its ID (STOP.DRAIN.IN_FLIGHT -> STOP). */
const areaOf = (req: string) => req.split('.')[0]!;

/** The fixed selection (see the file comment). */
function selectFor(all: CaseDef[], breaks: readonly string[]): CaseDef[] {
  // what a case may judge: its requirements and what it also judges (a lifecycle cell's other effects)
  const judged = (c: CaseDef) => [...c.requirements, ...(c.alsoJudges ?? [])];
  const bears = (c: CaseDef) => judged(c).some((r) => breaks.includes(r));
  const areas = new Set(breaks.map(areaOf));
  const near = (c: CaseDef) => judged(c).some((r) => areas.has(areaOf(r)));
  return all.filter((c) =>
    c.id.startsWith('latency.')
      ? bears(c)
      : c.id.startsWith('lifecycle.')
        ? breaks.length === 0 || bears(c)
        : FULL || breaks.length === 0 || near(c),
  );
}

// ---------------------------------------------------------------------------------------------
// Judging one subject

type Cell = 'caught' | 'missed' | 'known-missed' | 'false' | 'known-false' | 'timing' | 'extra' | 'pass' | 'untested';

interface SubjectResult {
  id: string;
  name: string;
  language: string;
  bug: string;
  breaks: string[];
  skipped: string | null;
  durationMs: number;
  cases: { id: string; outcome: string; durationMs: number; reason?: string }[];
  failed: string[];
  cells: Record<string, Cell>;
  caught: string[];
  missed: string[];
  falseFailures: string[];
  knownSeen: KnownDeviation[];
  errorCases: string[];
  knownErrorsSeen: KnownErrorCase[];
  /** cases run again after a port race at launch (H7) */
  reruns: string[];
}

function judge(
  s: ZooSubject,
  results: CaseResult[],
  rollups: RequirementRollup[],
  levels: Map<string, Level>,
  durationMs: number,
): SubjectResult {
  const failed = rollups.filter((r) => r.status === 'fail' || r.status === 'non-strict').map((r) => r.id);
  const ran = new Set(
    rollups.filter((r) => r.status !== 'not-tested' && r.status !== 'not-applicable').map((r) => r.id),
  );
  const known = KNOWN_DEVIATIONS.filter((k) => k.zoo === s.id);
  const isKnown = (req: string, kind: KnownDeviation['kind']) =>
    known.some((k) => k.requirement === req && k.kind === kind);
  const cells: Record<string, Cell> = {};
  const caught: string[] = [];
  const missed: string[] = [];
  const falseFailures: string[] = [];
  for (const req of s.breaks) {
    if (failed.includes(req)) {
      cells[req] = 'caught';
      caught.push(req);
    } else if (isKnown(req, 'missed')) {
      cells[req] = 'known-missed';
    } else {
      cells[req] = 'missed';
      missed.push(req);
    }
  }
  for (const req of failed) {
    if (s.breaks.includes(req)) continue;
    if (TIMING_DEPENDENT.some((t) => t.zoo === s.id && t.requirement === req)) cells[req] = 'timing';
    else if (levels.get(req) !== 'MUST' && s.breaks.length > 0) cells[req] = 'extra';
    else if (isKnown(req, 'false-failure')) cells[req] = 'known-false';
    else {
      cells[req] = 'false';
      falseFailures.push(req);
    }
  }
  for (const req of ran) cells[req] ??= 'pass';
  const knownSeen = known.filter((k) =>
    k.kind === 'missed' ? cells[k.requirement] === 'known-missed' : cells[k.requirement] === 'known-false',
  );
  const errors = results.filter((r) => r.outcome === 'harness-error' || r.outcome === 'timeout');
  const knownErrorsSeen = KNOWN_ERROR_CASES.filter((k) => k.zoo === s.id && errors.some((r) => r.id === k.caseId));
  const errorCases = errors
    .filter((r) => !knownErrorsSeen.some((k) => k.caseId === r.id))
    .map((r) => `${r.id}: ${r.outcome} (${r.reason ?? ''})`);
  return {
    id: s.id,
    name: s.manifest.name,
    language: s.language,
    bug: s.bug,
    breaks: s.breaks,
    skipped: null,
    durationMs,
    cases: results.map((r) => ({
      id: r.id,
      outcome: r.outcome,
      durationMs: r.durationMs,
      ...(r.reason ? { reason: r.reason } : {}),
    })),
    failed,
    cells,
    caught,
    missed,
    falseFailures,
    knownSeen,
    errorCases,
    knownErrorsSeen,
    reruns: [],
  };
}

// ---------------------------------------------------------------------------------------------
// The matrix

const MARK: Record<Cell, string> = {
  caught: 'X',
  missed: '**-**',
  'known-missed': 'h',
  false: '**!**',
  'known-false': 'H',
  timing: 'x',
  extra: 's',
  pass: '.',
  untested: ' ',
};

function renderMarkdown(rs: SubjectResult[], requirementOrder: string[], levels: Map<string, Level>, wallMs: number) {
  const ran = rs.filter((r) => r.skipped === null);
  const rows = requirementOrder.filter((req) =>
    ran.some((r) => r.breaks.includes(req) || (r.cells[req] !== undefined && r.cells[req] !== 'pass')),
  );
  const col = (i: number) => `Z${String(i + 1).padStart(2, '0')}`;
  const lines: string[] = [];
  lines.push('# Zoo detection matrix', '');
  lines.push(
    'Rows: requirements declared broken by some zoo subject or failed by some run. Columns: zoo subjects (legend below).',
    '',
    'Legend: `X` declared and caught · `-` declared, **missed** · `!` **false failure** (a MUST failed outside `breaks`, or anything a control failed) · ' +
      '`h` declared, missed because of a known harness issue · `H` failed outside `breaks` because of a known harness issue · ' +
      '`x` failed outside `breaks`, a timing-dependent consequence of the bug (listed in the test) · `s` a SHOULD/MAY failed outside `breaks` (not asserted) · `.` exercised and passed · blank: not exercised (no applicable case).',
    '',
    `Case selection: ${SELECTION}.`,
    '',
  );
  lines.push(`| requirement | level | ${rs.map((_, i) => col(i)).join(' | ')} |`);
  lines.push(`| --- | --- | ${rs.map(() => ':-:').join(' | ')} |`);
  for (const req of rows) {
    const cells = rs.map((r) => (r.skipped !== null ? 'skip' : MARK[r.cells[req] ?? 'untested']));
    lines.push(`| ${req} | ${levels.get(req) ?? '?'} | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    '| col | subject | language | bug | declared `breaks` | caught | notes |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  rs.forEach((r, i) => {
    const notes: string[] = [];
    if (r.skipped) notes.push(`skipped: ${r.skipped}`);
    if (r.missed.length) notes.push(`**missed**: ${r.missed.join(', ')}`);
    if (r.falseFailures.length) notes.push(`**false failures**: ${r.falseFailures.join(', ')}`);
    const byIssue = new Map<string, string[]>();
    for (const k of r.knownSeen) byIssue.set(k.issue, [...(byIssue.get(k.issue) ?? []), k.requirement]);
    for (const [issue, reqs] of byIssue) notes.push(`${issue}: ${reqs.join(', ')}`);
    if (r.errorCases.length) notes.push(`errors: ${r.errorCases.join('; ')}`);
    for (const k of r.knownErrorsSeen) notes.push(`${k.issue}: ${k.caseId} ended in harness-error`);
    if (r.reruns.length) notes.push(`rerun after a port race at launch (H7): ${r.reruns.join(', ')}`);
    const extra = Object.entries(r.cells)
      .filter(([, c]) => c === 'extra')
      .map(([q]) => q);
    if (extra.length) notes.push(`also failed (SHOULD/MAY): ${extra.join(', ')}`);
    const timing = Object.entries(r.cells)
      .filter(([, c]) => c === 'timing')
      .map(([q]) => q);
    if (timing.length) notes.push(`also failed (timing-dependent consequence): ${timing.join(', ')}`);
    lines.push(
      `| ${col(i)} | ${r.id} | ${r.language} | ${r.bug.replace(/\|/g, '/')} | ${r.breaks.join(', ') || '(none: control)'} | ${r.skipped ? '-' : `${r.caught.length}/${r.breaks.length}`} | ${notes.join('; ')} |`,
    );
  });
  const seenIssues = [
    ...new Set(
      ran.flatMap((r) => [
        ...r.knownSeen.map((k) => k.issue),
        ...r.knownErrorsSeen.map((k) => k.issue),
        ...(r.reruns.length ? ['H7'] : []),
      ]),
    ),
  ].sort();
  if (seenIssues.length) {
    lines.push('', '## Known harness issues observed', '');
    for (const id of seenIssues) {
      const h = HARNESS_ISSUES[id]!;
      lines.push(`- **${id}** ${h.title}. Proposed fix: ${h.fix}.`);
    }
  }
  const broken = ran.filter((r) => r.breaks.length > 0);
  const caughtAll = broken.filter((r) => r.caught.length === r.breaks.length).length;
  const falseTotal = ran.reduce((n, r) => n + r.falseFailures.length, 0);
  const knownMissed = ran.reduce((n, r) => n + r.knownSeen.filter((k) => k.kind === 'missed').length, 0);
  const knownFalse = ran.reduce((n, r) => n + r.knownSeen.filter((k) => k.kind === 'false-failure').length, 0);
  const skipped = rs.filter((r) => r.skipped !== null).length;
  const summary =
    `caught ${caughtAll}/${broken.length}, false failures ${falseTotal}` +
    ` (known harness issues: ${knownMissed} missed, ${knownFalse} false failures` +
    `${skipped ? `; ${skipped} subject(s) skipped` : ''}; selection ${FULL ? 'full' : 'areas'}; wall time ${(wallMs / 1000).toFixed(1)} s)`;
  lines.push('', summary, '');
  return { markdown: lines.join('\n'), summary, caughtAll, brokenCount: broken.length, falseTotal };
}

// ---------------------------------------------------------------------------------------------

afterAll(async () => {
  await teardownAll();
});

describe('the zoo of broken servers', () => {
  it('catches every declared bug and fails nothing else', async () => {
    const started = Date.now();
    const registry = loadRegistry();
    const levels = new Map(registry.requirements.map((r) => [r.id, r.level] as const));
    let subjects = discover();
    const outRoot = path.join(root, '.sigcert', 'test-runs', `zoo-${Date.now()}`);

    // the manifests are honest about what they break: every ID exists
    for (const s of subjects) {
      expect(
        s.breaks.filter((b) => !levels.has(b)),
        `${s.id}: unknown requirement IDs in breaks`,
      ).toEqual([]);
    }
    expect(subjects.filter((s) => s.breaks.length > 0).length).toBeGreaterThanOrEqual(18);
    // every requirement is proven failing by some zoo subject, except the few listed with their reason
    const broken = new Set(subjects.flatMap((s) => s.breaks));
    expect(
      registry.requirements.map((r) => r.id).filter((id) => !broken.has(id) && !(id in WITHOUT_ZOO_SUBJECT)),
      'requirements no zoo subject breaks: add a bug for each (or a reason to WITHOUT_ZOO_SUBJECT)',
    ).toEqual([]);
    expect(
      Object.keys(WITHOUT_ZOO_SUBJECT).filter((id) => broken.has(id)),
      'WITHOUT_ZOO_SUBJECT entries that a zoo subject now breaks: remove them',
    ).toEqual([]);
    // a zoo server skipped for a missing program (python3, cc, strace) is said on stderr; in CI it is a failure
    for (const s of subjects) if (s.skip) process.stderr.write(`zoo ${s.id}: skipped: ${s.skip}\n`);
    if (toolsRequired()) {
      expect(
        subjects.filter((s) => s.skip?.startsWith('no ')).map((s) => `${s.id}: ${s.skip}`),
        `${REQUIRE_TOOLS_VAR} is set: install python3, a C compiler and strace (apt-get install -y python3 gcc strace)`,
      ).toEqual([]);
    }

    const unknownOnly = ONLY.filter((id) => !subjects.some((s) => s.id === id));
    expect(unknownOnly, 'SIGCERT_ZOO_ONLY names subjects that do not exist').toEqual([]);
    const all = subjects;
    if (ONLY.length > 0) subjects = subjects.filter((s) => ONLY.includes(s.id));
    const results: SubjectResult[] = new Array(subjects.length);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const k = next++;
        if (k >= subjects.length) return;
        const s = subjects[k]!;
        if (s.skip !== null) {
          results[k] = { ...judge(s, [], [], levels, 0), skipped: s.skip, cells: {} };
          continue;
        }
        const t0 = Date.now();
        const selected = selectFor(await loadCases(s.manifest), s.breaks);
        const run = await runCases({
          manifest: s.manifest,
          cases: selected,
          outDir: path.join(outRoot, s.id),
          concurrency: CASES_AT_ONCE,
        });
        const rollups = rollupRequirements(run.results, registry.requirements);
        results[k] = judge(s, run.results, rollups, levels, Date.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: SUBJECTS_AT_ONCE }, worker));
    const wallMs = Date.now() - started;

    const order = registry.requirements.map((r) => r.id);
    const { markdown, summary, caughtAll, brokenCount, falseTotal } = renderMarkdown(results, order, levels, wallMs);
    if (ONLY.length === 0) mkdirSync(path.join(root, 'reports'), { recursive: true });
    if (ONLY.length === 0) writeFileSync(path.join(root, 'reports', 'zoo-matrix.md'), markdown);
    if (ONLY.length === 0)
      writeFileSync(
        path.join(root, 'reports', 'zoo-matrix.json'),
        JSON.stringify(
          {
            generatedAt: new Date().toISOString(),
            wallMs,
            selection: SELECTION,
            summary: { caught: caughtAll, broken: brokenCount, falseFailures: falseTotal, line: summary },
            harnessIssues: HARNESS_ISSUES,
            subjects: results,
          },
          null,
          1,
        ),
      );
    console.log(markdown);
    console.log(`zoo: ${summary}; runs in ${outRoot}`);

    for (const r of results.filter((x) => x.skipped === null)) {
      expect(r.missed, `${r.id}: declared breaks the harness did not catch`).toEqual([]);
      expect(r.falseFailures, `${r.id}: requirements failed outside breaks (any level for a control)`).toEqual([]);
      expect(r.errorCases, `${r.id}: cases that ended in harness-error or timeout`).toEqual([]);
      const stale = KNOWN_DEVIATIONS.filter(
        (k) => k.zoo === r.id && k.strict !== false && !r.knownSeen.includes(k),
      ).map((k) => `${k.requirement} (${k.kind}, ${k.issue})`);
      expect(stale, `${r.id}: known harness issues no longer observed: remove them from KNOWN_DEVIATIONS`).toEqual([]);
      const staleErrors = KNOWN_ERROR_CASES.filter((k) => k.zoo === r.id && !r.knownErrorsSeen.includes(k)).map(
        (k) => `${k.caseId} (${k.issue})`,
      );
      expect(staleErrors, `${r.id}: known error cases no longer erring: remove them from KNOWN_ERROR_CASES`).toEqual(
        [],
      );
    }
    const ids = new Set(all.map((s) => s.id));
    expect(
      [...KNOWN_DEVIATIONS, ...KNOWN_ERROR_CASES].filter((k) => !ids.has(k.zoo)).map((k) => k.zoo),
      'known issues for subjects that do not exist',
    ).toEqual([]);
  });
});
