/**
 * `npm run bench`: one run that measures sigcert's reference side by side with the servers users
 * would pick instead (every subject in subjects/ that is installed), and writes a Markdown table
 * plus JSON (reports/bench/) with the machine in the header. Every figure is a median over
 * repeated trials with p99 and the trial count; comparisons are also given as ratios.
 *
 *   npm run bench [-- --trials N] [--only reference,nginx] [--quick] [--stop-only] [--baseline DIST]
 *
 * `--only` names subjects (folders of subjects/); `reference` also selects `reference-supervised`,
 * the same server in its supervised mode. The section "The reference against the fastest peer"
 * gives each stop figure of both as a ratio to the fastest other server of the run.
 *
 * Whenever the reference is measured, two floors are measured with it (bench/floors/, `--no-floors`
 * leaves them out): a Node server whose SIGTERM handler calls `process.exit(0)` at once
 * (`node-floor-exit`, the least a Node server that exits 0 can take), one with no handler at all
 * (`node-floor-kill`, the kernel ends it), and one whose handler only closes its listener
 * (`node-floor-close`, the refusal of a naive Node server). They are neither peers nor ours: the ratio section shows them
 * so that a figure can be read against what Node itself costs on the machine of the run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  connectProbe,
  History,
  HttpConnection,
  LaunchError,
  launch,
  loadManifest,
  type Manifest,
  request,
  type Subject,
  signalFor,
  teardownAll,
} from '../harness/src/index.js';
import { measureHarnessOverhead } from './harness-overhead.js';
import { fmt, type Stat, stat } from './stats.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
/** Only the stop figures and their ratios (the first three sections): for iterating on the stop. */
const stopOnly = args.includes('--stop-only');
const TRIALS = Number(arg('trials') ?? (quick ? 5 : 20));
const only = arg('only')?.split(',');
const work = mkdtempSync(path.join(os.tmpdir(), 'sigcert-bench-'));
let runCounter = 0;

/**
 * `--baseline DIR`: another build of the reference (the `dist` folder of an older commit, built with
 * `tsc`) measured in the same run as `reference@baseline` and `reference-supervised@baseline`, its
 * trials interleaved with everyone else's: a before/after comparison under the same load.
 */
const baseline = arg('baseline');
const FLOORS = ['node-floor-exit', 'node-floor-kill', 'node-floor-close'];
const withFloors = !args.includes('--no-floors') && (!only || only.includes('reference'));

function subjects(): Manifest[] {
  const dir = path.join(root, 'subjects');
  const list = readdirSync(dir)
    .filter((d) => existsSync(path.join(dir, d, 'manifest.json')))
    .filter((d) => !only || only.includes(d) || (d === 'reference-supervised' && only.includes('reference')))
    .sort((a, b) => (a === 'reference' ? -1 : b === 'reference' ? 1 : a.localeCompare(b)))
    .map((d) => loadManifest(path.join(dir, d, 'manifest.json')));
  if (withFloors) list.push(...FLOORS.map((f) => loadManifest(path.join(root, 'bench', 'floors', `${f}.json`))));
  if (baseline === undefined) return list;
  const main = path.resolve(baseline, 'reference/src/main.js');
  if (!existsSync(main)) throw new Error(`--baseline ${baseline}: no reference/src/main.js there`);
  const older = list
    .filter((m) => m.name === 'reference' || m.name === 'reference-supervised')
    .map((m) => ({ ...m, name: `${m.name}@baseline`, args: [main, ...m.args.slice(1)] }));
  return [...list, ...older];
}

async function start(m: Manifest): Promise<Subject> {
  return launch({ manifest: m, history: new History(), runDir: path.join(work, `${m.name}-${runCounter++}`) });
}

const livePath = (m: Manifest) => (m.capabilities.conformanceEndpoints ? '/live' : m.readiness.path);

/**
 * Runs `trials` rounds; each round runs `one` once for every subject, in turn. On a shared machine
 * the load drifts over minutes: interleaving gives every subject the same conditions, where running
 * one subject's trials and then the next one's would compare different moments.
 */
async function interleaved<T>(
  list: Manifest[],
  trials: number,
  one: (m: Manifest) => Promise<T>,
): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(list.map((m) => [m.name, []]));
  for (let i = 0; i < trials; i++) {
    for (const m of list) out.get(m.name)!.push(await one(m));
  }
  return out;
}

interface ReactionTrial {
  ack?: number;
  refuse?: number;
  exit?: number;
}

