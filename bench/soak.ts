/**
 * `npm run soak`: the crash soak of the reference server's durable store, through the harness's own
 * launcher (real processes, one state directory for every launch).
 *
 * Each round launches the reference on the same state directory, and at a random moment (uniform in
 * 0..maxDelayMs after the spawn, so some kills land during startup and store recovery, the rest under
 * load) SIGKILLs it while `writers` concurrent clients PUT unique keys (`PUT /kv/<key>`, keep-alive). A
 * write is acknowledged when the server answered 201. After the last kill, one more launch reads back every
 * acknowledged key: missing is **lost**, a different value is **corrupt**. Recovery time is spawn to
 * ready (the probe `ready` event) of every launch that reached ready after a kill.
 *
 * Options (after `npm run soak --`): `--kills N` (100), `--writers N` (8), `--max-delay-ms N` (1500),
 * `--seed N` (random; printed, reproduces the kill moments), `--keep` (keep the run directory).
 * Exit status 0 when nothing was lost or corrupt. Requires `npm run build` (the reference runs from dist/).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HttpConnection } from '../harness/src/clients/http.js';
import { History } from '../harness/src/history.js';
import {
  describeExit,
  installInterruptHandler,
  launch,
  loadManifest,
  repoRoot,
  type Subject,
} from '../harness/src/launch/index.js';
import { lastLine } from '../harness/src/launch/setup.js';

export interface SoakOptions {
  kills: number;
  writers: number;
  maxDelayMs: number;
  seed: number;
  /** the run directory (state directory and per-launch logs); default: a new temporary directory */
  dir?: string;
  /** progress lines; default: none */
  log?: (line: string) => void;
}

export interface SoakResult {
  seed: number;
  kills: number;
  /** kills that landed before the launch was ready (startup, store recovery) */
  killsBeforeReady: number;
  acknowledged: number;
  /** writes whose outcome is unknown (in flight at the kill): not counted as acknowledged */
  indeterminate: number;
  lost: number;
  corrupt: number;
  /** examples of lost or corrupt keys (at most 10) */
  examples: string[];
  /** spawn-to-ready of every launch after a kill, ms */
  recoveryMs: number[];
  /** launches that exited by themselves before their kill: how, and the last stderr line */
  selfExits: string[];
  durationMs: number;
}

/** A small seeded PRNG (xorshift32), uniform in [0, 1). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function valueFor(key: string): string {
  // self-describing, so a value under the wrong key, or cut short, is visible as corrupt
  return `${key}|${key.length}|${'v'.repeat(16 + (key.length % 48))}`;
}

/** One writer: PUT unique keys on a keep-alive connection until `stop()` says so or the server is gone. */
async function writer(
  port: number,
  prefix: string,
  stop: () => boolean,
  acked: Map<string, string>,
  counts: { indeterminate: number },
): Promise<void> {
  let seq = 0;
  let conn: HttpConnection | null = null;
  try {
    while (!stop()) {
      if (conn === null || conn.isClosed) {
        conn?.close();
        conn = await HttpConnection.open(port, { timeoutMs: 2_000 }).catch(() => null);
        if (conn === null) return; // refused: the server is gone
      }
      const key = `${prefix}-${seq++}`;
      const value = valueFor(key);
      const r = await conn.request({ method: 'PUT', path: `/kv/${key}`, body: value, timeoutMs: 5_000 });
      if (r.ok && r.status === 201) acked.set(key, value);
      else if (r.ok)
        return; // a definite refusal (e.g. 503 while stopping): nothing more to do here
      else {
        counts.indeterminate++;
        return; // reset / EOF mid-request: the kill
      }
    }
  } finally {
    conn?.close();
  }
}

