/**
 * SIGTERM acknowledgement latency of the reference server (not part of `npm test`):
 *
 *   npm run build && node --import tsx bench/reference-latency.ts [--trials 200] [--concurrency 1]
 *       [--settle-ms 200] [--scenarios idle,cpu,fifo] [--main path/to/main.js]
 *
 * Latency = the server's probe `signal.t` (stamped with `process.hrtime.bigint()` at handler
 * entry) minus `process.hrtime.bigint()` taken here just before `process.kill(pid, 'SIGTERM')`.
 * Both read CLOCK_MONOTONIC, so the difference is the one-way kill -> handler time.
 *
 * SIGTERM stops the server, so every trial launches a fresh one (`dist/reference/src/main.js`),
 * waits for its `ready` event and one answered request, then `--settle-ms` (default 200). A server
 * is long-running; its first ~100 ms after `ready` are not representative: V8 is still compiling
 * the code the first request ran and collecting start-up garbage, and the CPU worker thread is
 * booting. A kill in that window waits for that main-thread work (measured here: p50 ~1.4 ms with
 * `--settle-ms 0`, ~0.25 ms settled). Each kill then lands at a random point (0-100 ms; for `cpu`
 * 0-500 ms into the work), so it does not fall in step with anything periodic. Scenarios:
 *
 * - idle:  nothing in flight.
 * - cpu:   a `/cpu?ms=1000` request in flight (its headers are flushed when the work begins); the
 *          kill lands at a random point in the first 500 ms of the work. The work runs on a worker
 *          thread, so the main thread is free. After the acknowledgement a SIGQUIT (fast stop)
 *          ends the trial without waiting out the second.
 * - fifo:  a `/fifo` read in flight with no data (the FIFO is open for writing here, so the read
 *          is pending, not at EOF). After the acknowledgement the line is written and the server
 *          drains and exits normally.
 * - node-floor: not the reference: bench/floors/latency-floor.mjs, a node:http server whose SIGTERM
 *          listener stamps first and exits, idle, measured like `idle`. The floor of any Node server.
 * - c-floor: not the reference: the smallest C subject (bench/c/tiny-subject.c, blocked in
 *          `pause()`, stamping its handler entry with CLOCK_MONOTONIC), measured the same way (same
 *          settle, same random kill point). It is the floor of the machine: what the kernel and the
 *          hypervisor take to wake a sleeping process, which no server, in any language, can beat.
 *          Needs `cc`; skipped with a line on stderr without it.
 *
 * `SIGCERT_CPU_NICE=0` in this process's environment is passed on and keeps the CPU worker thread
 * at normal priority (by default it lowers itself to nice 19 on Linux; see `cpu/cpu-worker.ts`).
 *
 * `--concurrency` > 1 runs trials in parallel on separate ports; it is faster but the servers then
 * compete for the CPUs, which shows up in the tail. Prints one Markdown table (milliseconds).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compile } from './harness-overhead.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '1' },
    scenarios: { type: 'string', default: 'idle,cpu,fifo,node-floor,c-floor' },
    'settle-ms': { type: 'string', default: '200' },
    /** Another build of the server (an older commit's `dist/reference/src/main.js`) to compare with. */
    main: { type: 'string' },
  },
});
const TRIALS = Math.max(1, Number(args.trials));
const CONCURRENCY = Math.max(1, Number(args.concurrency));
const SCENARIOS = String(args.scenarios).split(',') as Scenario[];
const SETTLE_MS = Math.max(0, Number(args['settle-ms']));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MAIN_JS = args.main ?? fileURLToPath(new URL('../dist/reference/src/main.js', import.meta.url));
const NODE_FLOOR_JS = fileURLToPath(new URL('./floors/latency-floor.mjs', import.meta.url));

type Scenario = 'idle' | 'cpu' | 'fifo' | 'node-floor' | 'c-floor';

interface ProbeEvent {
  ev: string;
  t: string;
  [k: string]: unknown;
}

/** One launched server: its probe events, and waits on them with a deadline. */
class Server {
  readonly events: ProbeEvent[] = [];
  exited = false;
  private wakers: Array<() => void> = [];
  readonly done: Promise<number | null>;

  constructor(
    readonly pid: number,
    probe: NodeJS.ReadableStream,
    child: ReturnType<typeof spawn>,
  ) {
    createInterface({ input: probe }).on('line', (line) => {
      if (line) this.events.push(JSON.parse(line) as ProbeEvent);
      for (const w of [...this.wakers]) w();
    });
    this.done = new Promise((resolve) =>
      child.once('close', (code) => {
        this.exited = true;
        for (const w of [...this.wakers]) w();
        resolve(code);
      }),
    );
  }

