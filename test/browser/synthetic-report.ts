/**
 * A synthetic but realistic report for the HTML renderer's tests and the documentation
 * screenshot: every outcome, latency rows with per-sample notes, and timelines shaped like the
 * harness records them (spawn, probe events, signals, requests, exit, teardown).
 * Deterministic: a seeded PRNG, fixed timestamps.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  buildReport,
  type CaseResult,
  latencyTable,
  type Report,
  type RequirementInfo,
} from '../../harness/src/report/index.js';
import type { EventSource, HistoryEvent, Outcome, Verdict } from '../../harness/src/types.js';

export const SYNTHETIC_REGISTRY: RequirementInfo[] = [
  { id: 'SIG.TERM.GRACEFUL', level: 'MUST', title: 'SIGTERM starts a graceful stop (default map)' },
  { id: 'SIG.INT.SECOND_FAST', level: 'MUST', title: 'A second SIGINT during a stop escalates to a fast stop' },
  { id: 'SIG.QUIT.FAST', level: 'SHOULD', title: 'SIGQUIT starts a fast stop (default map)' },
  { id: 'SIG.HUP.RELOAD', level: 'MUST', title: 'SIGHUP reloads the configuration' },
  { id: 'SIG.USR1.REOPEN_LOGS', level: 'MAY', title: 'SIGUSR1 reopens log files (default map)' },
  { id: 'STOP.DRAIN.IN_FLIGHT', level: 'MUST', title: 'Requests in flight when the stop arrives complete, byte-exact' },
  { id: 'STOP.LISTENER_CLOSED', level: 'MUST', title: 'After the drain starts new connections are refused' },
  { id: 'STOP.EXIT_ZERO', level: 'MUST', title: 'A successful graceful stop exits with status 0' },
  { id: 'STOP.FIN_NOT_RST', level: 'SHOULD', title: 'Idle connections are closed with FIN, not RST' },
  { id: 'STOP.DEADLINE', level: 'MUST', title: 'The stop deadline is enforced and request code cannot block it' },
  { id: 'RELOAD.IN_FLIGHT', level: 'MUST', title: 'Requests in flight during a reload complete' },
  { id: 'RELOAD.OBSERVABLE', level: 'SHOULD', title: 'The completion and outcome of a reload are observable' },
  { id: 'DURABLE.CRASH', level: 'MUST', title: 'Acknowledged writes survive SIGKILL' },
  { id: 'LATENCY.IDLE', level: 'MUST', title: 'An idle subject acknowledges a stop signal within 50 ms' },
  { id: 'LATENCY.IDLE_FAST', level: 'SHOULD', title: 'An idle subject acknowledges a stop signal within 5 ms' },
  { id: 'LATENCY.CPU_WORK', level: 'SHOULD', title: 'During long CPU work a stop signal is acknowledged within 50 ms' },
  { id: 'PROC.NO_ORPHANS', level: 'MUST', title: "No descendant outlives the subject's exit" },
  { id: 'PROC.PID1', level: 'SHOULD', title: 'The subject behaves the same when it runs as PID 1' },
  { id: 'PIDFILE.WRITTEN', level: 'MUST', title: 'The pidfile is written atomically after the handlers and listeners' },
  {
    id: 'PLATFORM.WINDOWS',
    level: 'SHOULD',
    title: 'On Windows, console events and the control channel map to the bus',
  },
];

/** A string with markup and a script that the page must show as text. */
export const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" 'single'`;

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Tl {
  readonly events: HistoryEvent[] = [];
  add(t: number, source: EventSource, kind: string, data: Record<string, unknown> = {}, launch?: number): this {
    const e: HistoryEvent = { ns: String(BigInt(Math.round(t * 1e6)) + 1_000_000_000_000n), t, source, kind, data };
    if (launch !== undefined) e.launch = launch;
    this.events.push(e);
    return this;
  }
  probe(t: number, ev: string, fields: Record<string, unknown> = {}, launch = 0): this {
    return this.add(t, 'probe', 'probe', { ev, t: String(Math.round(t * 1e6)), pid: 4242 + launch, ...fields }, launch);
  }
  sorted(): HistoryEvent[] {
    return [...this.events].sort((a, b) => a.t - b.t);
  }
}

