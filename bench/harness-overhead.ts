/**
 * The harness's own overhead: the same tiny C subject (bench/c/tiny-subject.c) measured by the
 * sigcert harness (launch, Subject.signal, waitProbe) and by a minimal C supervisor
 * (bench/c/supervisor.c). Both stamp CLOCK_MONOTONIC right before kill(); the subject stamps its
 * handler entry. kill→handler isolates delivery; the round trip adds the observer's own wake-up.
 *
 *   node --import tsx bench/harness-overhead.ts [--trials N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { History, launch, loadManifest } from '../harness/src/index.js';
import { type Stat, stat } from './stats.js';

const here = path.dirname(new URL(import.meta.url).pathname);

export interface OverheadResult {
  trials: number;
  c: { killToHandler: Stat; roundTrip: Stat };
  harness: { killToHandler: Stat; roundTrip: Stat };
}

export function compile(dir: string): { subject: string; supervisor: string } | null {
  try {
    const subject = path.join(dir, 'tiny-subject');
    const supervisor = path.join(dir, 'supervisor');
    execFileSync('cc', ['-O2', '-o', subject, path.join(here, 'c', 'tiny-subject.c')], { stdio: 'ignore' });
    execFileSync('cc', ['-O2', '-o', supervisor, path.join(here, 'c', 'supervisor.c')], { stdio: 'ignore' });
    return { subject, supervisor };
  } catch {
    return null;
  }
}

export async function measureHarnessOverhead(trials: number): Promise<OverheadResult | null> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sigcert-overhead-'));
  const bins = compile(dir);
  if (!bins) return null;

  const out = execFileSync(bins.supervisor, [String(trials), bins.subject], { encoding: 'utf8', timeout: 120_000 });
  const rows = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { killToHandler: number; roundTrip: number });
  const c = {
    killToHandler: stat(rows.map((r) => r.killToHandler / 1e6)),
    roundTrip: stat(rows.map((r) => r.roundTrip / 1e6)),
  };

  const manifestFile = path.join(dir, 'manifest.json');
  writeFileSync(
    manifestFile,
    JSON.stringify({
      protocol: '1',
      name: 'tiny-c',
      command: bins.subject,
      readiness: { kind: 'probe' },
      signals: { SIGTERM: 'stop', SIGHUP: 'reload' },
      capabilities: { probe: true },
      platforms: ['linux', 'darwin'],
    }),
  );
  const manifest = loadManifest(manifestFile);
  const s = await launch({ manifest, history: new History(), runDir: path.join(dir, 'run') });
  const k2h: number[] = [];
  const rt: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const t0 = s.signal('SIGHUP');
      const ack = await s.waitProbe((e) => e.ev === 'signal' && BigInt(e.t) >= t0, 2000, 'ack');
      const t1 = process.hrtime.bigint();
      k2h.push(Number(BigInt(ack.t) - t0) / 1e6);
      rt.push(Number(t1 - t0) / 1e6);
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 2)); // the same random gap as the C supervisor
    }
  } finally {
    await s.teardown();
  }
  return { trials, c, harness: { killToHandler: stat(k2h), roundTrip: stat(rt) } };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const i = process.argv.indexOf('--trials');
  const n = i > 0 ? Number(process.argv[i + 1]) : 500;
  const r = await measureHarnessOverhead(n);
  if (!r) {
    console.log('cc is not available: the harness-overhead benchmark needs a C compiler');
  } else {
    console.log(JSON.stringify(r, null, 2));
  }
}