  waitFor(ev: string, timeoutMs = 10_000): Promise<ProbeEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.find((x) => x.ev === ev);
        if (e) return finish(() => resolve(e));
        if (this.exited) return finish(() => reject(new Error(`server exited before ${ev}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${ev}`))), timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.wakers = this.wakers.filter((w) => w !== check);
        f();
      };
      this.wakers.push(check);
      check();
    });
  }

  killGroup(): void {
    if (this.exited) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Sends a raw request and resolves when the response head has arrived (the socket stays open). */
function requestHead(port: number, path: string): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) {
        socket.removeAllListeners('data');
        socket.resume();
        resolve(socket);
      }
    });
    socket.on('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

/** Opens the FIFO for writing once the server has it open for reading (ENXIO until then). */
async function fifoWriter(path: string, timeoutMs = 5000): Promise<number> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    try {
      return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > giveUp) throw err;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

let tinySubject: string | null | undefined;

/** One kill of the C floor subject: its handler stamps the entry and exits 0. */
async function cFloorTrial(binary: string): Promise<number> {
  const child = spawn(binary, [], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { SIGCERT_PROBE_FD: '3' },
  });
  const server = new Server(child.pid!, child.stdio[3] as NodeJS.ReadableStream, child);
  try {
    await server.waitFor('ready');
    await pause(SETTLE_MS);
    await pause(Math.random() * 100);
    const sentAt = process.hrtime.bigint();
    process.kill(server.pid, 'SIGTERM');
    const ack = await server.waitFor('signal');
    const code = await server.done;
    if (code !== 0) throw new Error(`c-floor: exit ${code}, expected 0`);
    return Number(BigInt(ack.t) - sentAt) / 1e6;
  } finally {
    server.killGroup();
    await server.done;
  }
}

async function trial(scenario: Scenario): Promise<number> {
  if (scenario === 'c-floor') {
    if (!tinySubject) throw new Error('c-floor needs cc');
    return cFloorTrial(tinySubject);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sigcert-bench-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  writeFileSync(join(dir, 'config.json'), '{"generation":1}');
  const port = await freePort();
  const child = spawn(process.execPath, [scenario === 'node-floor' ? NODE_FLOOR_JS : MAIN_JS], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      SIGCERT_HOST: '127.0.0.1',
      SIGCERT_PORT_HTTP: String(port),
      SIGCERT_STATE_DIR: join(dir, 'state'),
      SIGCERT_CONFIG: join(dir, 'config.json'),
      SIGCERT_PROBE_FD: '3',
      SIGCERT_CONFORMANCE: '1',
      SIGCERT_FIFO: fifo,
      ...(process.env.SIGCERT_CPU_NICE ? { SIGCERT_CPU_NICE: process.env.SIGCERT_CPU_NICE } : {}),
    },
  });
  const server = new Server(child.pid!, child.stdio[3] as NodeJS.ReadableStream, child);
  const sockets: import('node:net').Socket[] = [];
  let writer: number | undefined;
  try {
    await server.waitFor('ready');
    (await requestHead(port, '/live')).destroy(); // one answered request
    await pause(SETTLE_MS); // let start-up work end (see the header comment)
    if (scenario === 'cpu') {
      sockets.push(await requestHead(port, '/cpu?ms=1000'));
      await pause(Math.random() * 500); // a random point in the first half of the work
    } else if (scenario === 'fifo') {
      const pending = connect({ port, host: '127.0.0.1' });
      pending.on('error', () => {});
      pending.write('GET /fifo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      sockets.push(pending);
      writer = await fifoWriter(fifo); // the read is now pending inside the server
      await pause(Math.random() * 100);
    } else {
      await pause(Math.random() * 100);
    }

    const sentAt = process.hrtime.bigint();
    process.kill(server.pid, 'SIGTERM');
    const ack = await server.waitFor('signal');
    const latencyMs = Number(BigInt(ack.t) - sentAt) / 1e6;

    if (scenario === 'cpu') process.kill(server.pid, 'SIGQUIT');
    if (writer !== undefined) {
      writeSync(writer, 'released\n');
      closeSync(writer);
      writer = undefined;
    }
    const deadline = setTimeout(() => server.killGroup(), 10_000);
    const code = await server.done;
    clearTimeout(deadline);
    const expected = scenario === 'cpu' ? 4 : 0;
    if (code !== expected) throw new Error(`${scenario}: exit ${code}, expected ${expected}`);
    return latencyMs;
  } finally {
    if (writer !== undefined) closeSync(writer);
    for (const s of sockets) s.destroy();
    server.killGroup();
    await server.done;
    rmSync(dir, { recursive: true, force: true });
  }
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function run(scenario: Scenario): Promise<number[]> {
  const results: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < TRIALS) {
      next++;
      results.push(await trial(scenario));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results.sort((a, b) => a - b);
}

const fmt = (x: number) => x.toFixed(3);
const rows: string[] = [];
const started = Date.now();
for (const scenario of SCENARIOS) {
  const t0 = Date.now();
  if (scenario === 'c-floor') {
    tinySubject = compile(mkdtempSync(join(tmpdir(), 'sigcert-cfloor-')))?.subject ?? null;
    if (tinySubject === null) {
      process.stderr.write('c-floor: skipped, cc not found\n');
      continue;
    }
  }
  const xs = await run(scenario);
  process.stderr.write(`${scenario}: ${xs.length} trials in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const [p50, p90, p99, max] = [50, 90, 99, 100].map((p) => percentile(xs, p));
  // issue 19: p99 <= 0.5 ms on a quiet machine; the c-floor row says what this machine allows at all
  const goal = scenario.endsWith('-floor') ? '(floor)' : p99! <= 0.5 ? 'yes' : 'no';
  rows.push(`| ${scenario} | ${xs.length} | ${fmt(p50!)} | ${fmt(p90!)} | ${fmt(p99!)} | ${fmt(max!)} | ${goal} |`);
}

console.log(
  `SIGTERM -> handler entry (ms), node ${process.version}, ${cpus().length} CPUs, concurrency ${CONCURRENCY}, settle ${SETTLE_MS} ms, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
console.log('| scenario | n | p50 | p90 | p99 | max | p99 <= 0.5 ms |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