/** spawn, probe hello / handlers / STARTING / ready / STARTED, harness ready. */
function startup(tl: Tl, t0 = 0, launch = 0): number {
  tl.add(t0 + 0.4, 'process', 'spawn', { pid: 4242 + launch, command: 'node', args: ['server.js'] }, launch);
  tl.probe(t0 + 38, 'hello', { protocol: '1' }, launch);
  tl.probe(t0 + 39, 'state', { state: 'STARTING', from: null }, launch);
  tl.probe(t0 + 40, 'handlers', { signals: ['SIGTERM', 'SIGINT', 'SIGHUP'] }, launch);
  tl.probe(t0 + 52, 'listening', { port: 40123 }, launch);
  tl.probe(t0 + 53, 'ready', { ports: { http: 40123 } }, launch);
  tl.probe(t0 + 53.2, 'state', { state: 'STARTED', from: 'STARTING' }, launch);
  tl.add(t0 + 55, 'harness', 'ready', { kind: 'probe', ms: 54.6 }, launch);
  return t0 + 55;
}

/** A graceful stop after `sig` at `t`: probe signal, STOPPING, stop-accepting, drained, persisted, exit 0. */
function gracefulStop(tl: Tl, t: number, drainEnd: number, sig = 'SIGTERM', launch = 0): number {
  tl.add(t, 'harness', 'signal-sent', { sig, group: false, pid: 4242 + launch }, launch);
  tl.probe(t + 0.21, 'signal', { sig }, launch);
  tl.probe(t + 0.3, 'request', { action: 'stop', source: 'signal' }, launch);
  tl.probe(t + 0.35, 'state', { state: 'STOPPING', from: 'STARTED' }, launch);
  tl.probe(t + 1.1, 'stop-accepting', {}, launch);
  tl.probe(drainEnd, 'drained', { forced: false, aborted: 0 }, launch);
  tl.probe(drainEnd + 2, 'persisted', { records: 12 }, launch);
  tl.probe(drainEnd + 2.5, 'state', { state: 'EXITING', from: 'STOPPING' }, launch);
  tl.probe(drainEnd + 3, 'exiting', { code: 0 }, launch);
  tl.add(drainEnd + 9, 'process', 'exit', { pid: 4242 + launch, code: 0, signal: null }, launch);
  return drainEnd + 9;
}

function request(tl: Tl, conn: number, label: string, t0: number, t1: number, ok = true, status = 200): void {
  tl.add(t0 - 0.5, 'client', 'connect', { conn, label, port: 40123, ok: true });
  tl.add(t0, 'client', 'http-sent', {
    conn,
    label,
    method: 'GET',
    path: `/hold?ms=${Math.round(t1 - t0)}`,
    reused: false,
  });
  if (ok) tl.add(t0 + 2, 'client', 'http-headers', { conn, label, status, connection: 'close' });
  tl.add(t1, 'client', 'http-done', {
    conn,
    label,
    ok,
    status: ok ? status : undefined,
    error: ok ? undefined : 'reset',
    connection: ok ? 'close' : undefined,
    bytes: ok ? 12 : 0,
    reused: false,
  });
  tl.add(t1 + 0.3, 'client', 'conn-closed', { conn, label, how: ok ? 'fin' : 'rst' });
}

function teardown(tl: Tl, t: number): void {
  tl.add(t, 'harness', 'teardown-begin', {});
  tl.add(t + 1, 'harness', 'teardown', { orphans: [], killed: false, leftover: [] }, 0);
}

function v(
  requirement: string,
  status: Verdict['status'],
  expected: string,
  actual: string,
  metrics?: Record<string, number>,
): Verdict {
  return metrics ? { requirement, status, expected, actual, metrics } : { requirement, status, expected, actual };
}