/** Stop reaction: handler latency (probe), time until new connections are refused, time to exit. */
async function stopReactionTrial(m: Manifest): Promise<ReactionTrial> {
  const sig = signalFor(m, 'stop')!;
  const out: ReactionTrial = {};
  const s = await start(m);
  try {
    const t0 = s.signal(sig);
    if (m.capabilities.probe) {
      const e = await s.waitProbe((x) => x.ev === 'signal' && BigInt(x.t) >= t0, 5000, 'ack').catch(() => null);
      if (e) out.ack = Number(BigInt(e.t) - t0) / 1e6;
    }
    for (let k = 0; k < 2000 && !s.exited; k++) {
      const r = await connectProbe(s.ports.http!, { timeoutMs: 1000, path: livePath(m) });
      if (r.outcome === 'refused') {
        out.refuse = Number(process.hrtime.bigint() - t0) / 1e6;
        break;
      }
    }
    const x = await s.waitExit(m.gracePeriodMs + 5000).catch(() => null);
    if (x) out.exit = Number(BigInt(x.ns) - t0) / 1e6;
  } finally {
    await s.teardown();
  }
  return out;
}

function reactionStats(trials: ReactionTrial[]) {
  const pick = (k: keyof ReactionTrial) => trials.flatMap((t) => (t[k] === undefined ? [] : [t[k]]));
  return { ack: stat(pick('ack')), refuse: stat(pick('refuse')), exit: stat(pick('exit')) };
}

/** Graceful stop with 1,000 idle keep-alive connections (each served one request first): one trial. */
async function keepaliveStopTrial(m: Manifest, conns: number): Promise<{ exit?: number; opened: number }> {
  let opened = 0;
  let exit: number | undefined;
  {
    const s = await start(m);
    const open: HttpConnection[] = [];
    try {
      // open in batches; a server that cannot serve more idle keep-alive connections (a small thread
      // pool, each thread parked on one) is measured with as many as it accepted
      let saturated = false;
      for (let k = 0; k < conns && !saturated; k += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, conns - k) }, async () => {
            const c = await HttpConnection.open(s.ports.http!);
            const r = await c.request({ path: livePath(m), timeoutMs: 3000 });
            if (!r.ok) saturated = true;
            return c;
          }),
        );
        open.push(...batch);
      }
      opened = open.filter((c) => !c.isClosed).length;
      const t0 = s.signal(signalFor(m, 'stop')!);
      const x = await s.waitExit(m.gracePeriodMs + 10_000).catch(() => null);
      if (x) exit = Number(BigInt(x.ns) - t0) / 1e6;
    } finally {
      for (const c of open) c.close();
      await s.teardown();
    }
  }
  return { exit, opened };
}

