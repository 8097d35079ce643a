/** Median, p99 and the trial count: how every benchmark figure is reported. */
export interface Stat {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function rank(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  if (!s.length) return { n: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  return { n: s.length, p50: rank(s, 50), p90: rank(s, 90), p99: rank(s, 99), max: s[s.length - 1]! };
}

export function fmt(ms: number, digits = 3): string {
  return Number.isFinite(ms) ? ms.toFixed(digits) : '—';
}
