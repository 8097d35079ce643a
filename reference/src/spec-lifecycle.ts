/**
 * The parts of the specification's lifecycle table (spec/lifecycle.json) the reference runs on: the
 * default signal map and repeat map, the Windows console map, and the legal state transitions. The
 * reference reads them from the spec instead of restating them, so it cannot drift from it.
 *
 * Loaded by the signal plugin before anything heavy (`main.ts`): this module imports only node:fs,
 * node:path and node:url, and reads one small file synchronously. The same code runs from
 * `reference/src/` and from `dist/reference/src/`: the file is looked up in the `spec/` folder beside
 * the sigcert package.json above this module.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A signal map as the spec writes it: signal -> action, `ignore` included. */
export type SpecSignalMap = Readonly<Record<string, string>>;

export interface SpecLifecycle {
  states: ReadonlyArray<{ name: string }>;
  table: Readonly<Record<string, Readonly<Record<string, { effects: ReadonlyArray<{ kind: string; to?: string }> }>>>>;
  internal: Readonly<Record<string, { transitions: ReadonlyArray<{ to: string | null }> }>>;
  signalMap: { default: SpecSignalMap; repeat: SpecSignalMap; windows: SpecSignalMap; windowsRepeat: SpecSignalMap };
}

let cached: SpecLifecycle | undefined;

/** spec/lifecycle.json of the sigcert checkout this module belongs to. */
export function specLifecycle(from: string = import.meta.url): SpecLifecycle {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    let name: unknown;
    try {
      name = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
    } catch {
      // no package.json here
    }
    if (name === 'sigcert') {
      cached = JSON.parse(readFileSync(join(dir, 'spec', 'lifecycle.json'), 'utf8')) as SpecLifecycle;
      return cached;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`spec/lifecycle.json: no sigcert package.json above ${fileURLToPath(from)}`);
    dir = parent;
  }
}

/** Every legal transition, per state: the request cells' and the subject's own (spec section 3.3). */
export function legalTransitions(): Readonly<Record<string, readonly string[]>> {
  const t = specLifecycle();
  const out: Record<string, string[]> = {};
  for (const { name } of t.states) {
    const to = new Set<string>();
    for (const cell of Object.values(t.table[name] ?? {})) {
      for (const e of cell.effects) if (e.kind === 'transition' && e.to !== undefined) to.add(e.to);
    }
    for (const i of t.internal[name]?.transitions ?? []) if (i.to !== null) to.add(i.to);
    out[name] = [...to];
  }
  return out;
}
