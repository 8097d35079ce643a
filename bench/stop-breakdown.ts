/**
 * Where the time of a graceful stop goes, step by step (not part of `npm test`):
 *
 *   npm run build && node --import tsx bench/stop-breakdown.ts [--trials 10] [--connections 0,1000]
 *                                                             [--mode single,supervised] [--main JS]
 *
 * Each trial launches the built reference server (`dist/reference/src/main.js`, with `--workers 2`
 * for the supervised mode) with `SIGCERT_TRACE=1`, waits for `ready`, opens `--connections` idle
 * keep-alive connections (one `GET /live` each, then left open), takes `process.hrtime.bigint()`
 * and sends SIGTERM. The server's probe events are stamped with the same monotonic clock, so every
 * step is placed on one timeline from the kill:
 *
 * - `signal` (handler entry), `state STOPPING` (readiness fails), `stop-accepting` (listeners
 *   closed), `drained`, `state EXITING`, `persisted`, `exiting`: the protocol's probe events;
 * - `trace` events (`SIGCERT_TRACE=1` only): the begin and end of every bus step, the idle
 *   keep-alive connections ended, and the call to `process.exit`;
 * - `gone`: when this process saw the child exit (SIGCHLD; includes the kernel's teardown of the
 *   process and our own observation delay).
 *
 * Prints one table per mode and connection count: each step's median and p90 offset from the
 * kill, and the median time since the previous step.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    connections: { type: 'string', default: '0,1000' },
    mode: { type: 'string', default: 'single,supervised' },
    json: { type: 'boolean', default: false },
    /** Another build of the server (say, of an older commit) to compare with. */
    main: { type: 'string' },
  },
});
const TRIALS = Math.max(1, Number(args.trials));
const CONNECTIONS = args.connections.split(',').map(Number);
const MODES = args.mode.split(',') as Array<'single' | 'supervised'>;
const MAIN_JS = args.main ?? fileURLToPath(new URL('../dist/reference/src/main.js', import.meta.url));
const BATCH = 100;

interface ProbeEvent {
  ev: string;
  t: string;
  [k: string]: unknown;
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

/** An idle keep-alive client: one request, the whole response read, then left open. */
function idleClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let answered = false;
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setEncoding('latin1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no response within 5 s'));
    }, 5000);
    socket.on('data', (chunk: string) => {
      if (answered) return;
      buf += chunk;
      const head = buf.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buf)?.[1];
      if (head >= 0 && length !== undefined && buf.length >= head + 4 + Number(length)) {
        answered = true;
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (!answered) reject(err);
    });
    socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

interface Step {
  /** ms after the kill */
  at: number;
  /** process CPU time at this step, in µs (trace events only) */
  cpuUs?: number;
}

