/**
 * Placeholders of the subject protocol (section 2) in `args` and `env` values:
 * `${port.<name>}`, `${runDir}`, `${stateDir}`, `${config}`, `${manifestDir}`, `${fifo}`, `${token}`,
 * `${logFile}`.
 */

export const PLACEHOLDER_NAMES = ['runDir', 'stateDir', 'config', 'manifestDir', 'fifo', 'token', 'logFile'] as const;
export type PlaceholderName = (typeof PLACEHOLDER_NAMES)[number];

const PATTERN = /\$\{([^}]*)\}/g;

export interface PlaceholderValues {
  ports: Record<string, number>;
  values: Record<PlaceholderName, string | null>;
}

/**
 * Problems of one string: unknown placeholder names, or ports not in `portNames`.
 * Returns one message per problem (empty when the string is fine).
 */
export function placeholderProblems(s: string, portNames: readonly string[]): string[] {
  const problems: string[] = [];
  for (const m of s.matchAll(PATTERN)) {
    const name = m[1] ?? '';
    if (name.startsWith('port.')) {
      if (!portNames.includes(name.slice(5)))
        problems.push(`unknown port in placeholder ${m[0]} (ports: ${portNames.join(', ')})`);
    } else if (!(PLACEHOLDER_NAMES as readonly string[]).includes(name)) {
      problems.push(`unknown placeholder ${m[0]}`);
    }
  }
  return problems;
}

/**
 * Substitute every placeholder. Throws an Error with a one-line message for an unknown name, an unknown
 * port, or a placeholder with no value on this platform (`${fifo}` on win32).
 */
export function substitute(s: string, v: PlaceholderValues): string {
  return s.replace(PATTERN, (whole, name: string) => {
    if (name.startsWith('port.')) {
      const port = v.ports[name.slice(5)];
      if (port === undefined) throw new Error(`unknown port in placeholder ${whole}`);
      return String(port);
    }
    if (!(PLACEHOLDER_NAMES as readonly string[]).includes(name)) throw new Error(`unknown placeholder ${whole}`);
    const value = v.values[name as PlaceholderName];
    if (value === null) throw new Error(`placeholder ${whole} has no value on ${process.platform}`);
    return value;
  });
}
