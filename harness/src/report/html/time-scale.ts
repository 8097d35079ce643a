/**
 * How a timeline maps time to x: linear, except that long stretches without events are cut out and
 * drawn as narrow breaks (gap compression).
 */

/** A stretch of time without events, drawn narrow (not to scale). */
export interface Gap {
  t0: number;
  t1: number;
}

/** Drawn width of a compressed gap, px. */
export const GAP_PX = 30;
/** At most this many gaps are compressed per timeline. */
const MAX_GAPS = 3;
/** A gap is compressed when it is longer than this share of the time still drawn to scale. */
const GAP_SHARE = 0.45;
/** Neighbouring events closer than this (px) are "crowded". */
const CROWDED_PX = 6;

/**
 * Long stretches without events (a 30 s wait for a timeout, the middle of a trimmed excerpt) would
 * squeeze every interesting moment into a few pixels; they are cut out and drawn as narrow breaks.
 */
export function timelineGaps(times: readonly number[], tMin: number, tEnd: number, widthPx = 1000): Gap[] {
  const ts = [...new Set([tMin, ...times, tEnd])].sort((a, b) => a - b);
  const candidates: Gap[] = [];
  for (let i = 1; i < ts.length; i++) candidates.push({ t0: ts[i - 1]!, t1: ts[i]! });
  candidates.sort((a, b) => b.t1 - b.t0 - (a.t1 - a.t0));
  const gaps: Gap[] = [];
  let scaled = tEnd - tMin;
  for (const g of candidates) {
    if (gaps.length >= MAX_GAPS) break;
    const len = g.t1 - g.t0;
    if (len <= GAP_SHARE * scaled) break;
    // only worth it when events are crowded at the current scale (neighbours under CROWDED_PX apart)
    const pxPerMs = (widthPx - gaps.length * GAP_PX) / scaled;
    const crowded = candidates.filter((c) => c.t1 - c.t0 > 0 && (c.t1 - c.t0) * pxPerMs < CROWDED_PX).length;
    if (crowded < 3) break;
    // keep a little air on both sides so marks at the edges stay apart from the break
    const pad = Math.min(len * 0.05, (scaled - len) * 0.02);
    gaps.push({ t0: g.t0 + pad, t1: g.t1 - pad });
    scaled -= len - 2 * pad;
  }
  return gaps.sort((a, b) => a.t0 - b.t0);
}

/** Time -> x, linear except across the gaps, which each take GAP_PX. */
export function timeScale(tMin: number, tEnd: number, gaps: Gap[], x0: number, width: number): (t: number) => number {
  const hidden = gaps.reduce((s, g) => s + (g.t1 - g.t0), 0);
  const scaled = Math.max(tEnd - tMin - hidden, 1e-9);
  const pxPerMs = (width - gaps.length * GAP_PX) / scaled;
  return (t: number) => {
    let X = x0;
    let from = tMin;
    for (const g of gaps) {
      if (t <= g.t0) break;
      X += (g.t0 - from) * pxPerMs;
      if (t < g.t1) return X + ((t - g.t0) / (g.t1 - g.t0)) * GAP_PX;
      X += GAP_PX;
      from = g.t1;
    }
    return X + (t - from) * pxPerMs;
  };
}

export function fmtGap(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}
