import { defineConfig } from 'vitest/config';

// Signals need real processes: keep the default `forks` pool everywhere.
// The unit and process projects run two files at once (`maxWorkers: 2`): vitest's default on a
// two-core machine is one (cores - 1), which left the cores half idle while the process tests wait on
// their subjects (223 s of test files in ~110 s instead of ~260 s). Nothing there asserts a tight time.
// `reporters: ['default']` is pinned so the closing summary always prints (vitest would
// otherwise pick a summary-less reporter when it detects an agent environment).
export default defineConfig({
  test: {
    reporters: ['default'],
    pool: 'forks',
    teardownTimeout: 30_000,
    // one private TMPDIR for the run, removed at its end: no scratch folder outlives the suite
    globalSetup: ['test/setup/private-tmpdir.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'process',
          include: ['test/reference/**/*.test.ts', 'test/harness/**/*.test.ts'],
          // a whole verdict of a black-box server, judged by the spec's 100 ms listener bound: with the
          // conformance files, on a CPU no other test file shares (it failed there once, a drain start
          // delayed past 100 ms while two process files ran)
          exclude: ['test/harness/black-box.test.ts'],
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'conformance',
          include: [
            'test/conformance/**/*.test.ts',
            'test/zoo/**/*.test.ts',
            'test/property/**/*.test.ts',
            'test/peers/**/*.test.ts',
            'test/harness/black-box.test.ts',
          ],
          pool: 'forks',
          testTimeout: 600_000,
          hookTimeout: 120_000,
          // Certifications measure latency: they run after the other projects, one file at a time,
          // so no other test shares the CPU with them.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
