/**
 * Case discovery: every `*.case.ts` (or `.case.js` once built) file in this folder is one case, its
 * default export a CaseDef; a generator file (`*.cases.ts`) default-exports an array of CaseDefs derived
 * from data (the declared map, the lifecycle table). Adding a case touches one file.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CaseDef } from '../case.js';
import type { Manifest } from '../types.js';

/** A generator file's default export: a list of cases, or the cases a manifest's declared map calls for. */
type CaseModule = CaseDef | CaseDef[] | ((m: Manifest) => CaseDef[]);

/**
 * The catalog. With a manifest, the generators that derive cases from a declared map (one case per
 * declared signal and stop path) add that subject's cases; without one, only the fixed cases.
 */
export async function loadCases(manifest?: Manifest): Promise<CaseDef[]> {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const ts = import.meta.url.endsWith('.ts');
  const exts = ts ? ['.case.ts', '.cases.ts'] : ['.case.js', '.cases.js'];
  const files = readdirSync(dir)
    .filter((f) => exts.some((e) => f.endsWith(e)))
    .sort();
  const cases: CaseDef[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { default?: CaseModule };
    const d = mod.default;
    const list = typeof d === 'function' ? (manifest ? d(manifest) : []) : Array.isArray(d) ? d : [d];
    for (const c of list) {
      if (!c || typeof c.run !== 'function' || typeof c.grade !== 'function') {
        throw new Error(`${f}: the default export is not a case (defineCase({...})) or a list of cases`);
      }
      if (seen.has(c.id)) throw new Error(`${f}: duplicate case id ${c.id}`);
      seen.add(c.id);
      cases.push(c);
    }
  }
  return cases.sort((a, b) => a.id.localeCompare(b.id));
}
