/**
 * Restarts of the supervised reference under bounded loopback load (not part of `npm test`):
 *
 *   npm run build && node --import tsx bench/restart.ts [--restarts 20] [--clients 4]
 *       [--keepalive 2] [--workers 2]
 *
 * One launch of `subjects/reference-supervised` (the harness launcher, so its probe is read the same
 * way). `--clients` loops open a new connection per request and `--keepalive` loops send back to back
 * on one connection (a new one after `Connection: close`), each bounded to 20,000 requests. Then
 * `--restarts` times: write a new `codeVersion` into the configuration file, send SIGUSR2, and wait
 * until the old generation has exited (probe `generation-exit`) before the next one, so each restart
 * is measured alone. From the SIGUSR2 send time (the harness's monotonic clock, the one the probe
 * events are stamped with):
 *
 * - `new serves`: until the new generation listens on every port (probe `generation-ready`);
 * - `only new`: until the old generation has stopped accepting, so every new connection gets the
 *   new code (probe `restart-done`);
 * - `old gone`: until every worker of the old generation has exited (probe `generation-exit`).
 *
 * Requests are counted by outcome over the whole run (refused, reset, failed otherwise). Prints a
 * Markdown table; writes reports/bench/restart.json and restart.md.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { History, HttpConnection, launch, loadManifest, request, teardownAll } from '../harness/src/index.js';
import { fmt, type Stat, stat } from './stats.js';

const { values: args } = parseArgs({
  options: {
    restarts: { type: 'string', default: '20' },
    clients: { type: 'string', default: '4' },
    keepalive: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
  },
});
const RESTARTS = Math.max(1, Number(args.restarts));
const CLIENTS = Math.max(0, Number(args.clients));
const KEEPALIVE = Math.max(0, Number(args.keepalive));
const WORKERS = Math.max(1, Number(args.workers));
const MAX_PER_CLIENT = 20_000;

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const manifest = loadManifest(path.join(root, 'subjects/reference-supervised/manifest.json'));
manifest.args = manifest.args.map((a, i, all) => (all[i - 1] === '--workers' ? String(WORKERS) : a));

interface Counts {
  ok: number;
  refused: number;
  reset: number;
  failed: number;
  keepAliveReconnects: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'sigcert-bench-restart-'));
  const s = await launch({ manifest, history: new History(), runDir: path.join(work, 'run') });
  const counts: Counts = { ok: 0, refused: 0, reset: 0, failed: 0, keepAliveReconnects: 0 };
  const failures: string[] = [];
  const count = (r: { ok: boolean; status?: number; error?: string; errorMessage?: string }) => {
    if (r.ok && r.status === 200) counts.ok++;
    else {
      if (r.error === 'refused') counts.refused++;
      else if (r.error === 'reset') counts.reset++;
      else counts.failed++;
      if (failures.length < 20) failures.push(`${r.error ?? `status ${r.status}`} ${r.errorMessage ?? ''}`.trim());
    }
  };
  let stop = false;
  const port = s.ports.http!;
  const fresh = async () => {
    for (let i = 0; i < MAX_PER_CLIENT && !stop; i++) count(await request(port, { path: '/live', timeoutMs: 5000 }));
  };
  const keepAlive = async () => {
    let conn: HttpConnection | undefined;
    for (let i = 0; i < MAX_PER_CLIENT && !stop; i++) {
      if (conn === undefined || conn.isClosed) {
        conn?.close();
        try {
          conn = await HttpConnection.open(port);
        } catch (e) {
          count({ ok: false, error: (e as { kind?: string }).kind ?? 'other', errorMessage: (e as Error).message });
          conn = undefined;
          continue;
        }
        if (i > 0) counts.keepAliveReconnects++;
      }
      const r = await conn.request({ path: '/live', timeoutMs: 5000 });
      count(r);
      if (!r.ok || r.headers.connection?.toLowerCase() === 'close') {
        conn.close();
        conn = undefined;
      }
    }
    conn?.close();
  };
  const newServes: number[] = [];
  const onlyNew: number[] = [];
  const oldGone: number[] = [];
  const clients = [...Array.from({ length: CLIENTS }, fresh), ...Array.from({ length: KEEPALIVE }, keepAlive)];
  const started = Date.now();
  try {
    for (let i = 1; i <= RESTARTS; i++) {
      s.writeConfig({ generation: 1, codeVersion: `bench-${i}` });
      const t0 = s.signal('SIGUSR2');
      const after = (ev: string) => (e: { ev: string; t: string }) => e.ev === ev && BigInt(e.t) >= t0;
      const ready = await s.waitProbe(after('generation-ready'), 30_000, 'generation-ready');
      const done = await s.waitProbe(after('restart-done'), 30_000, 'restart-done');
      const gone = await s.waitProbe(after('generation-exit'), 30_000, 'generation-exit');
      newServes.push(Number(BigInt(ready.t) - t0) / 1e6);
      onlyNew.push(Number(BigInt(done.t) - t0) / 1e6);
      oldGone.push(Number(BigInt(gone.t) - t0) / 1e6);
      if (done.version !== `bench-${i}`) throw new Error(`restart ${i} brought ${String(done.version)}`);
    }
  } finally {
    stop = true;
    await Promise.all(clients);
    await s.teardown();
    await teardownAll();
  }
  const seconds = (Date.now() - started) / 1000;
  const rows: Array<[string, Stat]> = [
    ['SIGUSR2 → new generation serves (generation-ready)', stat(newServes)],
    ['SIGUSR2 → every new connection on new code (restart-done)', stat(onlyNew)],
    ['SIGUSR2 → old generation exited (generation-exit)', stat(oldGone)],
  ];
  const total = counts.ok + counts.refused + counts.reset + counts.failed;
  const md = [
    `# Restart under load: ${RESTARTS} restarts, ${WORKERS} workers, ${CLIENTS} + ${KEEPALIVE} keep-alive clients`,
    '',
    `${os.type()} ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs, node ${process.version}; ${seconds.toFixed(1)} s`,
    '',
    '| interval | n | median ms | p90 ms | p99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      ([name, x]) => `| ${name} | ${x.n} | ${fmt(x.p50, 1)} | ${fmt(x.p90, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.max, 1)} |`,
    ),
    '',
    `Requests: ${total} (${counts.ok} ok), refused ${counts.refused}, reset ${counts.reset}, failed otherwise ${counts.failed}; keep-alive reconnects after Connection: close: ${counts.keepAliveReconnects}.`,
    ...(failures.length ? ['', `First failures: ${failures.join('; ')}`] : []),
  ];
  console.log(md.join('\n'));
  const out = path.join(root, 'reports', 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'restart.md'), `${md.join('\n')}\n`);
  writeFileSync(
    path.join(out, 'restart.json'),
    `${JSON.stringify({ restarts: RESTARTS, workers: WORKERS, clients: CLIENTS, keepAlive: KEEPALIVE, counts, failures, newServes: stat(newServes), onlyNew: stat(onlyNew), oldGone: stat(oldGone), samples: { newServes, onlyNew, oldGone } }, null, 2)}\n`,
  );
  if (counts.refused + counts.reset + counts.failed > 0) process.exitCode = 1;
}

await main();