function kase(
  id: string,
  title: string,
  outcome: Outcome,
  verdicts: Verdict[],
  extra: Partial<CaseResult> = {},
): CaseResult {
  return {
    id,
    title,
    requirements: [...new Set(verdicts.map((x) => x.requirement))],
    edgeCases: [],
    outcome,
    verdicts,
    metrics: {},
    durationMs: 1000,
    attempts: 1,
    timeline: [],
    runDir: `.sigcert/runs/2026-01-01T00-00-00Z/${id}`,
    ...extra,
  };
}

function stopInFlight(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  request(tl, 1, 'held-1', ready + 10, ready + 1010);
  request(tl, 2, 'held-2', ready + 12, ready + 1012);
  request(tl, 3, 'held-3', ready + 14, ready + 1014);
  const sig = ready + 220;
  tl.add(sig + 40, 'client', 'connect-probe', { label: 'new-after-stop', outcome: 'refused' });
  const exit = gracefulStop(tl, sig, ready + 1016);
  teardown(tl, exit + 3);
  return kase(
    'stop.in-flight',
    'Requests in flight complete after SIGTERM',
    'pass',
    [
      v('SIG.TERM.GRACEFUL', 'pass', 'SIGTERM starts a graceful stop', 'STOPPING 0.35 ms after the signal'),
      v('STOP.DRAIN.IN_FLIGHT', 'pass', 'all 3 held requests complete byte-exact', '3/3 complete, 200, bodies exact', {
        completed: 3,
        lost: 0,
      }),
      v('STOP.LISTENER_CLOSED', 'pass', 'new connections refused after stop-accepting', 'refused 38.9 ms after'),
      v('STOP.EXIT_ZERO', 'pass', 'exit status 0', 'exit 0'),
    ],
    {
      description:
        'Three requests hold for 1 s; SIGTERM arrives mid-way. All three must complete, byte-exact, and the subject must exit 0.',
      edgeCases: ['EC.STOP.IN_FLIGHT'],
      durationMs: exit + 6,
      metrics: { drainMs: 796, exitMs: exit - sig },
      timeline: tl.sorted(),
    },
  );
}

function deadlineFail(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  request(tl, 1, 'stuck', ready + 10, ready + 2620, false);
  const sig = ready + 100;
  tl.add(sig, 'harness', 'signal-sent', { sig: 'SIGTERM', group: false, pid: 4242 }, 0);
  tl.probe(sig + 0.3, 'signal', { sig: 'SIGTERM' });
  tl.probe(sig + 0.4, 'state', { state: 'STOPPING', from: 'STARTED' });
  tl.probe(sig + 1, 'stop-accepting', {});
  tl.add(sig + 2500, 'case', 'deadline-passed', { graceMs: 2000 });
  tl.add(sig + 2520, 'harness', 'teardown-signal', { sig: 'SIGKILL', group: true, pid: 4242 }, 0);
  tl.add(sig + 2521, 'process', 'exit', { pid: 4242, code: null, signal: 'SIGKILL' }, 0);
  teardown(tl, sig + 2530);
  return kase(
    'stop.deadline',
    'The stop deadline is enforced',
    'fail',
    [
      v(
        'STOP.DEADLINE',
        'fail',
        'exit within gracePeriodMs (2000 ms) + 500 ms after SIGTERM',
        `still running 2520 ms after SIGTERM; killed by the harness. Last log line: ${HOSTILE}`,
        { exitMs: 2520, graceMs: 2000 },
      ),
      v('SIG.TERM.GRACEFUL', 'pass', 'SIGTERM starts a graceful stop', 'STOPPING after 0.4 ms'),
    ],
    { timeline: tl.sorted(), durationMs: sig + 2540, description: `Edge: request code blocks forever (${HOSTILE})` },
  );
}

