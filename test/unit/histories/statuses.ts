import type { Verdict } from '../../../harness/src/types.js';

/** One status per requirement a case judged: fail wins over unknown, unknown over pass, pass over info. */
export function verdictStatuses(verdicts: readonly Verdict[]): Record<string, Verdict['status']> {
  const rank: Record<Verdict['status'], number> = { fail: 3, unknown: 2, pass: 1, info: 0 };
  const out: Record<string, Verdict['status']> = {};
  for (const v of verdicts) {
    const have = out[v.requirement];
    if (have === undefined || rank[v.status] > rank[have]) out[v.requirement] = v.status;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}
