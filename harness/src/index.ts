/**
 * sigcert as a library: the same engine the CLI uses, for your own tests.
 *
 * ```ts
 * import { History, launch, loadManifest, gracefulExitVerdicts } from 'sigcert';
 *
 * const manifest = loadManifest('subjects/reference/manifest.json');
 * const history = new History();
 * const s = await launch({ manifest, history, runDir: '/tmp/my-run' });
 * try {
 *   s.signal('SIGTERM');
 *   await s.waitProbe((e) => e.ev === 'persisted', 2000, 'persist');
 *   await s.waitExit(5000);
 *   const verdicts = gracefulExitVerdicts(history.sorted(), manifest);
 *   // every verdict: { requirement, status, expected, actual }
 * } finally {
 *   await s.teardown();
 * }
 * ```
 */

export { analyzeRunDir, RunDirError, reportOfRunDir } from './analyze.js';
export * from './case.js';
export { loadCases } from './cases/index.js';
export * from './clients/durable.js';
export * from './clients/fifo.js';
export * from './clients/http.js';
export * from './clients/probe-connect.js';
export { type FuzzOptions, type FuzzResult, replayCase, runFuzz } from './fuzz/index.js';
export * from './grade/index.js';
export * from './history.js';
export * from './launch/index.js';
export * from './report/index.js';
export { type RunnerOptions, type RunResult, runCases, runOnce, selectCases } from './runner.js';
export { loadRegistry, type Registry, type Requirement, requirementLevels } from './spec.js';
export * from './types.js';