function finNotRst(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  request(tl, 1, 'warm', ready + 5, ready + 9);
  tl.add(ready + 10, 'client', 'connect', { conn: 2, label: 'idle', port: 40123, ok: true });
  const exit = gracefulStop(tl, ready + 200, ready + 205);
  tl.add(ready + 203, 'client', 'conn-closed', { conn: 2, label: 'idle', how: 'rst' });
  teardown(tl, exit + 2);
  return kase(
    'stop.idle-keepalive',
    'Idle keep-alive connections are closed at drain',
    'non-strict',
    [
      v('STOP.FIN_NOT_RST', 'fail', 'idle connection closed with FIN', 'closed with RST'),
      v('STOP.EXIT_ZERO', 'pass', 'exit status 0', 'exit 0'),
    ],
    { timeline: tl.sorted(), durationMs: exit + 5 },
  );
}

function reloadFlaky(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  request(tl, 1, 'during-reload', ready + 20, ready + 420);
  tl.add(ready + 100, 'harness', 'signal-sent', { sig: 'SIGHUP', group: false, pid: 4242 }, 0);
  tl.probe(ready + 100.4, 'signal', { sig: 'SIGHUP' });
  tl.probe(ready + 100.6, 'state', { state: 'RELOADING', from: 'STARTED' });
  tl.probe(ready + 101, 'reload-begin', { generation: 1 });
  tl.probe(ready + 160, 'reload-done', { generation: 2 });
  tl.probe(ready + 160.2, 'state', { state: 'STARTED', from: 'RELOADING' });
  const exit = gracefulStop(tl, ready + 500, ready + 505);
  teardown(tl, exit + 2);
  return kase(
    'reload.in-flight',
    'Requests in flight during a reload complete',
    'flaky',
    [
      v('RELOAD.IN_FLIGHT', 'pass', 'the held request completes', '200 after 400 ms'),
      v('RELOAD.OBSERVABLE', 'pass', 'reload-done observed', 'generation 2'),
      v('SIG.HUP.RELOAD', 'pass', 'SIGHUP reloads', 'reload-done after 60 ms'),
    ],
    {
      attempts: 2,
      reason: 'attempt 1: the held request was reset (ECONNRESET)',
      timeline: tl.sorted(),
      durationMs: 2210,
    },
  );
}

function crashCase(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  tl.add(ready + 20, 'client', 'kv-invoke', { key: 'k1', value: 'v1' });
  tl.add(ready + 24, 'client', 'kv-ok', { key: 'k1', value: 'v1', status: 200 });
  tl.add(ready + 30, 'harness', 'signal-sent', { sig: 'SIGKILL', group: false, pid: 4242 }, 0);
  tl.add(ready + 31, 'process', 'exit', { pid: 4242, code: null, signal: 'SIGKILL' }, 0);
  startup(tl, ready + 40, 1);
  tl.probe(ready + 80, 'recovery', { mode: 'scan', records: 0, truncatedBytes: 0 }, 1);
  tl.add(ready + 100, 'process', 'exit', { pid: 4243, code: null, signal: 'SIGSEGV' }, 1);
  tl.add(ready + 101, 'client', 'kv-read', { found: false });
  teardown(tl, ready + 110);
  return kase(
    'durable.crash',
    'Acknowledged writes survive SIGKILL',
    'crash',
    [v('DURABLE.CRASH', 'fail', 'k1 readable after restart', 'the restarted subject died by SIGSEGV during recovery')],
    { reason: 'the subject died by SIGSEGV (launch 1)', timeline: tl.sorted(), durationMs: 400 },
  );
}

function timeoutCase(): CaseResult {
  const tl = new Tl();
  const ready = startup(tl);
  tl.add(ready + 50, 'harness', 'signal-sent', { sig: 'SIGINT', group: false, pid: 4242 }, 0);
  tl.probe(ready + 50.5, 'signal', { sig: 'SIGINT' });
  tl.probe(ready + 51, 'state', { state: 'STOPPING', from: 'STARTED' });
  tl.add(ready + 150, 'harness', 'signal-sent', { sig: 'SIGINT', group: false, pid: 4242 }, 0);
  tl.add(ready + 30000, 'harness', 'timeout', { ms: 30000 });
  tl.add(ready + 30001, 'harness', 'teardown-signal', { sig: 'SIGKILL', group: true, pid: 4242 }, 0);
  tl.add(ready + 30002, 'process', 'exit', { pid: 4242, code: null, signal: 'SIGKILL' }, 0);
  return kase('repeat.int-int', 'A second SIGINT escalates to a fast stop', 'timeout', [], {
    requirements: ['SIG.INT.SECOND_FAST'],
    reason: 'no result within 30000 ms (timeout class normal)',
    timeline: tl.sorted(),
    durationMs: 30_100,
  });
}

