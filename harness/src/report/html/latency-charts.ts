/**
 * Latency charts of the HTML report, as inline SVG on log scales: every scenario's percentiles
 * against its budgets, and a histogram of the latency samples a case kept in its timeline.
 */
import type { Level } from '../../types.js';
import type { CaseResult, LatencyTable, Report } from '../model.js';
import { escapeHtml as esc, fmtMs, fmtNum, fmtTick, r2, textWidth, titleEl } from './markup.js';

export function latencySamples(c: CaseResult): number[] {
  return c.timeline
    .filter((e) => e.source === 'case' && e.kind === 'sample')
    .map((e) => Number(e.data.ms))
    .filter((n) => Number.isFinite(n));
}

export interface Budget {
  requirement: string;
  level: Level | undefined;
  ms: number;
  met: boolean;
}

/** A log10 axis over whole decades covering every positive value (0.1 .. 100 when there is none). */
interface LogAxis {
  lo: number;
  hi: number;
  x: (v: number) => number;
}

function logAxis(values: number[], x0: number, width: number): LogAxis {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = pos.length ? 10 ** Math.floor(Math.log10(Math.min(...pos))) : 0.1;
  let hi = pos.length ? 10 ** Math.ceil(Math.log10(Math.max(...pos))) : 100;
  if (hi <= lo) hi = lo * 10;
  const x = (v: number) => x0 + (Math.log10(Math.min(Math.max(v, lo), hi) / lo) / Math.log10(hi / lo)) * width;
  return { lo, hi, x };
}

/** Decade grid lines (with 2 and 5 minor lines) and their labels at `labelY`. */
function logGrid(ax: LogAxis, y0: number, y1: number, labelY: number): string[] {
  const parts: string[] = [];
  for (let d = ax.lo; d <= ax.hi * 1.0001; d *= 10) {
    const X = ax.x(d);
    parts.push(`<line class="grid" x1="${r2(X)}" y1="${y0}" x2="${r2(X)}" y2="${y1}"/>`);
    parts.push(`<text class="tick" x="${r2(X)}" y="${labelY}" text-anchor="middle">${esc(fmtTick(d))}</text>`);
    for (const m of [2, 5]) {
      if (d * m < ax.hi)
        parts.push(`<line class="grid minor" x1="${r2(ax.x(d * m))}" y1="${y0}" x2="${r2(ax.x(d * m))}" y2="${y1}"/>`);
    }
  }
  return parts;
}

export interface Scenario {
  scenario: string;
  row: LatencyTable;
  budgets: Budget[];
}

/**
 * Every latency scenario in one chart (log scale): p50, p90, p99 and max as bars, each budget as a
 * line across its scenario's bars. Only p99 is graded: red when over a budget.
 */
export function percentileChart(scenarios: Scenario[]): string {
  if (scenarios.length === 0) return '';
  const W = 1200;
  const left = 210;
  const right = 230;
  const top = 24;
  const barH = 11;
  const groupH = 4 * barH + 16;
  const plotW = W - left - right;
  const plotBottom = top + scenarios.length * groupH;
  const H = plotBottom + 8;
  const ax = logAxis(
    scenarios.flatMap((s) => [s.row.p50, s.row.p90, s.row.p99, s.row.max, ...s.budgets.map((b) => b.ms)]),
    left,
    plotW,
  );
  const parts = logGrid(ax, top - 4, plotBottom, top - 10);
  parts.push(`<text class="axis-label" x="${left - 28}" y="${top - 10}" text-anchor="end">ms (log scale)</text>`);
  scenarios.forEach((s, g) => {
    const y0 = top + g * groupH + 6;
    if (g % 2 === 1) parts.push(`<rect class="band" x="0" y="${y0 - 6}" width="${W}" height="${groupH}"/>`);
    parts.push(
      `<text class="group-label" x="${left - 44}" y="${r2(y0 + 2 * barH + 3)}" text-anchor="end">${esc(s.scenario)}</text>`,
    );
    const stats: [string, number][] = [
      ['p50', s.row.p50],
      ['p90', s.row.p90],
      ['p99', s.row.p99],
      ['max', s.row.max],
    ];
    stats.forEach(([name, v], i) => {
      const y = y0 + i * barH;
      const X = ax.x(v);
      const over = s.budgets.some((b) => v > b.ms);
      const cls = name === 'p99' ? `bar graded${over ? ' over' : ''}` : `bar${over ? ' over-soft' : ''}`;
      parts.push(
        `<g><text class="row-label" x="${left - 6}" y="${r2(y + barH - 2)}" text-anchor="end">${name}</text>` +
          `<rect class="${cls}" x="${left}" y="${r2(y + 1)}" width="${r2(Math.max(1, X - left))}" height="${barH - 2}">${titleEl(`${s.scenario} ${name}: ${fmtMs(v)} ms (n=${s.row.n})`)}</rect>` +
          `<text class="value" x="${r2(X + 4)}" y="${r2(y + barH - 2)}">${esc(fmtMs(v))}</text></g>`,
      );
    });
    [...s.budgets]
      .sort((p, q) => q.ms - p.ms)
      .forEach((b, i) => {
        const X = ax.x(b.ms);
        const y = y0 + i * 14;
        parts.push(
          `<g class="budget ${b.met ? 'met' : 'missed'}"><line x1="${r2(X)}" y1="${y0 - 3}" x2="${r2(X)}" y2="${y0 + 4 * barH + 2}"/>` +
            `<text x="${W - right + 10}" y="${r2(y + 9)}">${esc(`${b.met ? '✔' : '✘'} ${b.requirement} p99 ≤ ${fmtNum(b.ms)}`)}</text>` +
            `<line class="leader" x1="${r2(X)}" y1="${r2(y + 6)}" x2="${W - right + 6}" y2="${r2(y + 6)}"/>` +
            `${titleEl(`budget of ${b.requirement}${b.level ? ` (${b.level})` : ''}: p99 ≤ ${fmtNum(b.ms)} ms — ${b.met ? 'met' : 'missed'} (p99 ${fmtMs(s.row.p99)} ms)`)}</g>`,
        );
      });
  });
  return `<svg class="chart percentiles" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency percentiles against budgets">${parts.join('')}</svg>`;
}

