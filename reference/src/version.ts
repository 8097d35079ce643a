/**
 * The version `/version` reports: `SIGCERT_CODE_VERSION` when set (the harness uses it to tell
 * code generations apart), else the `version` of the sigcert package.json found above this file
 * (the same code runs from `reference/src/` and from `dist/reference/src/`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function codeVersion(override: string | undefined, from: string = import.meta.url): string {
  if (override !== undefined) return override;
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'sigcert' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0-unknown';
    dir = parent;
  }
}