/** Reload under bounded loopback load: failed, refused and reset requests over N reloads. */
async function reloadUnderLoad(m: Manifest, reloads: number) {
  const sig = signalFor(m, 'reload');
  if (!sig) return null;
  const s = await start(m);
  const counts = { ok: 0, failed: 0, refused: 0, reset: 0 };
  let stop = false;
  try {
    const loop = async () => {
      for (let i = 0; i < 20_000 && !stop; i++) {
        const r = await request(s.ports.http!, { path: livePath(m), timeoutMs: 5000 });
        if (r.ok && r.status !== undefined && r.status < 500) counts.ok++;
        else if (r.error === 'refused') counts.refused++;
        else if (r.error === 'reset') counts.reset++;
        else counts.failed++;
      }
    };
    const clients = Array.from({ length: 4 }, loop);
    for (let g = 2; g < 2 + reloads; g++) {
      s.writeConfig({ generation: g });
      const t = s.signal(sig);
      if (m.capabilities.probe) {
        await s.waitProbe((e) => e.ev === 'reload-done' && BigInt(e.t) >= t, 5000, 'reload').catch(() => undefined);
      }
      // pacing, not synchronisation: 100 ms of load around every reload (black-box servers swap
      // workers in the background, so this also gives them time before the next one)
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(clients);
  } finally {
    await s.teardown();
  }
  return { reloads, ...counts };
}

function runScript(file: string, extra: string[] = []): string {
  try {
    return execFileSync('node', ['--import', 'tsx', path.join(root, 'bench', file), ...extra], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    return `(${file} failed: ${(e as Error).message.split('\n')[0]})`;
  }
}

const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const cell = (s: Stat) => (s.n ? `${fmt(s.p50, 2)} / ${fmt(s.p99, 2)} (n=${s.n})` : '—');

async function main() {
  const cpus = os.cpus();
  const md: string[] = [
    '# sigcert benchmarks',
    '',
    `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${os.type()} ${os.release()}, Node ${process.version}, ${new Date().toISOString()}`,
    '',
    `Each figure: median / p99 in ms (n = trials). Ratios compare medians. Load average at the start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}.${stopOnly ? ' Stop figures only (--stop-only).' : ''}`,
    '',
  ];
  const json: Record<string, unknown> = {
    machine: { cpus: cpus.length, model: cpus[0]?.model, node: process.version, os: `${os.type()} ${os.release()}` },
  };
  const list: Manifest[] = [];
  for (const m of subjects()) {
    try {
      const s = await start(m);
      await s.teardown();
      list.push(m);
    } catch (e) {
      md.push(`- ${m.name}: not measured (${e instanceof LaunchError ? e.message : String(e)})`);
    }
  }

  md.push('', '## Stop signal: acknowledgement and external reaction', '');
  md.push(`Trials interleaved: each round stops every server once, in turn.`, '');
  md.push(row(['server', 'stop signal', 'handler ack (probe)', 'time to refuse new connections', 'time to exit']));
  md.push(row(['---', '---', '---', '---', '---']));
  const reaction: Record<string, ReturnType<typeof reactionStats>> = {};
  const reactionTrials = await interleaved(list, TRIALS, stopReactionTrial);
  for (const m of list) {
    const r = reactionStats(reactionTrials.get(m.name)!);
    reaction[m.name] = r;
    md.push(
      row([
        m.name,
        signalFor(m, 'stop') ?? '',
        m.capabilities.probe ? cell(r.ack) : 'no probe',
        cell(r.refuse),
        cell(r.exit),
      ]),
    );
  }
  json.stopReaction = reaction;

  const conns = quick ? 200 : 1000;
  const kaTrials = quick ? 2 : Math.max(3, Math.round(TRIALS / 2));
  md.push('', `## Graceful stop with ${conns} idle keep-alive connections`, '');
  md.push(`Trials interleaved, ${kaTrials} per server.`, '');
  md.push(row(['server', 'idle connections it held', 'time to exit', 'ratio to reference']));
  md.push(row(['---', '---', '---', '---']));
  const ka: Record<string, { exit: Stat; idleConnections: number }> = {};
  const kaRuns = await interleaved(list, kaTrials, (m) => keepaliveStopTrial(m, conns));
  for (const m of list) {
    const runs = kaRuns.get(m.name)!;
    ka[m.name] = {
      exit: stat(runs.flatMap((r) => (r.exit === undefined ? [] : [r.exit]))),
      idleConnections: Math.min(...runs.map((r) => r.opened)),
    };
  }
  for (const m of list) {
    const r = ka[m.name]!;
    const ref = ka.reference?.exit.p50;
    md.push(row([m.name, r.idleConnections, cell(r.exit), ref && r.exit.n ? `${fmt(r.exit.p50 / ref, 1)}×` : '—']));
  }
  json.keepaliveStop = ka;

  // The three stop figures of the reference (one process and supervised) against the fastest peer.
  const figures: Array<{ name: string; of: (server: string) => Stat | undefined; held?: (server: string) => string }> =
    [
      { name: 'stop signal → new connections refused', of: (n) => reaction[n]?.refuse },
      { name: 'stop signal → exit, idle', of: (n) => reaction[n]?.exit },
      {
        name: `stop signal → exit, ${conns} idle keep-alive connections`,
        of: (n) => ka[n]?.exit,
        held: (n) => (ka[n] && ka[n].idleConnections < conns ? ` (held ${ka[n].idleConnections})` : ''),
      },
    ];
  const ours: string[] = list.map((m) => m.name).filter((n) => n.startsWith('reference'));
  const floors = list.map((m) => m.name).filter((n) => FLOORS.includes(n));
  const peers = list.map((m) => m.name).filter((n) => !ours.includes(n) && !floors.includes(n));
  const ratios: Record<string, unknown> = {};
  md.push('', '## The reference against the fastest peer', '');
  md.push(
    `Medians of this run. Peer: the fastest of ${peers.join(', ') || '(none measured)'} for each figure. Goal: ratio ≤ 1.0.`,
    '',
  );
  if (floors.length)
    md.push(
      `Floors (bench/floors/, not peers): \`node-floor-exit\` calls \`process.exit(0)\` in its SIGTERM handler and \`node-floor-kill\` has none (the kernel ends it): neither closes its listener before the process ends, so their refusal is their exit, and no Node server that exits 0 can stop faster than \`node-floor-exit\` here. \`node-floor-close\` only closes its listener, then exits: the refusal of a naive Node server.`,
      '',
    );
  md.push(row(['figure', 'fastest peer', ...floors, ...ours.flatMap((n) => [n, `${n} / peer`])]));
  md.push(row(['---', '---', ...floors.map(() => '---'), ...ours.flatMap(() => ['---', '---'])]));
  for (const f of figures) {
    const best = peers
      .map((n) => ({ n, s: f.of(n) }))
      .filter((x): x is { n: string; s: Stat } => x.s !== undefined && x.s.n > 0)
      .sort((a, b) => a.s.p50 - b.s.p50)[0];
    const cells: string[] = floors.map((n) => {
      const st = f.of(n);
      return st && st.n > 0 ? fmt(st.p50, 2) : '—';
    });
    const entry: Record<string, unknown> = { peer: best?.n ?? null, peerMs: best?.s.p50 ?? null };
    for (const n of floors) entry[n] = { ms: f.of(n)?.p50 ?? null };
    for (const n of ours) {
      const mine = f.of(n);
      const ratio = best && mine && mine.n > 0 ? mine.p50 / best.s.p50 : Number.NaN;
      cells.push(
        mine && mine.n > 0 ? fmt(mine.p50, 2) : '—',
        Number.isFinite(ratio) ? `${fmt(ratio, 2)}×${ratio <= 1 ? '' : ' ✗'}` : '—',
      );
      entry[n] = { ms: mine?.p50 ?? null, ratio: Number.isFinite(ratio) ? ratio : null };
    }
    md.push(row([f.name, best ? `${best.n} ${fmt(best.s.p50, 2)}${f.held?.(best.n) ?? ''}` : '—', ...cells]));
    ratios[f.name] = entry;
  }
  json.ratiosToFastestPeer = ratios;
  if (!stopOnly) await otherSections(list, md, json);

  const out = path.join(root, 'reports', 'bench');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'bench.md'), `${md.join('\n')}\n`);
  writeFileSync(path.join(out, 'bench.json'), `${JSON.stringify(json, null, 2)}\n`);
  console.log(md.join('\n'));
  console.log(`\nwritten: ${path.join(out, 'bench.md')}, bench.json`);
}