/** How many samples a histogram shows, and of how many. */
export function samplesCaption(shown: number, total: number | undefined): string {
  return total !== undefined && total > shown
    ? `${shown} of ${total} samples (the others are outside the timeline excerpt)`
    : `${shown} samples`;
}

/** Samples binned on a log scale (5 bins a decade) that also spans the budgets, drawn as lines. */
export function sampleHistogram(samples: number[], budgets: Budget[]): string {
  if (samples.length === 0) return '';
  const W = 380;
  const left = 30;
  const right = 12;
  const top = 28;
  const plotH = 90;
  const plotW = W - left - right;
  const H = top + plotH + 22;
  const ax = logAxis([...samples, ...budgets.map((b) => b.ms)], left, plotW);
  const perDecade = 5;
  const nBins = Math.round(Math.log10(ax.hi / ax.lo) * perDecade);
  const counts = new Array<number>(nBins).fill(0);
  for (const v of samples) {
    const i = v <= ax.lo ? 0 : Math.floor(Math.log10(v / ax.lo) * perDecade);
    const k = Math.min(nBins - 1, Math.max(0, i));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  const maxCount = Math.max(...counts, 1);
  const edge = (i: number) => ax.lo * 10 ** (i / perDecade);
  const y = (n: number) => top + plotH - (n / maxCount) * plotH;
  const parts = logGrid(ax, top, top + plotH, top + plotH + 14);
  parts.push(`<line class="axis" x1="${left}" y1="${top + plotH}" x2="${W - right}" y2="${top + plotH}"/>`);
  parts.push(`<text class="tick" x="${left - 4}" y="${top + 8}" text-anchor="end">${maxCount}</text>`);
  parts.push(`<text class="tick" x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>`);
  counts.forEach((n, i) => {
    if (n === 0) return;
    const x0 = ax.x(edge(i));
    const w = Math.max(1, ax.x(edge(i + 1)) - x0 - 1);
    parts.push(
      `<rect class="bin" x="${r2(x0)}" y="${r2(y(n))}" width="${r2(w)}" height="${r2(top + plotH - y(n))}">${titleEl(`${fmtMs(edge(i))}–${fmtMs(edge(i + 1))} ms: ${n} sample${n === 1 ? '' : 's'}`)}</rect>`,
    );
  });
  [...budgets]
    .sort((p, q) => q.ms - p.ms)
    .forEach((b, i) => {
      const X = ax.x(b.ms);
      const label = `≤ ${fmtNum(b.ms)} ms`;
      const anchorEnd = X + 3 + textWidth(label) > W;
      const ly = top - 6 - (i % 2) * 11;
      parts.push(
        `<g class="budget ${b.met ? 'met' : 'missed'}"><line x1="${r2(X)}" y1="${ly + 2}" x2="${r2(X)}" y2="${top + plotH}"/><text x="${r2(anchorEnd ? X - 3 : X + 3)}" y="${ly}" text-anchor="${anchorEnd ? 'end' : 'start'}">${esc(label)}</text>${titleEl(`budget of ${b.requirement}${b.level ? ` (${b.level})` : ''}: p99 ≤ ${fmtNum(b.ms)} ms`)}</g>`,
      );
    });
  return `<svg class="chart samples" viewBox="0 0 ${W} ${H}" width="${W}" role="img" aria-label="histogram of latency samples, ms, log scale">${parts.join('')}</svg>`;
}

export function budgetsFor(report: Report, rows: LatencyTable[]): Budget[] {
  const level = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  return rows
    .filter((r) => Number.isFinite(r.budgetMs))
    .map((r) => ({
      requirement: r.requirement,
      level: level.get(r.requirement),
      ms: r.budgetMs,
      met: r.p99 <= r.budgetMs,
    }));
}

/** Budgets from the verdict metrics of one case (for cases without latency rows). */
export function caseBudgets(report: Report, c: CaseResult): Budget[] {
  const level = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const out: Budget[] = [];
  for (const v of c.verdicts) {
    const b = v.metrics?.budgetMs;
    if (b === undefined || !Number.isFinite(b)) continue;
    const p99 = v.metrics?.p99;
    out.push({
      requirement: v.requirement,
      level: level.get(v.requirement),
      ms: b,
      met: p99 !== undefined ? p99 <= b : v.status === 'pass',
    });
  }
  return out;
}