function harnessError(): CaseResult {
  const tl = new Tl();
  startup(tl);
  tl.add(60, 'harness', 'case-error', { error: 'probe channel closed before ready' });
  return kase(
    'proc.no-orphans',
    "No descendant outlives the subject's exit",
    'harness-error',
    [v('PROC.NO_ORPHANS', 'unknown', 'no descendant alive after exit', 'the process table could not be read')],
    { reason: 'EACCES reading /proc/4242/task', timeline: tl.sorted(), durationMs: 70 },
  );
}

/** A latency case of `trials` trials on SIGHUP, the last one on SIGTERM, trimmed like the runner does. */
function latencyCase(
  id: string,
  title: string,
  seed: number,
  scaleMs: number,
  budgets: [string, number][],
): { c: CaseResult; samples: number[] } {
  const rand = prng(seed);
  const tl = new Tl();
  let t = startup(tl);
  const samples: number[] = [];
  const trials = 100;
  for (let i = 0; i < trials - 1; i++) {
    t += 2 + rand() * 2;
    const lat = scaleMs * (0.6 + rand() * 0.8) + (rand() < 0.06 ? scaleMs * 3 * rand() : 0);
    tl.add(t, 'harness', 'signal-sent', { sig: 'SIGHUP', group: false, pid: 4242 }, 0);
    tl.probe(t + lat, 'signal', { sig: 'SIGHUP' });
    tl.add(t + lat + 0.05, 'case', 'sample', { ms: Number(lat.toFixed(4)), sig: 'SIGHUP' });
    samples.push(Number(lat.toFixed(4)));
    t += lat + 0.5;
  }
  const lat = scaleMs * 0.9;
  const exit = gracefulStop(tl, t + 3, t + 6);
  tl.add(t + 3 + lat + 0.05, 'case', 'sample', { ms: lat, sig: 'SIGTERM' });
  samples.push(lat);
  teardown(tl, exit + 2);
  const verdicts = budgets.map(([req, budget]) => {
    const row = latencyTable(id, req, samples, budget);
    const m = { n: row.n, p50: row.p50, p90: row.p90, p99: row.p99, max: row.max, budgetMs: budget };
    return v(
      req,
      row.p99 <= budget ? 'pass' : 'fail',
      `p99 <= ${budget} ms over >= 100 trials`,
      `n=${row.n} p50 ${row.p50} ms, p90 ${row.p90} ms, p99 ${row.p99} ms, max ${row.max} ms`,
      m,
    );
  });
  const outcome: Outcome = verdicts.some((x) => x.status === 'fail') ? 'non-strict' : 'pass';
  const c = kase(id, title, outcome, verdicts, {
    timeline: excerpt(tl.sorted()),
    durationMs: exit + 4,
    description: '100 signals; latency is the handler-entry stamp minus the send stamp. Graded on p99.',
  });
  return { c, samples };
}

/**
 * A timeline excerpt that leaves some latency samples out, as a real case with more samples than the
 * report keeps (MAX_TIMELINE_SAMPLES) would: the first 50 and the last 150 events.
 */
