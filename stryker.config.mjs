// StrykerJS: mutation testing of the reference server, where the test is a certification.
//
// One mutant = one `sigcert run` against the mutated, built reference (scripts/mutation-test.mjs, the
// command runner's command): the mutant is killed when the certification is not fully compliant.
// Mutant switching: the sources are instrumented once in Stryker's sandbox
// (reports/mutation/.stryker-tmp/), `npm run build` compiles them there into the sandbox's dist/ (which
// the manifest runs), and Stryker picks the active mutant for each run through __STRYKER_ACTIVE_MUTANT__,
// which reaches the subject because the harness hands it its own environment (all but SIGCERT_*; README,
// "Mutation testing").
//
// Run it through `npm run mutation` (scripts/mutation.mjs), which sets the report paths, the lock and the
// time limit; see docs/mutation.md. This file is the plain reference (subjects/reference/manifest.json);
// stryker.supervised.config.mjs is the supervised mode.

/** The reference's stop-path modules (issue 15). */
export const REFERENCE_FILES = [
  'reference/src/signals.ts',
  'reference/src/bus.ts',
  'reference/src/http/drain.ts',
  'reference/src/http/connections.ts',
  'reference/src/http/listeners.ts',
  'reference/src/pidfile.ts',
  'reference/src/config.ts',
  'reference/src/durable.ts',
  'reference/src/store/index-file.ts',
  'reference/src/store/group-commit.ts',
  'reference/src/control.ts',
  'reference/src/log.ts',
];

const minutes = (name, fallback) => Number(process.env[name] ?? fallback);

/** @param {string} manifest the subject manifest, relative to the project root */
export function certificationConfig(manifest, mutate) {
  const report = process.env.SIGCERT_MUTATION_REPORT ?? `reports/mutation/${manifest.split('/').at(-2)}`;
  return {
    mutate,
    testRunner: 'command',
    commandRunner: { command: `node scripts/mutation-test.mjs --subject ${manifest}` },
    // the instrumented sources are compiled in the sandbox; the manifest runs the sandbox's dist/
    buildCommand: 'npm run build',
    coverageAnalysis: 'off', // a certification reports no per-test coverage
    // certifications measure latency: one at a time (the machine's cores go to the harness and subject)
    concurrency: 1,
    checkers: [],
    // A hang inside the subject is the harness's to judge (every case has a deadline and fails the
    // requirement a stalled subject violates). Stryker's own timeout is a safety net, wide enough for a
    // certification queued behind the heavy-run lock (SIGCERT_HEAVY_LOCK).
    timeoutMS: minutes('SIGCERT_MUTATION_TIMEOUT_MIN', 15) * 60_000,
    timeoutFactor: 1.5,
    dryRunTimeoutMinutes: minutes('SIGCERT_MUTATION_TIMEOUT_MIN', 15) + 5,
    // The sandbox goes where git and Biome already look away (reports/ is in both ignore lists): at the
    // project root, `biome check .` would meet the sandbox's copy of biome.json and refuse to run.
    tempDirName: 'reports/mutation/.stryker-tmp',
    // nothing a certification needs: run directories, reports, tests, docs (the sandbox stays small)
    ignorePatterns: [
      '/.sigcert',
      '/dist',
      '/reports',
      '/runs',
      '/coverage',
      '/test',
      '/docs',
      '/bench',
      '/.ci',
      '/.github',
      '*.log',
    ],
    reporters: ['html', 'json', 'clear-text', 'progress-append-only'],
    htmlReporter: { fileName: `${report}.html` },
    jsonReporter: { fileName: `${report}.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    thresholds: { high: 90, low: 80, break: null },
    logLevel: 'info',
    fileLogLevel: 'off',
    cleanTempDir: true,
  };
}

export default certificationConfig('subjects/reference/manifest.json', REFERENCE_FILES);
