import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/**
 * The repository root: the nearest folder above this module that holds `package.json`.
 * Works both from `harness/src/launch/*.ts` (vitest, tsx) and from `dist/harness/src/launch/*.js` (built).
 */
export function repoRoot(): string {
  if (cached !== null) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of the manifest JSON schema. */
export function manifestSchemaPath(): string {
  return join(repoRoot(), 'spec', 'schema', 'manifest.schema.json');
}
