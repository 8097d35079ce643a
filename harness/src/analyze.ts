/**
 * `sigcert analyze`: re-grade a stored run directory. Every case attempt left a `history.json` holding
 * the runner's decisions as events (historyVersion 2), so the results come from exactly the functions
 * the run used (grade/result.ts): same outcomes, same retries and flaky rule, same timeline excerpt.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CaseDef } from './case.js';
import { attemptOf, caseResult, combineAttempts, compareResults } from './grade/result.js';
import { History } from './history.js';
import { makeReport } from './report/assemble.js';
import type { CaseResult, Report } from './report/model.js';
import { type HistoryJSON, type Manifest, storedManifest } from './types.js';

export class RunDirError extends Error {}

export interface AnalyzedRun {
  manifest: Manifest;
  results: CaseResult[];
  /** a case was interrupted or never started because of an interruption */
  partial: boolean;
  /** histories whose case is not in this harness's catalog (ids), left out */
  unknownCases: string[];
}

/** The cases a stored run may hold, for its manifest (loadCases, or a fixed list in tests). */
export type CatalogFor = (m: Manifest) => Promise<readonly CaseDef[]> | readonly CaseDef[];

export async function analyzeRunDir(dir: string, catalog: CatalogFor): Promise<AnalyzedRun> {
  const root = path.resolve(dir);
  const mfile = path.join(root, 'manifest.json');
  if (!existsSync(mfile)) throw new RunDirError(`${dir}: not a run directory (no manifest.json)`);
  const manifest = storedManifest(JSON.parse(readFileSync(mfile, 'utf8')) as Manifest);
  const cases = await catalog(manifest);
  const byId = new Map(cases.map((c) => [c.id, c] as const));
  const groups = new Map<string, { c: CaseDef; attempts: { n: number; r: CaseResult }[] }>();
  const unknownCases = new Set<string>();
  let partial = false;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const hfile = path.join(root, entry.name, 'history.json');
    if (!existsSync(hfile)) continue;
    const json = JSON.parse(readFileSync(hfile, 'utf8')) as HistoryJSON;
    if ((json.historyVersion ?? 1) < 2) {
      throw new RunDirError(`${hfile}: history version ${json.historyVersion ?? 1} predates analyze (re-run the case)`);
    }
    const events = History.fromJSON(json).sorted();
    const a = attemptOf(events);
    if (!a) throw new RunDirError(`${hfile}: no attempt event`);
    const c = byId.get(a.case);
    if (!c) {
      unknownCases.add(a.case);
      continue;
    }
    if (
      events.some(
        (e) =>
          e.source === 'harness' &&
          (e.kind === 'interrupted' || (e.kind === 'skipped' && String(e.data.reason).startsWith('interrupted'))),
      )
    )
      partial = true;
    const key = `${a.case}#${a.repeat ?? ''}`;
    const g = groups.get(key) ?? { c, attempts: [] };
    g.attempts.push({ n: a.attempt, r: caseResult(c, events, manifest, path.join(root, entry.name)) });
    groups.set(key, g);
  }
  const results = [...groups.values()].map((g) =>
    combineAttempts(g.attempts.sort((x, y) => x.n - y.n).map((x) => x.r)),
  );
  const exclusive = new Set(cases.filter((c) => c.exclusive).map((c) => c.id));
  results.sort(compareResults((id) => exclusive.has(id)));
  return { manifest, results, partial, unknownCases: [...unknownCases] };
}

/**
 * The report of a stored run: cases re-graded from their histories; the run's own metadata (when it
 * started, how long it took, its options, the machine) taken from the stored report when there is one,
 * so an unchanged run directory gives back the same report.
 */
export async function reportOfRunDir(dir: string, catalog: CatalogFor): Promise<Report> {
  const run = await analyzeRunDir(dir, catalog);
  const stored = path.join(path.resolve(dir), 'report.json');
  const old = existsSync(stored) ? (JSON.parse(readFileSync(stored, 'utf8')) as Report) : null;
  const report = makeReport(
    run.manifest,
    run.results,
    old?.options ?? { analyzed: dir },
    old ? new Date(old.startedAt) : new Date(),
    run.partial || old?.partial === true,
    // a run whose subject never started stays not certified
    old?.verdict?.notStarted,
  );
  if (old) {
    report.durationMs = old.durationMs;
    report.environment = old.environment;
  }
  return report;
}