/** Read back every acknowledged key with `readers` keep-alive connections. */
async function readBack(
  port: number,
  acked: Map<string, string>,
  readers: number,
): Promise<{ lost: string[]; corrupt: string[] }> {
  const keys = [...acked.keys()];
  const lost: string[] = [];
  const corrupt: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: readers }, async () => {
      let conn = await HttpConnection.open(port, { timeoutMs: 5_000 });
      try {
        while (next < keys.length) {
          const key = keys[next++]!;
          let r = await conn.request({ path: `/kv/${key}`, timeoutMs: 10_000 });
          if (!r.ok) {
            conn.close(); // one retry on a fresh connection (keep-alive closed by the server)
            conn = await HttpConnection.open(port, { timeoutMs: 5_000 });
            r = await conn.request({ path: `/kv/${key}`, timeoutMs: 10_000 });
          }
          if (!r.ok) throw new Error(`read back ${key}: ${r.error} ${r.errorMessage ?? ''}`);
          if (r.status === 404) lost.push(key);
          else if (r.status !== 200 || r.body.toString() !== acked.get(key)) corrupt.push(key);
        }
      } finally {
        conn.close();
      }
    }),
  );
  return { lost, corrupt };
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const started = performance.now();
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sigcert-soak-'));
  const stateDir = join(dir, 'state');
  const manifest = loadManifest(join(repoRoot(), 'subjects', 'reference', 'manifest.json'));
  const rand = prng(opts.seed);
  const acked = new Map<string, string>();
  const counts = { indeterminate: 0 };
  const recoveryMs: number[] = [];
  let ports: Record<string, number> | undefined;
  let killsBeforeReady = 0;
  const selfExits: string[] = [];
  let keep = true; // until the read-back says there is nothing to look at

  let launches = 0;
  const start = async (): Promise<{ s: Subject; ready: Promise<number | null>; runDir: string }> => {
    const runDir = join(dir, `launch-${launches++}`);
    const s = await launch({
      manifest,
      runDir,
      history: new History(),
      stateDir,
      ...(ports ? { ports } : {}),
      waitReady: false,
    });
    ports ??= s.ports;
    const t0 = performance.now();
    const ready = s.waitReady(manifest.readiness.timeoutMs).then(
      () => performance.now() - t0,
      () => null, // killed (or failed) before ready
    );
    return { s, ready, runDir };
  };

  for (let i = 0; i < opts.kills; i++) {
    const { s, ready, runDir } = await start();
    try {
      const delayMs = Math.floor(rand() * opts.maxDelayMs);
      let killed = false;
      let readyAt: number | null = null;
      const writers: Promise<void>[] = [];
      const port = s.ports.http!;
      void ready.then((ms) => {
        readyAt = ms;
        if (ms === null || killed) return;
        for (let w = 0; w < opts.writers; w++) {
          writers.push(writer(port, `k${i}-w${w}`, () => killed, acked, counts));
        }
      });
      // the kill moment: a random point in time, not a synchronisation
      await new Promise((r) => setTimeout(r, delayMs));
      killed = true;
      if (s.exited !== null) {
        // it stopped by itself (a finding, not a kill): say how, and use fresh ports next time in case
        // another process took one of ours while the reference was down
        await s.teardown();
        const tail = lastLine(join(runDir, 'stderr.log'));
        selfExits.push(`launch ${i}: exited by itself (${describeExit(s.exited)}); stderr: ${tail ?? '(empty)'}`);
        log(selfExits[selfExits.length - 1]!);
        ports = undefined;
        await Promise.all(writers);
        if (selfExits.length > 10)
          throw new Error(`the reference exited by itself ${selfExits.length} times (see ${dir})`);
        i--; // this round killed nothing: run it again
        continue;
      }
      if (readyAt === null) killsBeforeReady++;
      s.signal('SIGKILL');
      await s.waitExit(10_000);
      const ms = await ready;
      if (i > 0 && ms !== null) recoveryMs.push(ms);
      await Promise.all(writers);
    } finally {
      await s.teardown();
    }
    if ((i + 1) % 10 === 0) log(`${i + 1} kills, ${acked.size} acknowledged writes`);
  }

  const { s, ready } = await start();
  try {
    const ms = await ready;
    if (ms === null) throw new Error(`the reference did not become ready after the last kill (see ${dir})`);
    recoveryMs.push(ms);
    const { lost, corrupt } = await readBack(s.ports.http!, acked, 8);
    keep = lost.length > 0 || corrupt.length > 0 || selfExits.length > 0; // evidence stays on disk
    return {
      seed: opts.seed,
      kills: opts.kills,
      killsBeforeReady,
      acknowledged: acked.size,
      indeterminate: counts.indeterminate,
      lost: lost.length,
      corrupt: corrupt.length,
      examples: [...lost.slice(0, 5).map((k) => `lost ${k}`), ...corrupt.slice(0, 5).map((k) => `corrupt ${k}`)],
      recoveryMs,
      selfExits,
      durationMs: performance.now() - started,
    };
  } finally {
    await s.teardown();
    if (opts.dir === undefined && process.env.SOAK_KEEP === undefined && !keep) {
      rmSync(dir, { recursive: true, force: true });
    } else {
      log(`run directory kept: ${dir}`);
    }
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function formatSoak(r: SoakResult, writers: number): string[] {
  const rec = [...r.recoveryMs].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(0);
  return [
    `soak: seed ${r.seed}, ${writers} writers, ${(r.durationMs / 1000).toFixed(0)} s`,
    `kills ${r.kills} (${r.killsBeforeReady} during startup/recovery, ${r.kills - r.killsBeforeReady} under load)`,
    `acknowledged ${r.acknowledged}, lost ${r.lost}, corrupt ${r.corrupt} (indeterminate, not counted: ${r.indeterminate})`,
    `recovery (spawn to ready, ${rec.length} launches after a kill): p50 ${f(pct(rec, 50))} ms, p95 ${f(pct(rec, 95))} ms, max ${f(rec[rec.length - 1] ?? Number.NaN)} ms`,
    ...r.examples,
    ...(r.selfExits.length > 0 ? [`launches that exited by themselves: ${r.selfExits.length}`, ...r.selfExits] : []),
  ];
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (name: string, dflt: number): number => {
    const v = argValue(args, name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      process.stderr.write(`soak: ${name} must be a non-negative integer, got ${JSON.stringify(v)}\n`);
      process.exit(2);
    }
    return n;
  };
  const opts: SoakOptions = {
    kills: num('--kills', 100),
    writers: num('--writers', 8),
    maxDelayMs: num('--max-delay-ms', 1500),
    seed: num('--seed', Math.floor(Math.random() * 2 ** 31)),
    log: (l) => process.stdout.write(`  ${l}\n`),
  };
  if (args.includes('--keep')) process.env.SOAK_KEEP = '1';
  installInterruptHandler(); // Ctrl-C: every launched reference is torn down
  const r = await runSoak(opts);
  for (const line of formatSoak(r, opts.writers)) process.stdout.write(`${line}\n`);
  process.exitCode = r.lost === 0 && r.corrupt === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    process.stderr.write(`soak: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  });
}
