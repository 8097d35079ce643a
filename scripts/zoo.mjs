#!/usr/bin/env node
// `npm run zoo`: the zoo of broken servers with every case for every subject (SIGCERT_ZOO=full), the full
// precision check that npm test narrows to the areas of each subject's breaks (test/zoo/zoo.test.ts).
// Writes reports/zoo-matrix.md and .json; exits with vitest's status. Needs python3 and a C compiler
// (apt-get install -y python3 gcc); SIGCERT_REQUIRE_TOOLS=1 turns a skipped subject into a failure.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

// vitest's own bin, run by this node (no shell, no .cmd shim): `vitest/package.json` is exported, the bin is not
const pkg = createRequire(import.meta.url).resolve('vitest/package.json');
const vitest = path.join(path.dirname(pkg), 'vitest.mjs');
const r = spawnSync(process.execPath, [vitest, 'run', 'test/zoo/zoo.test.ts', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, SIGCERT_ZOO: 'full' },
});
process.exit(r.status ?? 1);