function excerpt<T>(events: T[]): T[] {
  return events.length <= 200 ? events : [...events.slice(0, 50), ...events.slice(-150)];
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The synthetic report: 14 cases covering every outcome, latency rows, timelines. */
export function syntheticReport(): Report {
  const idle = latencyCase('latency.idle', 'Handler latency, idle subject (100 trials)', 7, 0.25, [
    ['LATENCY.IDLE', 50],
    ['LATENCY.IDLE_FAST', 5],
  ]);
  const cpu = latencyCase('latency.cpu', 'Handler latency during CPU work (100 trials)', 11, 18, [
    ['LATENCY.CPU_WORK', 50],
  ]);
  const cases: CaseResult[] = [
    stopInFlight(),
    deadlineFail(),
    finNotRst(),
    reloadFlaky(),
    crashCase(),
    timeoutCase(),
    harnessError(),
    idle.c,
    cpu.c,
    kase(
      'signals.reopen-logs',
      'SIGUSR1 reopens the log files',
      'informational',
      [v('SIG.USR1.REOPEN_LOGS', 'info', 'log files reopened', 'reopen-logs observed after 0.4 ms')],
      { durationMs: 310 },
    ),
    kase('proc.pid1', 'Behaves the same as PID 1', 'unsupported', [], {
      requirements: ['PROC.PID1'],
      reason: 'unshare(CLONE_NEWPID) is not permitted here (needs root or user namespaces)',
      durationMs: 3,
    }),
    kase('pidfile.written', 'The pidfile is written atomically', 'not-applicable', [], {
      requirements: ['PIDFILE.WRITTEN'],
      reason: 'capability pidfile not declared',
      durationMs: 0,
    }),
    kase('platform.windows', 'Console events map to the bus on Windows', 'skipped', [], {
      requirements: ['PLATFORM.WINDOWS'],
      reason: 'platform linux not in [win32]',
      durationMs: 0,
    }),
    kase(
      'signals.fast-stop',
      'SIGQUIT starts a fast stop',
      'pass',
      [v('SIG.QUIT.FAST', 'pass', 'exit within 1 s without draining', 'exit 0 after 12 ms')],
      { durationMs: 190 },
    ),
  ];
  const latency = [
    ...(['LATENCY.IDLE', 'LATENCY.IDLE_FAST'] as const).map((req) =>
      latencyTable('latency.idle', req, idle.samples, req === 'LATENCY.IDLE' ? 50 : 5),
    ),
    latencyTable('latency.cpu', 'LATENCY.CPU_WORK', cpu.samples, 50),
  ].map((r) => ({ ...r, p50: round3(r.p50), p90: round3(r.p90), p99: round3(r.p99), max: round3(r.max) }));
  return buildReport({
    toolVersion: '0.1.0',
    specVersion: '1.0.0',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: cases.reduce((s, c) => s + c.durationMs, 0),
    subject: {
      name: `demo-server ${HOSTILE}`,
      manifestFile: 'subjects/demo/manifest.json',
      manifest: { protocol: '1', name: 'demo-server', command: 'node', args: ['server.js'], note: HOSTILE },
    },
    options: { concurrency: 2, retries: 1, timeoutScale: 1 },
    cases,
    requirements: SYNTHETIC_REGISTRY,
    latency,
    environment: {
      os: 'Linux 6.1.0',
      platform: 'linux',
      release: '6.1.0',
      arch: 'x64',
      node: 'v20.19.0',
      cpus: 2,
      cpuModel: 'Synthetic CPU @ 2.0GHz',
      ci: true,
    },
  });
}

/**
 * A report of a real run of the reference subject, if one is around: `reports/reference.json`,
 * else the newest `.sigcert/runs/<run>/report.json` whose subject is the reference. Null otherwise.
 */
export function findReferenceReport(root: string): string | null {
  const fixed = path.join(root, 'reports', 'reference.json');
  if (existsSync(fixed)) return fixed;
  const runs = path.join(root, '.sigcert', 'runs');
  if (!existsSync(runs)) return null;
  const candidates = readdirSync(runs)
    .map((d) => path.join(runs, d, 'report.json'))
    .filter((f) => {
      try {
        return /reference/i.test((JSON.parse(readFileSync(f, 'utf8')) as Report).subject.name);
      } catch {
        return false;
      }
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return candidates[0] ?? null;
}
