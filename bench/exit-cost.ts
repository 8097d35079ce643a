/**
 * What a process's end costs on this machine, from kill() to the parent seeing it (not part of
 * `npm test`; the evidence behind docs/bench.md "The floor"):
 *
 *   node --import tsx bench/exit-cost.ts [--trials 40]
 *
 * Every variant is started, left idle for 100 ms, sent SIGTERM, and timed until its `exit` event here;
 * the variants' trials are interleaved (one of each per round). Two families:
 *
 * - Node: a node:http server with no SIGTERM handler (the kernel ends it), and with a handler that
 *   calls `process.exit(0)` at once, plain and with fewer threads (`--v8-pool-size=1`,
 *   `UV_THREADPOOL_SIZE=1`, `--single-threaded`) or `process.reallyExit(0)` (no `exit` event);
 * - C (`cc` needed, else skipped): a program killed by SIGTERM with 0 or 40 MB of touched anonymous
 *   memory, 0 or 10 idle threads, or 8 GB of reserved but untouched address space: what the kernel's
 *   teardown itself depends on.
 *
 * Prints p25 / p50 / p90 in milliseconds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '40' } } });
const TRIALS = Math.max(1, Number(values.trials));

interface Variant {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

const nodeServer = (onTerm: string | null) =>
  `const s=require("http").createServer((q,r)=>r.end("ok"));` +
  (onTerm ? `process.on("SIGTERM",()=>{s.close();${onTerm}});` : '') +
  `s.listen(0,"127.0.0.1",()=>console.log("ready"));require("fs").readFile(__filename,()=>{});`;

const C_SOURCE = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/mman.h>
static void *idle(void *a) { (void)a; for (;;) pause(); return 0; }
int main(int argc, char **argv) {
  long mb = atol(argv[1]); int threads = atoi(argv[2]); long reserve = argc > 3 ? atol(argv[3]) : 0;
  if (mb) { char *p = malloc(mb << 20); memset(p, 1, mb << 20); }
  if (reserve) mmap(0, reserve << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  for (int i = 0; i < threads; i++) { pthread_t t; pthread_create(&t, 0, idle, 0); }
  printf("ready\\n"); fflush(stdout);
  for (;;) pause();
}
`;

function cVariants(): Variant[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-exit-cost-'));
  const bin = path.join(dir, 'idle');
  try {
    writeFileSync(`${bin}.c`, C_SOURCE);
    execFileSync('cc', ['-O2', '-pthread', '-o', bin, `${bin}.c`], { stdio: 'ignore' });
  } catch {
    console.error('cc not found: the C variants are skipped');
    return [];
  }
  return [
    { name: 'C, 0 MB, 0 threads', command: bin, args: ['0', '0'] },
    { name: 'C, 40 MB touched', command: bin, args: ['40', '0'] },
    { name: 'C, 10 idle threads', command: bin, args: ['0', '10'] },
    { name: 'C, 8 GB reserved', command: bin, args: ['0', '0', '8192'] },
  ];
}

const node = process.execPath;
const variants: Variant[] = [
  { name: 'node, no handler (kernel)', command: node, args: ['-e', nodeServer(null)] },
  { name: 'node, process.exit(0)', command: node, args: ['-e', nodeServer('process.exit(0)')] },
  {
    name: 'node, exit, --v8-pool-size=1',
    command: node,
    args: ['--v8-pool-size=1', '-e', nodeServer('process.exit(0)')],
  },
  {
    name: 'node, exit, pools of 1',
    command: node,
    args: ['--v8-pool-size=1', '-e', nodeServer('process.exit(0)')],
    env: { UV_THREADPOOL_SIZE: '1' },
  },
  {
    name: 'node, exit, --single-threaded',
    command: node,
    args: ['--single-threaded', '-e', nodeServer('process.exit(0)')],
  },
  { name: 'node, process.reallyExit(0)', command: node, args: ['-e', nodeServer('process.reallyExit(0)')] },
  ...cVariants(),
];

function once(v: Variant): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(v.command, v.args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...v.env } });
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${v.name}: not ready or not gone within 10 s`));
    }, 10_000);
    child.stdout.once('data', () => {
      setTimeout(() => {
        const t0 = process.hrtime.bigint();
        child.once('exit', () => {
          clearTimeout(deadline);
          resolve(Number(process.hrtime.bigint() - t0) / 1e6);
        });
        process.kill(child.pid!, 'SIGTERM');
      }, 100);
    });
  });
}

const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let i = 0; i < TRIALS; i++) for (const v of variants) times.get(v.name)!.push(await once(v));
const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))]!.toFixed(2);
console.log(
  `kill(SIGTERM) -> exit seen (ms), ${TRIALS} interleaved trials, load average ${os.loadavg()[0]!.toFixed(2)}\n`,
);
console.log('| variant | p25 | p50 | p90 |\n|---|---:|---:|---:|');
for (const [name, a] of times) {
  a.sort((x, y) => x - y);
  console.log(`| ${name} | ${q(a, 0.25)} | ${q(a, 0.5)} | ${q(a, 0.9)} |`);
}