/** One stop: the named steps as ms after the kill. */
async function trial(mode: 'single' | 'supervised', connections: number): Promise<Map<string, Step>> {
  const dir = mkdtempSync(join(tmpdir(), 'sigcert-breakdown-'));
  writeFileSync(join(dir, 'config.json'), '{"generation":1}');
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN_JS, ...(mode === 'supervised' ? ['--workers', '2'] : [])], {
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
      SIGCERT_TRACE: '1',
    },
  });
  const events: ProbeEvent[] = [];
  let wake = () => {};
  createInterface({ input: child.stdio[3] as NodeJS.ReadableStream }).on('line', (line) => {
    if (line) events.push(JSON.parse(line) as ProbeEvent);
    wake();
  });
  let goneAt: bigint | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      goneAt = process.hrtime.bigint();
      resolve();
    }),
  );
  const clients: Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not become ready in 15 s')), 15_000);
      wake = () => {
        if (!events.some((e) => e.ev === 'ready')) return;
        clearTimeout(timer);
        resolve();
      };
      wake();
    });
    for (let i = 0; i < connections; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, connections - i) }, () => idleClient(port));
      clients.push(...(await Promise.all(batch)));
    }
    const sentAt = process.hrtime.bigint();
    process.kill(child.pid!, 'SIGTERM');
    const deadline = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
    await gone;
    clearTimeout(deadline);
    const steps = new Map<string, Step>();
    const at = (e: ProbeEvent) => Number(BigInt(e.t) - sentAt) / 1e6;
    for (const e of events) {
      if (BigInt(e.t) < sentAt) continue;
      let name: string;
      if (e.ev === 'state') name = `${String(e.state)} (probe)`;
      else if (e.ev === 'trace') name = e.phase === undefined ? String(e.step) : `${String(e.step)} ${String(e.phase)}`;
      else name = e.ev;
      // Worker pids differ between trials: number the workers' steps by their order instead.
      name = name.replace(/worker \d+/, 'a worker');
      if (e.ev === 'worker-exit') name = 'worker-exit (probe)';
      let unique = name;
      for (let k = 2; steps.has(unique); k++) unique = `${name} #${k}`;
      steps.set(unique, { at: at(e), cpuUs: typeof e.cpuUs === 'number' ? e.cpuUs : undefined });
    }
    steps.set('gone (exit seen)', { at: Number(goneAt! - sentAt) / 1e6 });
    return steps;
  } finally {
    for (const c of clients) c.destroy();
    if (goneAt === undefined) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const f = (x: number) => x.toFixed(2);

console.log(
  `Stop breakdown: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, ${TRIALS} trials each; ms after kill(SIGTERM)\n`,
);
const all: Record<string, Record<string, { p50: number; p90: number; cpuMs?: number; n: number }>> = {};
for (const mode of MODES) {
  for (const connections of CONNECTIONS) {
    const runs: Map<string, Step>[] = [];
    for (let i = 0; i < TRIALS; i++) runs.push(await trial(mode, connections));
    // Steps in the order of their median offset; CPU: the median, over trials, of the process CPU
    // time spent since the previous CPU-stamped step of the same trial.
    const names = [...new Set(runs.flatMap((r) => [...r.keys()]))];
    const order = names
      .map((name) => ({
        name,
        p50: quantile(
          runs.flatMap((r) => r.get(name)?.at ?? []),
          0.5,
        ),
      }))
      .sort((a, b) => a.p50 - b.p50)
      .map((x) => x.name);
    const cpuSince = (r: Map<string, Step>, name: string): number | undefined => {
      const here = r.get(name)?.cpuUs;
      if (here === undefined) return undefined;
      let before: number | undefined;
      for (const other of order) {
        if (other === name) break;
        before = r.get(other)?.cpuUs ?? before;
      }
      return before === undefined ? undefined : (here - before) / 1000;
    };
    const rows = order.map((name) => {
      const xs = runs.flatMap((r) => r.get(name)?.at ?? []);
      const cpu = runs.flatMap((r) => cpuSince(r, name) ?? []);
      return {
        name,
        p50: quantile(xs, 0.5),
        p90: quantile(xs, 0.9),
        cpuMs: cpu.length > 0 ? quantile(cpu, 0.5) : undefined,
        n: xs.length,
      };
    });
    const key = `${mode}, ${connections} idle keep-alive connections`;
    all[key] = Object.fromEntries(rows.map((r) => [r.name, { p50: r.p50, p90: r.p90, cpuMs: r.cpuMs, n: r.n }]));
    console.log(`### ${key}\n`);
    console.log('| step | p50 after kill | p90 | since previous (p50) | CPU since previous stamp | n |');
    console.log('|---|---:|---:|---:|---:|---:|');
    let prev = 0;
    for (const r of rows) {
      const cpu = r.cpuMs === undefined ? '' : f(r.cpuMs);
      console.log(`| ${r.name} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p50 - prev)} | ${cpu} | ${r.n} |`);
      prev = r.p50;
    }
    console.log('');
  }
}
if (args.json) console.log(JSON.stringify(all, null, 2));
