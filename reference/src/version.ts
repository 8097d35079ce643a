/**
 * The version `/version` reports, decided once when the process's code starts:
 *
 * 1. the configuration file's `codeVersion` string, read from disk at that moment (subject protocol
 *    section 6: this is how the harness makes "new code" observable: it writes a new `codeVersion`,
 *    then asks for a restart; each worker process of a new generation reads it as it starts, while
 *    a reload never changes the version of code that is already running);
 * 2. else `SIGCERT_CODE_VERSION`;
 * 3. else the `version` of the sigcert package.json found above this file (the same code runs from
 *    `reference/src/` and from `dist/reference/src/`).
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

/** The non-empty `codeVersion` string of the configuration file, if it can be read now. */
export function codeVersionFromConfig(configPath: string | undefined): string | undefined {
  if (configPath === undefined) return undefined;
  try {
    const data = JSON.parse(readFileSync(configPath, 'utf8')) as { codeVersion?: unknown };
    return typeof data.codeVersion === 'string' && data.codeVersion !== '' ? data.codeVersion : undefined;
  } catch {
    return undefined; // unreadable or invalid: the startup's own configuration check reports it
  }
}

/** The version of the code starting now (see the order above). */
export function startingCodeVersion(settings: { configPath: string | undefined; codeVersion: string | undefined }) {
  return codeVersion(codeVersionFromConfig(settings.configPath) ?? settings.codeVersion);
}

/**
 * Whether the configuration file says `codeFails: true` now (subject protocol section 6, capability
 * `failingCode`): the harness's way to hand a restart new code that cannot start, as code with a
 * startup bug would. Read by new code as it starts, like `codeVersion`.
 */
export function codeFailsFromConfig(configPath: string | undefined): boolean {
  if (configPath === undefined) return false;
  try {
    return (JSON.parse(readFileSync(configPath, 'utf8')) as { codeFails?: unknown }).codeFails === true;
  } catch {
    return false;
  }
}
