/**
 * Graceful stop with 1,000 idle keep-alive connections (not part of `npm test`):
 *
 *   npm run build && node --import tsx bench/keepalive-stop.ts [--connections 1000] [--runs 5]
 *
 * Each run launches the reference server (`dist/reference/src/main.js`), opens `--connections`
 * loopback connections (at most 100 connecting at a time), makes one `GET /live` on each and
 * leaves it open and idle (keep-alive). Then `SIGTERM`. Measured from a `process.hrtime.bigint()`
 * taken just before `process.kill()`:
 *
 * - ack, stop-accepting, drained, exiting: the server's probe stamps (same monotonic clock);
 * - exit: when this process saw the child exit (includes our own observation delay);
 * - how the client connections ended: FIN (clean) or RST.
 *
 * Goal: drained and exit < 100 ms. A Node `server.close()` alone would wait for every idle client
 * to go away (or for keepAliveTimeout); the reference ends idle connections itself with FIN.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
  },
});
const CONNECTIONS = Math.max(1, Number(args.connections));
const RUNS = Math.max(1, Number(args.runs));
const BATCH = 100;
const MAIN_JS = fileURLToPath(new URL('../dist/reference/src/main.js', import.meta.url));

interface ProbeEvent {
  ev: string;
  t: string;
  [k: string]: unknown;
}

interface RunResult {
  ack: number;
  stopAccepting: number;
  drained: number;
  exiting: number;
  exit: number;
  code: number | null;
  fin: number;
  rst: number;
  open: number;
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

/** An idle keep-alive client: connects, makes one request, reads the whole response, stays open. */
function idleClient(port: number): Promise<{ socket: Socket; ended: () => 'fin' | 'rst' | 'open' }> {
  return new Promise((resolve, reject) => {
    let how: 'fin' | 'rst' | 'open' = 'open';
    let buf = '';
    let answered = false;
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (answered) return;
      buf += chunk;
      const head = buf.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buf)?.[1];
      if (head >= 0 && length !== undefined && buf.length >= head + 4 + Number(length)) {
        answered = true;
        resolve({ socket, ended: () => how });
      }
    });
    socket.on('end', () => {
      if (how === 'open') how = 'fin';
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (how === 'open') how = err.code === 'ECONNRESET' ? 'rst' : 'rst';
      if (!answered) reject(err);
    });
    socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

async function run(): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sigcert-keepalive-'));
  writeFileSync(join(dir, 'config.json'), '{"generation":1}');
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN_JS], {
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
    },
  });
  const events: ProbeEvent[] = [];
  let wake = () => {};
  createInterface({ input: child.stdio[3] as NodeJS.ReadableStream }).on('line', (line) => {
    if (line) events.push(JSON.parse(line) as ProbeEvent);
    wake();
  });
  let exitedAt: bigint | undefined;
  let exitCode: number | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitedAt = process.hrtime.bigint();
      exitCode = code;
      resolve();
    }),
  );
  const clients: Array<{ socket: Socket; ended: () => 'fin' | 'rst' | 'open' }> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not become ready')), 15_000);
      wake = () => {
        if (events.some((e) => e.ev === 'ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      wake();
    });
    for (let i = 0; i < CONNECTIONS; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, CONNECTIONS - i) }, () => idleClient(port));
      clients.push(...(await Promise.all(batch)));
    }

    const sentAt = process.hrtime.bigint();
    process.kill(child.pid!, 'SIGTERM');
    const deadline = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(deadline);
    // the clients see their FIN a moment later than the server sent it: let them read it
    await Promise.all(
      clients.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.socket.destroyed || c.ended() !== 'open') return resolve();
            c.socket.once('close', () => resolve());
            setTimeout(resolve, 2000);
          }),
      ),
    );
    const at = (ev: string) => {
      const e = events.find((x) => x.ev === ev);
      return e === undefined ? Number.NaN : Number(BigInt(e.t) - sentAt) / 1e6;
    };
    const endings = clients.map((c) => c.ended());
    return {
      ack: at('signal'),
      stopAccepting: at('stop-accepting'),
      drained: at('drained'),
      exiting: at('exiting'),
      exit: exitedAt === undefined ? Number.NaN : Number(exitedAt - sentAt) / 1e6,
      code: exitCode,
      fin: endings.filter((e) => e === 'fin').length,
      rst: endings.filter((e) => e === 'rst').length,
      open: endings.filter((e) => e === 'open').length,
    };
  } finally {
    for (const c of clients) c.socket.destroy();
    if (exitedAt === undefined) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: RunResult[] = [];
for (let i = 0; i < RUNS; i++) results.push(await run());

const f = (x: number) => x.toFixed(2);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
console.log(
  `SIGTERM with ${CONNECTIONS} idle keep-alive connections; ms after kill(); node ${process.version}, ${cpus().length} CPUs\n`,
);
console.log('| run | ack | stop-accepting | drained | exiting | exit (seen) | exit code | clients FIN / RST / open |');
console.log('|---|---|---|---|---|---|---|---|');
results.forEach((r, i) => {
  console.log(
    `| ${i + 1} | ${f(r.ack)} | ${f(r.stopAccepting)} | ${f(r.drained)} | ${f(r.exiting)} | ${f(r.exit)} | ${r.code} | ${r.fin} / ${r.rst} / ${r.open} |`,
  );
});
const m = (k: keyof RunResult) => f(median(results.map((r) => Number(r[k]))));
console.log(`| median | ${m('ack')} | ${m('stopAccepting')} | ${m('drained')} | ${m('exiting')} | ${m('exit')} | | |`);