/** Reload under load, the harness's overhead, the store, the reference's latency (not with --stop-only). */
async function otherSections(list: Manifest[], md: string[], json: Record<string, unknown>): Promise<void> {
  md.push('', '## Reload under bounded loopback load (20 reloads, 4 clients)', '');
  md.push(row(['server', 'reloads', 'ok', 'failed', 'refused', 'reset']));
  md.push(row(['---', '---', '---', '---', '---', '---']));
  const rl: Record<string, unknown> = {};
  for (const m of list.filter((x) => !FLOORS.includes(x.name))) {
    const r = await reloadUnderLoad(m, 20);
    rl[m.name] = r ?? 'no reload signal';
    md.push(
      r ? row([m.name, r.reloads, r.ok, r.failed, r.refused, r.reset]) : row([m.name, 'cannot reload', '', '', '', '']),
    );
  }
  json.reloadUnderLoad = rl;

  md.push('', '## The harness measuring itself', '');
  const ov = await measureHarnessOverhead(quick ? 100 : 500);
  if (ov) {
    md.push(row(['observer', 'kill → handler', 'kill → ack seen']));
    md.push(row(['---', '---', '---']));
    md.push(row(['C supervisor', cell(ov.c.killToHandler), cell(ov.c.roundTrip)]));
    md.push(row(['sigcert harness', cell(ov.harness.killToHandler), cell(ov.harness.roundTrip)]));
    md.push(
      row([
        'ratio (harness / C)',
        `${fmt(ov.harness.killToHandler.p50 / ov.c.killToHandler.p50, 1)}×`,
        `${fmt(ov.harness.roundTrip.p50 / ov.c.roundTrip.p50, 1)}×`,
      ]),
    );
  } else {
    md.push('cc not found: skipped.');
  }
  json.harnessOverhead = ov;

  md.push(
    '',
    '## The durable store',
    '',
    runScript('store.ts', quick ? ['--records', '100000', '--trials', '2'] : []).trim(),
  );
  if (!only || only.includes('reference')) {
    md.push(
      '',
      '## Reference: SIGTERM acknowledgement latency',
      '',
      runScript('reference-latency.ts', quick ? ['--trials', '20'] : []).trim(),
    );
  }
}

try {
  await main();
} finally {
  await teardownAll();
}
