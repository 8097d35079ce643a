/**
 * A self-contained HTML rendering of a report: one file, no network (inline CSS and SVG, a
 * Content-Security-Policy that forbids every external resource, a few lines of optional JS for
 * expand/collapse). Like the console and JUnit renderers it renders only: outcomes, requirement
 * statuses and the verdict come from the report.
 *
 * The page (stable hooks for tests and scripts in brackets):
 *   - the verdict banner with MUST/SHOULD counts and outcome counts            [#verdict]
 *   - environment, subject and run options                                    [#environment]
 *   - the requirement table, one row per requirement, status coloured         [#requirements, tr.req]
 *   - latency: percentiles against each budget (log scale) and, when the case
 *     timeline holds `sample` notes, a histogram of the samples                [#latency, .histogram svg]
 *   - an index of the cases, then each case: outcome, reason, requirements,
 *     evidence (expected vs actual per verdict, metrics), and its timeline as
 *     an SVG with one lane per source (harness, process, probe, client, case)  [#cases, .case, .timeline svg]
 *
 * Every string from the report is escaped (case data carries arbitrary text from subjects).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HistoryEvent, Level, Outcome, Verdict } from '../types.js';
import { complianceCounts, countsLine, outcomeLabel, outcomeSymbol, shortReason, verdictLine } from './console.js';
import { stripInvalidXmlChars } from './junit.js';
import {
  type CaseResult,
  type LatencyTable,
  MAX_TIMELINE_EVENTS,
  OUTCOMES,
  type Report,
  type RequirementRollup,
  type RequirementStatus,
} from './model.js';

// ---------------------------------------------------------------------------------------------
// Escaping and small helpers

/** Escape text for HTML element content and (double- or single-quoted) attribute values. */
export function escapeHtml(value: unknown): string {
  return stripInvalidXmlChars(String(value))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
const esc = escapeHtml;

/** A value for an `id` attribute / URL fragment made of safe characters only. */
function anchorId(prefix: string, s: string): string {
  return `${prefix}-${s.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const a = Math.abs(ms);
  if (a >= 100) return ms.toFixed(0);
  if (a >= 10) return ms.toFixed(1);
  if (a >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${fmtMs(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** An axis tick: as short as the value allows (0.2, 2.5, 300). */
function fmtTick(n: number): string {
  return String(Number(n.toPrecision(6)));
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : fmtMs(n);
}

/** Coordinates in SVG: at most 2 decimals. */
function r2(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function clip(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function json(v: unknown, space?: number): string {
  try {
    return JSON.stringify(v, null, space) ?? String(v);
  } catch {
    return '[unserialisable]';
  }
}

/** Rough width of `s` in px at 10px sans-serif (for label placement; no layout engine here). */
function textWidth(s: string, fontPx = 10): number {
  return s.length * fontPx * 0.58;
}

/** A "nice" step (1, 2, 5 x 10^k) near `raw`. */
function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function titleEl(s: string): string {
  return `<title>${esc(s)}</title>`;
}

// ---------------------------------------------------------------------------------------------
// Tones

type Tone = 'good' | 'bad' | 'warn' | 'info' | 'muted' | 'error';

const OUTCOME_TONE: Record<Outcome, Tone> = {
  pass: 'good',
  fail: 'bad',
  'non-strict': 'warn',
  informational: 'info',
  flaky: 'warn',
  timeout: 'bad',
  crash: 'bad',
  'harness-error': 'error',
  unsupported: 'muted',
  'not-applicable': 'muted',
  skipped: 'muted',
};

const STATUS_TONE: Record<RequirementStatus, Tone> = {
  pass: 'good',
  fail: 'bad',
  'non-strict': 'warn',
  'not-tested': 'warn',
  'not-applicable': 'muted',
  informational: 'info',
};

const VERDICT_STATUS_TONE: Record<Verdict['status'], Tone> = {
  pass: 'good',
  fail: 'bad',
  unknown: 'error',
  info: 'info',
};

function pill(text: string, tone: Tone, extraClass = ''): string {
  return `<span class="pill tone-${tone}${extraClass ? ` ${extraClass}` : ''}">${esc(text)}</span>`;
}

function outcomePill(o: Outcome): string {
  return pill(`${outcomeSymbol(o)} ${outcomeLabel(o)}`, OUTCOME_TONE[o], `outcome outcome-${o}`);
}

// ---------------------------------------------------------------------------------------------
// Anchors of cases and requirements

interface Anchors {
  /** first anchor of each case id (cases repeat with --repeat) */
  caseById: Map<string, string>;
  /** anchor of each case result, by position in report.cases */
  caseAt: string[];
  reqIds: Set<string>;
}

function anchors(report: Report): Anchors {
  const used = new Set<string>();
  const caseById = new Map<string, string>();
  const caseAt = report.cases.map((c) => {
    const base = anchorId('case', c.repeat !== undefined ? `${c.id}.r${c.repeat}` : c.id);
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    if (!caseById.has(c.id)) caseById.set(c.id, id);
    return id;
  });
  return { caseById, caseAt, reqIds: new Set(report.requirements.map((r) => r.id)) };
}

function caseLink(a: Anchors, id: string): string {
  const target = a.caseById.get(id);
  return target ? `<a href="#${esc(target)}">${esc(id)}</a>` : esc(id);
}

function reqLink(a: Anchors, id: string): string {
  return a.reqIds.has(id) ? `<a href="#${esc(anchorId('req', id))}">${esc(id)}</a>` : esc(id);
}

function caseName(c: CaseResult): string {
  return c.repeat !== undefined ? `${c.id} #${c.repeat}` : c.id;
}

// ---------------------------------------------------------------------------------------------
// Verdict, environment

function outcomeBar(report: Report): string {
  const total = report.summary.total;
  if (total === 0) return '';
  const W = 1000;
  const H = 14;
  let x = 0;
  const segs: string[] = [];
  for (const o of OUTCOMES) {
    const n = report.summary.counts[o] ?? 0;
    if (n === 0) continue;
    const w = (n / total) * W;
    segs.push(
      `<rect class="seg tone-${OUTCOME_TONE[o]}" x="${r2(x)}" y="0" width="${r2(w)}" height="${H}">${titleEl(`${n} ${o}`)}</rect>`,
    );
    x += w;
  }
  return `<svg class="outcome-bar" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(countsLine(report))}">${segs.join('')}</svg>`;
}

function idLinks(a: Anchors, ids: readonly string[]): string {
  return ids.map((id) => reqLink(a, id)).join(', ');
}

function renderVerdict(report: Report, a: Anchors): string {
  const v = report.verdict;
  const tone: Tone = v.fullyCompliant ? 'good' : v.compliant ? 'warn' : 'bad';
  const { must, should } = complianceCounts(report);
  const counts = OUTCOMES.filter((o) => (report.summary.counts[o] ?? 0) > 0)
    .map((o) => `${pill(`${report.summary.counts[o]} ${o}`, OUTCOME_TONE[o])}`)
    .join(' ');
  const lists: string[] = [];
  if (v.mustFailures.length) lists.push(`<li><b>MUST failed:</b> ${idLinks(a, v.mustFailures)}</li>`);
  if (v.untestedMust.length) lists.push(`<li><b>MUST not demonstrated:</b> ${idLinks(a, v.untestedMust)}</li>`);
  if (v.shouldFailures.length) lists.push(`<li><b>SHOULD not met:</b> ${idLinks(a, v.shouldFailures)}</li>`);
  if (v.harnessErrors > 0) lists.push(`<li><b>Harness errors:</b> ${v.harnessErrors}</li>`);
  const partial = report.partial
    ? `<p class="partial">Partial run: interrupted before every case ran. The verdict covers only what ran.</p>`
    : '';
  return `<section id="verdict" class="verdict tone-${tone}" data-verdict="${esc(v.label)}">
<div class="verdict-main">
<div class="verdict-label">${esc(v.label)}</div>
<div class="verdict-line">${esc(verdictLine(report))}</div>
</div>
<div class="verdict-stats">
<div class="stat"><span class="stat-n">${must.passed}/${must.applicable}</span><span class="stat-l">MUST passed</span></div>
<div class="stat"><span class="stat-n">${should.passed}/${should.applicable}</span><span class="stat-l">SHOULD passed</span></div>
<div class="stat"><span class="stat-n">${report.summary.total}</span><span class="stat-l">cases</span></div>
<div class="stat"><span class="stat-n">${esc(fmtDuration(report.durationMs))}</span><span class="stat-l">run time</span></div>
</div>
${outcomeBar(report)}
<div class="counts">${counts}</div>
${lists.length ? `<ul class="verdict-lists">${lists.join('')}</ul>` : ''}
${partial}
</section>`;
}

function renderEnvironment(report: Report): string {
  const e = report.environment;
  const rows: [string, string][] = [
    ['Subject', `<b>${esc(report.subject.name)}</b> <span class="dim">${esc(report.subject.manifestFile)}</span>`],
    ['Started', esc(report.startedAt)],
    ['OS', `${esc(e.os)} <span class="dim">(${esc(e.platform)} ${esc(e.release)}, ${esc(e.arch)})</span>`],
    ['Node', esc(e.node)],
    ['CPUs', `${e.cpus} × ${esc(e.cpuModel)}${e.ci ? ' <span class="dim">(CI)</span>' : ''}`],
    ['Harness', `${esc(report.tool.name)} ${esc(report.tool.version)}`],
    [
      'Spec',
      `Clean Signal Handling ${esc(report.specVersion)} <span class="dim">(report format ${esc(report.reportVersion)})</span>`,
    ],
  ];
  if (e.hostname) rows.push(['Host', esc(e.hostname)]);
  const opts = Object.entries(report.options ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (opts.length) {
    rows.push(['Options', opts.map(([k, v]) => `<code>${esc(k)}=${esc(clip(json(v), 120))}</code>`).join(' ')]);
  }
  const manifest =
    report.subject.manifest !== undefined
      ? `<details class="manifest"><summary>Subject manifest</summary><pre>${esc(json(report.subject.manifest, 2))}</pre></details>`
      : '';
  return `<section id="environment"><dl class="env">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>${manifest}</section>`;
}

// ---------------------------------------------------------------------------------------------
// Requirements

/** Every requirement as a small tile coloured by status, grouped by area (the ID's first segment). */
function renderOverview(report: Report): string {
  if (report.requirements.length === 0) return '';
  const areas = new Map<string, RequirementRollup[]>();
  for (const r of report.requirements) {
    const area = r.id.split('.')[0] ?? r.id;
    areas.set(area, [...(areas.get(area) ?? []), r]);
  }
  const rows = [...areas.entries()].map(([area, reqs]) => {
    const tiles = reqs
      .map((r) => {
        const short = r.id.startsWith(`${area}.`) ? r.id.slice(area.length + 1) : r.id;
        return `<a class="tile tone-${STATUS_TONE[r.status]} level-${esc(r.level)}" href="#${esc(anchorId('req', r.id))}" title="${esc(`${r.id} (${r.level}): ${r.status} — ${r.title}`)}">${esc(short)}</a>`;
      })
      .join('');
    return `<div class="area"><span class="area-name">${esc(area)}</span><span class="tiles">${tiles}</span></div>`;
  });
  return `<section id="overview"><h2>At a glance <span class="h-aside dim">every requirement by area; bold border = MUST</span></h2><div class="areas">${rows.join('')}</div></section>`;
}

function renderRequirements(report: Report, a: Anchors): string {
  const rows = report.requirements.map((r: RequirementRollup) => {
    const failures = new Set(r.failures);
    const cases =
      r.cases.length === 0
        ? '<span class="dim">—</span>'
        : r.cases
            .map((id) => (failures.has(id) ? `<span class="failed-case">${caseLink(a, id)}</span>` : caseLink(a, id)))
            .join(', ');
    return `<tr id="${esc(anchorId('req', r.id))}" class="req status-${esc(r.status)} level-${esc(r.level)}">
<td class="req-id">${esc(r.id)}</td><td class="level">${esc(r.level)}</td><td>${pill(r.status, STATUS_TONE[r.status], 'status')}</td><td class="req-title">${esc(r.title)}</td><td class="req-cases">${cases}</td></tr>`;
  });
  const byStatus = new Map<RequirementStatus, number>();
  for (const r of report.requirements) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const summary = [...byStatus.entries()].map(([s, n]) => pill(`${n} ${s}`, STATUS_TONE[s])).join(' ');
  return `<section id="requirements-section"><h2>Requirements <span class="h-aside">${summary}</span></h2>
<table id="requirements" class="grid">
<thead><tr><th>ID</th><th>Level</th><th>Status</th><th>Requirement</th><th>Cases</th></tr></thead>
<tbody>
${rows.join('\n') || '<tr><td colspan="5" class="dim">No requirements in the report.</td></tr>'}
</tbody></table></section>`;
}

// ---------------------------------------------------------------------------------------------
// Latency charts

/** Latency samples (`case` notes of kind `sample`, `data.ms`) kept in a case's timeline excerpt. */
export function latencySamples(c: CaseResult): number[] {
  return c.timeline
    .filter((e) => e.source === 'case' && e.kind === 'sample')
    .map((e) => Number(e.data.ms))
    .filter((n) => Number.isFinite(n));
}

interface Budget {
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

interface Scenario {
  scenario: string;
  row: LatencyTable;
  budgets: Budget[];
}

/**
 * Every latency scenario in one chart (log scale): p50, p90, p99 and max as bars, each budget as a
 * line across its scenario's bars. Only p99 is graded: red when over a budget.
 */
function percentileChart(scenarios: Scenario[]): string {
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
function samplesCaption(shown: number, total: number | undefined): string {
  return total !== undefined && total > shown
    ? `${shown} of ${total} samples (the others are outside the timeline excerpt)`
    : `${shown} samples`;
}

/** Samples binned on a log scale (5 bins a decade) that also spans the budgets, drawn as lines. */
function sampleHistogram(samples: number[], budgets: Budget[]): string {
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

function budgetsFor(report: Report, rows: LatencyTable[]): Budget[] {
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
function caseBudgets(report: Report, c: CaseResult): Budget[] {
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

function renderLatency(report: Report, a: Anchors): string {
  const rows = report.latency ?? [];
  if (rows.length === 0) return '';
  const groups = new Map<string, LatencyTable[]>();
  for (const r of rows) groups.set(r.scenario, [...(groups.get(r.scenario) ?? []), r]);
  const level = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const tableRows = rows
    .map(
      (l) =>
        `<tr class="${l.p99 <= l.budgetMs ? 'met' : 'missed'}"><td>${caseLink(a, l.scenario)}</td><td>${reqLink(a, l.requirement)} <span class="dim">${esc(level.get(l.requirement) ?? '')}</span></td><td class="num">${l.n}</td><td class="num">${esc(fmtMs(l.p50))}</td><td class="num">${esc(fmtMs(l.p90))}</td><td class="num p99">${esc(fmtMs(l.p99))}</td><td class="num">${esc(fmtMs(l.max))}</td><td class="num">${esc(fmtNum(l.budgetMs))}</td><td>${l.p99 <= l.budgetMs ? pill('within', 'good') : pill('over', 'bad')}</td></tr>`,
    )
    .join('\n');
  const scenarios: Scenario[] = [...groups.entries()].map(([scenario, group]) => ({
    scenario,
    row: group[0]!,
    budgets: budgetsFor(report, group),
  }));
  const hists = scenarios
    .map((s) => {
      const c = report.cases.find((x) => x.id === s.scenario);
      const samples = c ? latencySamples(c) : [];
      if (samples.length === 0) return '';
      return `<figure class="histogram"><figcaption><b>${caseLink(a, s.scenario)}</b> · ms, log scale<br>${esc(samplesCaption(samples.length, s.row.n))}</figcaption>${sampleHistogram(samples, s.budgets)}</figure>`;
    })
    .filter((h) => h !== '');
  return `<section id="latency"><h2>Latency <span class="h-aside dim">signal sent → handler entry (probe stamp), ms</span></h2>
<table class="grid latency-table"><thead><tr><th>Scenario</th><th>Requirement</th><th class="num">n</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th><th class="num">budget</th><th></th></tr></thead><tbody>
${tableRows}
</tbody></table>
<figure class="histogram wide"><figcaption>Percentiles against each budget (only p99 is graded)</figcaption>${percentileChart(scenarios)}</figure>
${hists.length ? `<div class="sample-grid">${hists.join('\n')}</div>` : ''}
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Timeline

const TL = { width: 1200, gutter: 96, right: 16, rowH: 20, axisH: 24, top: 18 } as const;

const STATE_CLASS: Record<string, string> = {
  STARTING: 'st-starting',
  STARTED: 'st-started',
  RELOADING: 'st-reloading',
  STOPPING: 'st-stopping',
  EXITING: 'st-exiting',
};

type Shape = 'dot' | 'diamond' | 'tri' | 'x' | 'square' | 'tick';

interface Row {
  label: string;
  cls: string;
  /** filled by the lane builders, given the row's top y */
  draw: (y: number) => string;
}

function shapeAt(shape: Shape, x: number, cy: number, cls: string, tip: string): string {
  const t = titleEl(tip);
  switch (shape) {
    case 'dot':
      return `<circle class="${cls}" cx="${r2(x)}" cy="${r2(cy)}" r="3.5">${t}</circle>`;
    case 'diamond':
      return `<path class="${cls}" d="M${r2(x)} ${r2(cy - 5)}l5 5l-5 5l-5 -5z">${t}</path>`;
    case 'tri':
      return `<path class="${cls}" d="M${r2(x)} ${r2(cy - 5)}l5 9h-10z">${t}</path>`;
    case 'square':
      return `<rect class="${cls}" x="${r2(x - 4)}" y="${r2(cy - 4)}" width="8" height="8">${t}</rect>`;
    case 'x':
      return `<path class="${cls} cross" d="M${r2(x - 4)} ${r2(cy - 4)}l8 8M${r2(x + 4)} ${r2(cy - 4)}l-8 8">${t}</path>`;
    default:
      return `<line class="${cls} tickmark" x1="${r2(x)}" y1="${r2(cy - 6)}" x2="${r2(x)}" y2="${r2(cy + 6)}">${t}</line>`;
  }
}

/** Places labels left to right in a row, skipping those that would overlap the previous one. */
class LabelRow {
  private nextFree = Number.NEGATIVE_INFINITY;
  constructor(private readonly maxX: number) {}
  place(x: number, text: string): number | null {
    const w = textWidth(text);
    let at = x + 6;
    if (at + w > this.maxX) at = x - 6 - w;
    if (at < this.nextFree) return null;
    this.nextFree = at + w + 6;
    return at;
  }
}

/** How a timeline panel maps time to x: the scale, and the window of time it shows. */
interface View {
  x: (t: number) => number;
  t0: number;
  t1: number;
}

function inView(v: View, t: number): boolean {
  return t >= v.t0 && t <= v.t1;
}

/** A bar [a, b] clipped to the view, or null when it lies outside. */
function clipBar(v: View, a: number, b: number, minPx: number): { X0: number; w: number } | null {
  if (b < v.t0 || a > v.t1) return null;
  const X0 = v.x(Math.max(a, v.t0));
  return { X0, w: Math.max(minPx, v.x(Math.min(b, v.t1)) - X0) };
}

interface PointMark {
  t: number;
  shape: Shape;
  cls: string;
  label?: string;
  tip: string;
}

function pointsRow(label: string, cls: string, marks: PointMark[], v: View): Row {
  return {
    label,
    cls,
    draw: (y) => {
      const cy = y + TL.rowH / 2;
      const labels = new LabelRow(TL.width - TL.right);
      const out: string[] = [];
      for (const m of marks.filter((k) => inView(v, k.t)).sort((p, q) => p.t - q.t)) {
        const X = v.x(m.t);
        out.push(`<g>${shapeAt(m.shape, X, cy, m.cls, m.tip)}`);
        if (m.label) {
          const at = labels.place(X, m.label);
          if (at !== null) out.push(`<text class="lbl" x="${r2(at)}" y="${r2(cy + 3.5)}">${esc(m.label)}</text>`);
        }
        out.push('</g>');
      }
      return out.join('');
    },
  };
}

function dataTip(e: HistoryEvent): string {
  const d = json(e.data);
  const launch = e.launch !== undefined ? ` [launch ${e.launch}]` : '';
  return `+${fmtMs(e.t)} ms ${e.source} ${e.kind}${launch}${d && d !== '{}' ? ` ${clip(d, 300)}` : ''}`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function harnessMark(e: HistoryEvent): PointMark {
  const tip = dataTip(e);
  switch (e.kind) {
    case 'signal-sent':
      return { t: e.t, shape: 'tri', cls: 'm-signal', label: str(e.data.sig) ?? 'signal', tip };
    case 'teardown-signal':
      return { t: e.t, shape: 'tri', cls: 'm-teardown', label: `teardown ${str(e.data.sig) ?? ''}`.trim(), tip };
    case 'ready':
      return { t: e.t, shape: 'diamond', cls: 'm-good', label: 'ready', tip };
    case 'case-error':
    case 'teardown-error':
    case 'timeout':
    case 'orphans':
      return { t: e.t, shape: 'x', cls: 'm-bad', label: e.kind, tip };
    default:
      return { t: e.t, shape: 'tick', cls: 'm-muted', label: e.kind, tip };
  }
}

function probeMark(e: HistoryEvent): PointMark {
  const tip = dataTip(e);
  if (e.kind !== 'probe') return { t: e.t, shape: 'x', cls: 'm-bad', label: e.kind, tip };
  const ev = str(e.data.ev) ?? 'probe';
  switch (ev) {
    case 'signal':
      return { t: e.t, shape: 'dot', cls: 'm-signal', label: `signal ${str(e.data.sig) ?? ''}`.trim(), tip };
    case 'stop-accepting':
    case 'drained':
    case 'persisted':
    case 'exiting': {
      const extra =
        ev === 'drained' && e.data.forced === true ? ' (forced)' : ev === 'exiting' ? ` ${str(e.data.code) ?? ''}` : '';
      return {
        t: e.t,
        shape: 'dot',
        cls: ev === 'drained' && e.data.forced === true ? 'm-bad' : 'm-stop',
        label: `${ev}${extra}`.trim(),
        tip,
      };
    }
    case 'reload-begin':
    case 'reload-done':
      return { t: e.t, shape: 'dot', cls: 'm-reload', label: ev, tip };
    case 'reload-failed':
      return { t: e.t, shape: 'x', cls: 'm-bad', label: ev, tip };
    case 'ready':
    case 'listening':
      return { t: e.t, shape: 'dot', cls: 'm-good', label: ev, tip };
    case 'request':
      return { t: e.t, shape: 'dot', cls: 'm-stop', label: `request ${str(e.data.action) ?? ''}`.trim(), tip };
    default:
      return { t: e.t, shape: 'dot', cls: 'm-muted', label: ev, tip };
  }
}

interface Interval {
  t0: number;
  t1: number;
  open: boolean;
  ok: boolean;
  label: string;
  tip: string;
}

function requestIntervals(events: HistoryEvent[], tEnd: number): Interval[] {
  const pending = new Map<string, { e: HistoryEvent; i: number }[]>();
  const out: Interval[] = [];
  for (const e of events) {
    if (e.source !== 'client') continue;
    const key = `${str(e.data.conn) ?? '?'}|${str(e.data.label) ?? '?'}`;
    if (e.kind === 'http-sent') {
      const label = str(e.data.label) ?? `${str(e.data.method) ?? 'GET'} ${str(e.data.path) ?? ''}`;
      out.push({ t0: e.t, t1: tEnd, open: true, ok: false, label, tip: dataTip(e) });
      pending.set(key, [...(pending.get(key) ?? []), { e, i: out.length - 1 }]);
    } else if (e.kind === 'http-done') {
      const q = pending.get(key);
      const first = q?.shift();
      if (!first) continue;
      const iv = out[first.i]!;
      iv.t1 = e.t;
      iv.open = false;
      iv.ok = e.data.ok === true;
      const status = str(e.data.status);
      const err = str(e.data.error);
      iv.tip = `${iv.label}: ${str(first.e.data.method) ?? ''} ${str(first.e.data.path) ?? ''} → ${status ?? 'no status'}${err ? ` (${err})` : ''}, ${fmtMs(e.t - first.e.t)} ms (+${fmtMs(first.e.t)} → +${fmtMs(e.t)} ms)${first.e.data.reused === true ? ', reused connection' : ''}`;
    }
  }
  for (const iv of out) if (iv.open) iv.tip = `${iv.label}: no response in the excerpt (sent at +${fmtMs(iv.t0)} ms)`;
  return out;
}

const MAX_REQUEST_ROWS = 10;

function requestRows(intervals: Interval[], v: View): Row[] {
  const lanes: Interval[][] = [];
  const ends: number[] = [];
  const minGapPx = 2;
  const x = (t: number) => v.x(Math.min(Math.max(t, v.t0), v.t1));
  for (const iv of [...intervals].filter((i) => i.t1 >= v.t0 && i.t0 <= v.t1).sort((a, b) => a.t0 - b.t0)) {
    let lane = ends.findIndex((end) => x(iv.t0) >= end + minGapPx);
    if (lane < 0) {
      if (lanes.length < MAX_REQUEST_ROWS) {
        lane = lanes.length;
        lanes.push([]);
        ends.push(0);
      } else {
        lane = lanes.length - 1;
      }
    }
    lanes[lane]!.push(iv);
    ends[lane] = Math.max(ends[lane]!, x(iv.t1), x(iv.t0) + 3);
  }
  return lanes.map((lane, i) => ({
    label: i === 0 ? 'requests' : '',
    cls: 'lane-client',
    draw: (y) =>
      lane
        .map((iv) => {
          const { X0, w } = clipBar(v, iv.t0, iv.t1, 3)!;
          const cls = iv.open ? 'req open' : iv.ok ? 'req ok' : 'req failed';
          const text =
            w > textWidth(iv.label) + 8
              ? `<text class="lbl in-bar" x="${r2(X0 + 4)}" y="${r2(y + TL.rowH / 2 + 3.5)}">${esc(iv.label)}</text>`
              : '';
          return `<g><rect class="${cls}" x="${r2(X0)}" y="${r2(y + 3)}" width="${r2(w)}" height="${TL.rowH - 6}" rx="2">${titleEl(iv.tip)}</rect>${text}</g>`;
        })
        .join(''),
  }));
}

function clientMark(e: HistoryEvent): PointMark | null {
  const tip = dataTip(e);
  switch (e.kind) {
    case 'http-sent':
    case 'http-done':
    case 'http-headers':
      return null;
    case 'connect':
      return e.data.ok === true
        ? { t: e.t, shape: 'tick', cls: 'm-muted', tip }
        : { t: e.t, shape: 'x', cls: 'm-bad', label: `connect ${str(e.data.error) ?? 'failed'}`, tip };
    case 'conn-closed':
      return e.data.how === 'rst'
        ? { t: e.t, shape: 'x', cls: 'm-warn', label: 'RST', tip }
        : { t: e.t, shape: 'tick', cls: 'm-faint', tip };
    case 'connect-probe': {
      const outcome = str(e.data.outcome) ?? '?';
      const good = outcome === 'refused' || outcome === 'ok' || outcome === 'served';
      return { t: e.t, shape: good ? 'dot' : 'x', cls: good ? 'm-muted' : 'm-warn', label: `probe ${outcome}`, tip };
    }
    default:
      return { t: e.t, shape: 'dot', cls: e.kind.endsWith('fail') ? 'm-bad' : 'm-muted', label: e.kind, tip };
  }
}

function caseMark(e: HistoryEvent): PointMark {
  const tip = dataTip(e);
  if (e.kind === 'sample')
    return {
      t: e.t,
      shape: 'dot',
      cls: 'm-sample',
      tip: `sample ${fmtMs(Number(e.data.ms))} ms (${str(e.data.sig) ?? ''})`,
    };
  const bad = /lost|timeout|fail|error/.test(e.kind);
  return { t: e.t, shape: bad ? 'x' : 'dot', cls: bad ? 'm-bad' : 'm-note', label: e.kind, tip };
}

function processRow(events: HistoryEvent[], tEnd: number, label: string, v: View): Row {
  return {
    label,
    cls: 'lane-process',
    draw: (y) => {
      const out: string[] = [];
      const spawns = events.filter((e) => e.kind === 'spawn');
      const exits = events.filter((e) => e.kind === 'exit');
      for (const s of spawns) {
        const exit = exits.find((e) => e.t >= s.t);
        const t1 = exit?.t ?? tEnd;
        const pid = str(s.data.pid) ?? '?';
        const bar = clipBar(v, s.t, t1, 2);
        if (!bar) continue;
        out.push(
          `<rect class="alive${exit ? '' : ' open'}" x="${r2(bar.X0)}" y="${r2(y + 5)}" width="${r2(bar.w)}" height="${TL.rowH - 10}">${titleEl(`pid ${pid} alive +${fmtMs(s.t)} → ${exit ? `+${fmtMs(exit.t)} ms` : 'end of excerpt'}`)}</rect>`,
        );
      }
      if (spawns.length === 0 && exits.length > 0) {
        const bar = clipBar(v, v.t0, exits[0]!.t, 2);
        if (bar)
          out.push(
            `<rect class="alive open" x="${r2(bar.X0)}" y="${r2(y + 5)}" width="${r2(bar.w)}" height="${TL.rowH - 10}"/>`,
          );
      }
      const marks: PointMark[] = events.map((e) => {
        const tip = dataTip(e);
        if (e.kind === 'spawn')
          return { t: e.t, shape: 'tri', cls: 'm-spawn', label: `spawn pid ${str(e.data.pid) ?? '?'}`, tip };
        if (e.kind === 'exit') {
          const code = e.data.code;
          const sig = str(e.data.signal);
          const text = sig ? `killed by ${sig}` : `exit ${str(code) ?? '?'}`;
          return { t: e.t, shape: 'square', cls: sig || code !== 0 ? 'm-exit-bad' : 'm-exit', label: text, tip };
        }
        return { t: e.t, shape: 'x', cls: 'm-bad', label: e.kind, tip };
      });
      out.push(pointsRow('', '', marks, v).draw(y));
      return out.join('');
    },
  };
}

function stateRow(events: HistoryEvent[], tEnd: number, label: string, v: View): Row {
  return {
    label,
    cls: 'lane-probe',
    draw: (y) => {
      const states = events.filter((e) => e.kind === 'probe' && e.data.ev === 'state');
      const out: string[] = [];
      states.forEach((e, i) => {
        const next = states[i + 1];
        const exit = events.find((p) => p.source === 'process' && p.kind === 'exit' && p.t >= e.t);
        const t1 = next?.t ?? exit?.t ?? tEnd;
        const state = str(e.data.state) ?? '?';
        const bar = clipBar(v, e.t, t1, 2);
        if (!bar) return;
        const { X0, w } = bar;
        const cls = STATE_CLASS[state] ?? 'st-other';
        const text =
          w > textWidth(state) + 6
            ? `<text class="lbl in-bar" x="${r2(X0 + 3)}" y="${r2(y + TL.rowH / 2 + 3.5)}">${esc(state)}</text>`
            : '';
        out.push(
          `<g><rect class="state ${cls}" x="${r2(X0)}" y="${r2(y + 2)}" width="${r2(w)}" height="${TL.rowH - 4}">${titleEl(`${state}${e.data.from ? ` (from ${str(e.data.from)})` : ''}: +${fmtMs(e.t)} → +${fmtMs(t1)} ms`)}</rect>${text}</g>`,
        );
      });
      return out.join('');
    },
  };
}

/** A stretch of time without events, drawn narrow (not to scale). */
interface Gap {
  t0: number;
  t1: number;
}

/** Drawn width of a compressed gap, px. */
const GAP_PX = 30;
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
function timeScale(tMin: number, tEnd: number, gaps: Gap[], x0: number, width: number): (t: number) => number {
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

function fmtGap(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

/** A window of time to draw on its own, magnified. */
export interface TimeWindow {
  t0: number;
  t1: number;
}

function sortedEvents(c: CaseResult): HistoryEvent[] {
  return c.timeline.filter((e) => Number.isFinite(e.t)).sort((a, b) => a.t - b.t);
}

/** Overview scale of a case: time 0 (or the first event) to the last event, long quiet stretches cut. */
function overview(events: HistoryEvent[]): { view: View; gaps: Gap[]; tMin: number; tEnd: number } {
  const tMin = Math.min(0, events[0]!.t);
  const tEnd = tMin + Math.max(events[events.length - 1]!.t - tMin, 1);
  const plotW = TL.width - TL.gutter - TL.right;
  const gaps = timelineGaps(
    events.map((e) => e.t),
    tMin,
    tEnd,
    plotW,
  );
  return { view: { x: timeScale(tMin, tEnd, gaps, TL.gutter, plotW), t0: tMin, t1: tEnd }, gaps, tMin, tEnd };
}

/** Narrower than this on the overview (px), the signal-to-exit stretch gets its own magnified panel. */
const ZOOM_BELOW_PX = 320;

/**
 * The stretch from the first signal the harness sent to the exit that followed, when it is squeezed
 * on the overview and holds enough events to be worth magnifying; null otherwise.
 */
export function zoomWindow(c: CaseResult): TimeWindow | null {
  const events = sortedEvents(c);
  if (events.length === 0) return null;
  const sig =
    events.find((e) => e.source === 'harness' && e.kind === 'signal-sent') ??
    events.find((e) => e.source === 'probe' && e.data.ev === 'request');
  if (!sig) return null;
  const exit = events.find((e) => e.source === 'process' && e.kind === 'exit' && e.t >= sig.t);
  if (!exit) return null;
  const { view } = overview(events);
  if (view.x(exit.t) - view.x(sig.t) >= ZOOM_BELOW_PX) return null;
  const pad = Math.max((exit.t - sig.t) * 0.04, 0.02);
  const w = { t0: sig.t - pad, t1: exit.t + pad };
  if (events.filter((e) => e.t >= w.t0 && e.t <= w.t1).length < 5) return null;
  return w;
}

/**
 * The case's timeline excerpt as an SVG: lanes per source, a time axis, signals as guide lines.
 * With `window`, only that stretch, magnified (same lanes, bars clipped at its edges).
 */
export function timelineSvg(c: CaseResult, window?: TimeWindow): string {
  const events = sortedEvents(c);
  if (events.length === 0) return '';
  const plotW = TL.width - TL.gutter - TL.right;
  const full = overview(events);
  const tEnd = full.tEnd;
  let v = full.view;
  let gaps = full.gaps;
  if (window) {
    const t1 = Math.max(window.t1, window.t0 + 1e-6);
    const inside = events.map((e) => e.t).filter((t) => t >= window.t0 && t <= t1);
    gaps = timelineGaps(inside, window.t0, t1, plotW);
    v = { x: timeScale(window.t0, t1, gaps, TL.gutter, plotW), t0: window.t0, t1 };
  }

  const rows: Row[] = [];
  const harness = events.filter((e) => e.source === 'harness');
  if (harness.length) rows.push(pointsRow('harness', 'lane-harness', harness.map(harnessMark), v));

  const launchKeys: (number | undefined)[] = [];
  for (const e of events) {
    if ((e.source === 'process' || e.source === 'probe') && !launchKeys.includes(e.launch)) launchKeys.push(e.launch);
  }
  const many = launchKeys.length > 1;
  for (const L of launchKeys) {
    const suffix = many ? ` #${L ?? '?'}` : '';
    const proc = events.filter((e) => e.source === 'process' && e.launch === L);
    const probe = events.filter((e) => e.source === 'probe' && e.launch === L);
    if (proc.length) rows.push(processRow(proc, tEnd, `process${suffix}`, v));
    if (probe.some((e) => e.data.ev === 'state')) {
      rows.push(stateRow([...probe, ...proc], tEnd, `state${suffix}`, v));
    }
    const others = probe.filter((e) => e.data.ev !== 'state');
    if (others.length) rows.push(pointsRow(`probe${suffix}`, 'lane-probe', others.map(probeMark), v));
  }

  const client = events.filter((e) => e.source === 'client');
  const intervals = requestIntervals(client, tEnd);
  const reqRows = requestRows(intervals, v);
  if (reqRows.length) rows.push(...reqRows);
  else if (intervals.length) rows.push({ label: 'requests', cls: 'lane-client', draw: () => '' });
  const clientMarks = client.map(clientMark).filter((m): m is PointMark => m !== null);
  if (clientMarks.length) rows.push(pointsRow('client', 'lane-client', clientMarks, v));

  const caseEvents = events.filter((e) => e.source === 'case');
  if (caseEvents.length) rows.push(pointsRow('case', 'lane-case', caseEvents.map(caseMark), v));

  // rows are drawn at y = 0 and moved into place; a magnified panel leaves out lanes with nothing in it
  const drawn = rows.map((row) => ({ row, body: row.draw(0) }));
  let lanes = window ? drawn.filter((d) => d.body !== '') : drawn;
  if (lanes.length === 0) lanes = drawn;
  // a continuation row of requests whose first row was left out takes the lane's name
  lanes = lanes.map((d, i) =>
    d.row.label === '' && d.row.cls === 'lane-client' && lanes[i - 1]?.row.cls !== 'lane-client'
      ? { row: { ...d.row, label: 'requests' }, body: d.body }
      : d,
  );
  rows.splice(0, rows.length, ...lanes.map((d) => d.row));
  const bodies = lanes.map((d) => d.body);

  const plotTop = TL.top;
  const plotBottom = plotTop + rows.length * TL.rowH;
  const H = plotBottom + TL.axisH;
  const parts: string[] = [];

  rows.forEach((row, i) => {
    const y = plotTop + i * TL.rowH;
    parts.push(
      `<rect class="lane-bg ${i % 2 ? 'odd' : 'even'}" x="${TL.gutter}" y="${y}" width="${plotW}" height="${TL.rowH}"/>`,
    );
    if (row.label)
      parts.push(
        `<text class="lane-label" x="${TL.gutter - 8}" y="${r2(y + TL.rowH / 2 + 4)}" text-anchor="end">${esc(row.label)}</text>`,
      );
  });

  // on the overview, the magnified stretch is shaded
  const zoom = window ? null : zoomWindow(c);
  if (zoom) {
    const X0 = v.x(zoom.t0);
    parts.push(
      `<rect class="zoom-range" x="${r2(X0)}" y="${plotTop}" width="${r2(Math.max(2, v.x(zoom.t1) - X0))}" height="${plotBottom - plotTop}">${titleEl(`magnified below: +${fmtMs(zoom.t0)} → +${fmtMs(zoom.t1)} ms`)}</rect>`,
    );
  }

  // ticks on the stretches drawn to scale; a label is dropped when it would touch the previous one
  const scaledMs = v.t1 - v.t0 - gaps.reduce((s, g) => s + (g.t1 - g.t0), 0);
  const step = niceStep(scaledMs / (10 - gaps.length * 1.5));
  const segments: Gap[] = [];
  let from = v.t0;
  for (const g of gaps) {
    segments.push({ t0: from, t1: g.t0 });
    from = g.t1;
  }
  segments.push({ t0: from, t1: v.t1 });
  let lastLabelEnd = TL.gutter - 100;
  for (const seg of segments) {
    for (let k = Math.ceil(seg.t0 / step); k * step <= seg.t1 + 1e-9; k++) {
      const t = k * step;
      const X = v.x(t);
      const label = fmtTick(t);
      parts.push(`<line class="grid" x1="${r2(X)}" y1="${plotTop}" x2="${r2(X)}" y2="${plotBottom + 4}"/>`);
      const w = textWidth(label);
      if (X - w / 2 > lastLabelEnd + 6 && X + w / 2 <= TL.width) {
        parts.push(`<text class="tick" x="${r2(X)}" y="${plotBottom + 16}" text-anchor="middle">${esc(label)}</text>`);
        lastLabelEnd = X + w / 2;
      }
    }
  }
  parts.push(`<text class="axis-label" x="${TL.gutter - 8}" y="${plotBottom + 16}" text-anchor="end">t (ms)</text>`);
  const breaks: string[] = [];
  for (const g of gaps) {
    const X0 = v.x(g.t0);
    const tip = titleEl(`${fmtGap(g.t1 - g.t0)} without events (+${fmtMs(g.t0)} → +${fmtMs(g.t1)} ms), not to scale`);
    breaks.push(
      `<g class="gap"><rect x="${r2(X0)}" y="${plotTop}" width="${GAP_PX}" height="${plotBottom - plotTop}"/>` +
        `<path d="M${r2(X0 + 8)} ${plotBottom + 9}l6 -10M${r2(X0 + 15)} ${plotBottom + 9}l6 -10"/>` +
        `<text x="${r2(X0 + GAP_PX / 2)}" y="${plotTop - 5}" text-anchor="middle">${esc(fmtGap(g.t1 - g.t0))}</text>${tip}</g>`,
    );
  }

  // signals sent: guide lines across every lane
  for (const e of harness.filter((h) => (h.kind === 'signal-sent' || h.kind === 'teardown-signal') && inView(v, h.t))) {
    const X = v.x(e.t);
    const cls = e.kind === 'signal-sent' ? 'guide-signal' : 'guide-teardown';
    parts.push(
      `<line class="${cls}" x1="${r2(X)}" y1="${plotTop - 6}" x2="${r2(X)}" y2="${plotBottom}">${titleEl(dataTip(e))}</line>`,
    );
  }

  rows.forEach((row, i) => {
    parts.push(`<g class="${row.cls}" transform="translate(0 ${plotTop + i * TL.rowH})">${bodies[i]}</g>`);
  });
  parts.push(...breaks);

  const what = window ? `magnified timeline of ${c.id}` : `timeline of ${c.id}`;
  return `<svg class="tl${window ? ' zoom' : ''}" viewBox="0 0 ${TL.width} ${H}" role="img" aria-label="${esc(what)}">${parts.join('')}</svg>`;
}

const LEGEND = `<ul class="legend">
<li><i class="sw sw-signal"></i>signal sent (harness)</li>
<li><i class="sw sw-probe-signal"></i>handler entry (probe)</li>
<li><i class="sw sw-stop"></i>stop-accepting / drained / persisted / exiting</li>
<li><i class="sw sw-reload"></i>reload</li>
<li><i class="sw st-starting"></i>STARTING</li><li><i class="sw st-started"></i>STARTED</li><li><i class="sw st-reloading"></i>RELOADING</li><li><i class="sw st-stopping"></i>STOPPING</li><li><i class="sw st-exiting"></i>EXITING</li>
<li><i class="sw sw-alive"></i>process alive (spawn ▲ → exit ■)</li>
<li><i class="sw sw-req-ok"></i>request answered</li><li><i class="sw sw-req-failed"></i>request failed</li><li><i class="sw sw-req-open"></i>no response in excerpt</li>
<li><i class="sw sw-bad">✕</i>error / refused / reset</li>
<li><i class="sw sw-note"></i>case note (sample)</li>
</ul>`;

function renderTimeline(c: CaseResult): string {
  if (c.timeline.length === 0) return '<p class="dim">No timeline recorded.</p>';
  const svg = timelineSvg(c);
  const excerpt = c.timeline.length >= MAX_TIMELINE_EVENTS ? ' (an excerpt: the start and the end of the case)' : '';
  const where = c.runDir ? ` Full history: <code>${esc(path.join(c.runDir, 'history.json'))}</code>.` : '';
  const rows = c.timeline
    .map((e) => {
      const d = json(e.data);
      return `<tr class="src-${esc(e.source)}"><td class="num">${esc(fmtMs(e.t))}</td><td>${esc(e.source)}${e.launch !== undefined ? ` <span class="dim">#${e.launch}</span>` : ''}</td><td>${esc(e.kind)}</td><td><code>${esc(d === '{}' ? '' : clip(d, 400))}</code></td></tr>`;
    })
    .join('\n');
  const zoom = zoomWindow(c);
  const zoomPanel = zoom
    ? `<figcaption class="zoom-caption">Magnified: +${esc(fmtMs(zoom.t0))} → +${esc(fmtMs(zoom.t1))} ms, from the first signal sent (or stop/reload request) to the exit that followed (shaded above).</figcaption>\n${timelineSvg(c, zoom)}\n`
    : '';
  return `<figure class="timeline"><figcaption>Timeline: ${c.timeline.length} events${excerpt}; hover a mark for details.${where}</figcaption>
${svg}
${zoomPanel}${LEGEND}
<details class="events"><summary>Events (${c.timeline.length})</summary>
<table class="grid events-table"><thead><tr><th class="num">t (ms)</th><th>source</th><th>kind</th><th>data</th></tr></thead><tbody>
${rows}
</tbody></table></details></figure>`;
}

// ---------------------------------------------------------------------------------------------
// Cases

function metricsList(m: Record<string, number> | undefined): string {
  if (!m) return '';
  const entries = Object.entries(m);
  if (entries.length === 0) return '';
  return `<span class="metrics">${entries.map(([k, v]) => `<code>${esc(k)}=${esc(fmtNum(v))}</code>`).join(' ')}</span>`;
}

function renderVerdicts(c: CaseResult, a: Anchors, levels: ReadonlyMap<string, Level>): string {
  if (c.verdicts.length === 0) return '<p class="dim">No verdicts.</p>';
  const rows = c.verdicts
    .map(
      (v) =>
        `<tr class="verdict-row v-${esc(v.status)}"><td>${pill(v.status, VERDICT_STATUS_TONE[v.status])}</td><td>${reqLink(a, v.requirement)} <span class="dim">${esc(levels.get(v.requirement) ?? '')}</span></td><td class="expected">${esc(v.expected)}</td><td class="actual">${esc(v.actual)}${v.metrics && Object.keys(v.metrics).length ? `<br>${metricsList(v.metrics)}` : ''}</td></tr>`,
    )
    .join('\n');
  return `<table class="grid verdicts"><thead><tr><th>Status</th><th>Requirement</th><th>Expected</th><th>Actual</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function renderCase(report: Report, c: CaseResult, id: string, a: Anchors, levels: ReadonlyMap<string, Level>): string {
  const open = c.outcome !== 'pass' && c.outcome !== 'not-applicable' && c.outcome !== 'informational';
  const reason = shortReason(c);
  const facts: string[] = [];
  if (c.description) facts.push(`<p class="description">${esc(c.description)}</p>`);
  if (c.reason) facts.push(`<p class="reason"><b>Reason:</b> ${esc(c.reason)}</p>`);
  const meta = [
    `<dt>Requirements</dt><dd>${c.requirements.map((r) => reqLink(a, r)).join(', ') || '<span class="dim">—</span>'}</dd>`,
  ];
  if (c.edgeCases.length)
    meta.push(`<dt>Edge cases</dt><dd>${c.edgeCases.map((e) => `<code>${esc(e)}</code>`).join(' ')}</dd>`);
  meta.push(`<dt>Duration</dt><dd>${esc(fmtDuration(c.durationMs))}</dd>`);
  if (c.attempts > 1) meta.push(`<dt>Attempts</dt><dd>${c.attempts}</dd>`);
  if (c.repeat !== undefined) meta.push(`<dt>Repeat</dt><dd>${c.repeat}</dd>`);
  const metrics = metricsList(c.metrics);
  if (metrics) meta.push(`<dt>Metrics</dt><dd>${metrics}</dd>`);
  if (c.runDir) meta.push(`<dt>Run folder</dt><dd><code>${esc(c.runDir)}</code></dd>`);
  const samples = latencySamples(c);
  const budgets = caseBudgets(report, c);
  const hist =
    samples.length > 0
      ? `<figure class="histogram"><figcaption>Latency: ${esc(samplesCaption(samples.length, c.verdicts.find((v) => v.metrics?.n !== undefined)?.metrics?.n))}; ms, log scale</figcaption>${sampleHistogram(samples, budgets)}</figure>`
      : '';
  return `<details class="case outcome-${esc(c.outcome)} tone-${OUTCOME_TONE[c.outcome]}" id="${esc(id)}" data-outcome="${esc(c.outcome)}"${open ? ' open' : ''}>
<summary>${outcomePill(c.outcome)} <span class="case-id">${esc(caseName(c))}</span> <span class="case-title">${esc(c.title)}</span> <span class="case-dur">${esc(fmtDuration(c.durationMs))}</span>${reason ? `<span class="case-reason">${esc(clip(reason, 220))}</span>` : ''}</summary>
<div class="case-body">
${facts.join('\n')}
<dl class="case-meta">${meta.join('')}</dl>
<h4>Evidence</h4>
${renderVerdicts(c, a, levels)}
${hist}
<h4>Timeline</h4>
${renderTimeline(c)}
</div>
</details>`;
}

function renderCaseIndex(report: Report, a: Anchors): string {
  const rows = report.cases
    .map(
      (c, i) =>
        `<tr class="outcome-${esc(c.outcome)}"><td>${outcomePill(c.outcome)}</td><td><a href="#${esc(a.caseAt[i]!)}">${esc(caseName(c))}</a></td><td>${esc(c.title)}</td><td class="num">${esc(fmtDuration(c.durationMs))}</td><td class="dim">${esc(clip(shortReason(c), 160))}</td></tr>`,
    )
    .join('\n');
  return `<table id="case-index" class="grid"><thead><tr><th>Outcome</th><th>Case</th><th>Title</th><th class="num">Time</th><th>Why</th></tr></thead><tbody>
${rows || '<tr><td colspan="5" class="dim">No cases ran.</td></tr>'}
</tbody></table>`;
}

function renderCases(report: Report, a: Anchors): string {
  const levels = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const cases = report.cases.map((c, i) => renderCase(report, c, a.caseAt[i]!, a, levels)).join('\n');
  return `<section id="cases"><h2>Cases <span class="h-aside">${esc(countsLine(report))}</span>
<span class="js-only controls" hidden><button type="button" data-open="all">expand all</button><button type="button" data-open="none">collapse all</button><button type="button" data-open="problems">only problems</button></span></h2>
${renderCaseIndex(report, a)}
${cases}
</section>`;
}

// ---------------------------------------------------------------------------------------------
// Page

const CSS = `
:root{--good:#1a7f37;--good-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--info:#0969da;--info-bg:#ddf4ff;--error:#8250df;--error-bg:#fbefff;--muted:#57606a;--muted-bg:#eaeef2;--line:#d0d7de;--fg:#1f2328;--bg:#fff;--panel:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1320px;margin:0 auto;padding:20px 28px 60px}
header.top{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:10px;margin-bottom:16px}
header.top h1{font-size:22px;margin:0}
header.top .sub{color:var(--muted)}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line);display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:14px 0 6px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.h-aside{font-size:12px;font-weight:normal}
.dim{color:var(--muted)}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--panel);border:1px solid var(--line);padding:10px;overflow:auto;max-height:420px}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;border:1px solid transparent}
.tone-good.pill{color:var(--good);background:var(--good-bg);border-color:#aceebb}
.tone-bad.pill{color:var(--bad);background:var(--bad-bg);border-color:#ffcecb}
.tone-warn.pill{color:var(--warn);background:var(--warn-bg);border-color:#f5e0a0}
.tone-info.pill{color:var(--info);background:var(--info-bg);border-color:#b6e3ff}
.tone-error.pill{color:var(--error);background:var(--error-bg);border-color:#e8d2ff}
.tone-muted.pill{color:var(--muted);background:var(--muted-bg);border-color:#d8dee4}
.verdict{border-radius:10px;padding:16px 20px;border:2px solid;display:grid;grid-template-columns:1fr auto;gap:10px 24px;align-items:center}
.verdict.tone-good{border-color:var(--good);background:var(--good-bg)}
.verdict.tone-warn{border-color:#d4a72c;background:var(--warn-bg)}
.verdict.tone-bad{border-color:var(--bad);background:var(--bad-bg)}
.verdict-label{font-size:30px;font-weight:800;text-transform:uppercase;letter-spacing:.02em}
.verdict.tone-good .verdict-label{color:var(--good)}.verdict.tone-warn .verdict-label{color:var(--warn)}.verdict.tone-bad .verdict-label{color:var(--bad)}
.verdict-line{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin-top:4px;word-break:break-word}
.verdict-stats{display:flex;gap:10px}
.stat{background:rgba(255,255,255,.75);border:1px solid var(--line);border-radius:8px;padding:6px 14px;text-align:center;min-width:92px}
.stat-n{display:block;font-size:20px;font-weight:700}.stat-l{display:block;font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.outcome-bar{grid-column:1/-1;width:100%;height:14px;border-radius:4px;display:block}
.counts{grid-column:1/-1;display:flex;gap:6px;flex-wrap:wrap}
.verdict-lists{grid-column:1/-1;margin:0;padding-left:18px}
.partial{grid-column:1/-1;margin:0;font-weight:600;color:var(--bad)}
.seg.tone-good{fill:#2da44e}.seg.tone-bad{fill:#cf222e}.seg.tone-warn{fill:#d4a72c}.seg.tone-info{fill:#218bff}.seg.tone-error{fill:#8250df}.seg.tone-muted{fill:#afb8c1}
#environment{margin-top:14px}
.areas{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;align-items:start}
.area{display:contents}
.area-name{font:600 12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--muted);padding-top:3px;text-align:right}
.tiles{display:flex;flex-wrap:wrap;gap:4px}
a.tile{display:inline-block;padding:1px 7px;border-radius:4px;font:11px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;text-decoration:none;border:1px solid}
a.tile.level-MUST{border-width:2px;padding:0 6px;font-weight:600}
a.tile.tone-good{background:var(--good-bg);color:var(--good);border-color:#4ac26b}
a.tile.tone-bad{background:#cf222e;color:#fff;border-color:#a40e26}
a.tile.tone-warn{background:var(--warn-bg);color:var(--warn);border-color:#d4a72c}
a.tile.tone-info{background:var(--info-bg);color:var(--info);border-color:#54aeff}
a.tile.tone-muted{background:var(--muted-bg);color:var(--muted);border-color:#d0d7de}
a.tile.tone-error{background:var(--error-bg);color:var(--error);border-color:#c297ff}
.env{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:3px 14px;margin:0;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.env dt{font-weight:600;color:var(--muted)}.env dd{margin:0}
.manifest{margin-top:6px}
table.grid{border-collapse:collapse;width:100%;font-size:13px}
table.grid th{text-align:left;background:var(--panel);font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:3px 8px;vertical-align:top}
table.grid tr:target td{background:#fff8c5}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
#requirements td.req-cases{width:34%}
#requirements td.req-id{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
#requirements tr.level-MUST td.level{font-weight:700}
#requirements tr.status-fail td{background:#fff5f5}
#requirements tr.status-not-tested td,#requirements tr.status-non-strict td{background:#fffdf0}
#requirements tr.status-not-applicable td{color:var(--muted)}
.req-cases{font-size:12px}.failed-case a{color:var(--bad);font-weight:600}
.latency-table tr.missed td.p99{color:var(--bad);font-weight:700}
.sample-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px;margin-top:12px}
.sample-grid svg.chart{width:100%}
figure.histogram.wide{margin-top:12px}
figure.histogram.wide svg.chart{width:100%}
.chart .band{fill:#f6f8fa}
.chart .group-label{font:600 11px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.chart .row-label{fill:var(--muted);font-size:9px}
.budget line.leader{stroke-width:1;stroke-dasharray:1 2;opacity:.6}
figure{margin:0}
figure.histogram{border:1px solid var(--line);border-radius:8px;padding:6px 10px;background:#fff}
figure figcaption{font-size:12px;color:var(--muted);margin-bottom:4px}
svg.chart{max-width:100%;height:auto;font:10px system-ui,sans-serif;display:block}
svg text{fill:var(--fg)}
.chart .grid,.tl .grid{stroke:#e6e9ee;stroke-width:1}
.chart .grid.minor{stroke:#f1f3f5}
.chart .axis{stroke:#8c959f}
.chart .tick,.tl .tick,.tl .axis-label,.chart .axis-label,.chart .caption{fill:var(--muted)}
.chart .bar{fill:#8fb8e8}.chart .bar.graded{fill:#1f6feb}.chart .bar.over{fill:#cf222e}.chart .bar.over-soft{fill:#f0b4b0}
.chart .value.inside{fill:#fff}.chart .bar.over-soft+.value.inside,.chart .bar:not(.graded):not(.over)+.value.inside{fill:#0b2a55}
.chart .value{font-weight:600}
.chart .bin{fill:#54aeff;stroke:#0969da;stroke-width:.5}
.budget line{stroke-width:2;stroke-dasharray:5 3}
.budget.met line{stroke:#1a7f37}.budget.missed line{stroke:#cf222e}
.budget.met text{fill:#1a7f37}.budget.missed text{fill:#cf222e}
.budget text{font-weight:600}
details.case{border:1px solid var(--line);border-left:5px solid var(--muted);border-radius:6px;margin:8px 0;background:#fff}
details.case.tone-good{border-left-color:#2da44e}details.case.tone-bad{border-left-color:#cf222e}details.case.tone-warn{border-left-color:#d4a72c}details.case.tone-info{border-left-color:#218bff}details.case.tone-error{border-left-color:#8250df}details.case.tone-muted{border-left-color:#afb8c1}
details.case>summary{cursor:pointer;padding:6px 10px;display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
details.case[open]>summary{border-bottom:1px solid var(--line);background:var(--panel)}
.case-id{font:600 13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.case-dur{color:var(--muted);font-size:12px;margin-left:auto}
.case-reason{flex-basis:100%;color:var(--bad);font-size:12px;padding-left:4px}
details.case.tone-muted .case-reason{color:var(--muted)}details.case.tone-warn .case-reason{color:var(--warn)}
.case-body{padding:4px 14px 12px}
.case-meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}
.case-meta dt{color:var(--muted);font-weight:600}.case-meta dd{margin:0}
.reason{background:var(--warn-bg);border:1px solid #f5e0a0;border-radius:6px;padding:4px 10px}
table.verdicts td.expected{color:var(--muted);width:32%}
table.verdicts tr.v-fail td.actual{color:var(--bad);font-weight:600}
table.verdicts tr.v-unknown td.actual{color:var(--error);font-weight:600}
.metrics code{background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:0 4px;margin-right:2px;font-size:11px;color:var(--fg);font-weight:normal}
.timeline{margin-top:4px}
svg.tl{width:100%;height:auto;display:block;font:10px system-ui,sans-serif;border:1px solid var(--line);border-radius:6px;background:#fff}
.tl .lane-bg.even{fill:#fbfcfd}.tl .lane-bg.odd{fill:#f3f5f8}
.tl .lane-label{fill:var(--muted);font-weight:600;font-size:11px}
.tl .lbl{font-size:10px;fill:#24292f;paint-order:stroke;stroke:rgba(255,255,255,.85);stroke-width:3px;stroke-linejoin:round}
.tl .zoom-range{fill:#fff8c5;opacity:.55;stroke:#d4a72c;stroke-dasharray:2 2}
svg.tl.zoom{border-color:#d4a72c}
.zoom-caption{margin-top:8px}
.tl .gap rect{fill:#fff;stroke:none;opacity:.9}.tl .gap path{stroke:#8c959f;stroke-width:1.5;fill:none}.tl .gap text{fill:var(--muted);font-size:9px}
.tl .lbl.in-bar{fill:#1f2328;pointer-events:none;stroke:none}
.tl .guide-signal{stroke:#cf222e;stroke-width:1.2;stroke-dasharray:3 2;opacity:.75}
.tl .guide-teardown{stroke:#8c959f;stroke-width:1;stroke-dasharray:2 3}
.tl .m-signal{fill:#cf222e;stroke:#cf222e}
.tl .m-teardown{fill:#8c959f}
.tl .m-good{fill:#2da44e}
.tl .m-bad{stroke:#cf222e;fill:#cf222e}
.tl .m-warn{stroke:#bf8700;fill:#bf8700}
.tl .m-muted{fill:#8c959f;stroke:#8c959f}
.tl .m-faint{stroke:#d0d7de}
.tl .m-stop{fill:#8250df}
.tl .m-reload{fill:#0969da}
.tl .m-note{fill:#bf8700}
.tl .m-sample{fill:#54aeff;stroke:#0969da;stroke-width:.5}
.tl .m-spawn{fill:#2da44e}
.tl .m-exit{fill:#24292f}.tl .m-exit-bad{fill:#cf222e}
.tl .cross{stroke-width:2;fill:none}
.tl .tickmark{stroke-width:1.5}
.tl .alive{fill:#d0d7de}.tl .alive.open{fill:#eaeef2}
.tl .req.ok{fill:#aceebb;stroke:#2da44e}.tl .req.failed{fill:#ffcecb;stroke:#cf222e}.tl .req.open{fill:#fff8c5;stroke:#d4a72c;stroke-dasharray:3 2}
.st-starting{fill:#ddf4ff;background:#ddf4ff}.st-started{fill:#aceebb;background:#aceebb}.st-reloading{fill:#b6e3ff;background:#b6e3ff}.st-stopping{fill:#ffcecb;background:#ffcecb}.st-exiting{fill:#d0d7de;background:#d0d7de}.st-other{fill:#eaeef2}
.tl .state{stroke:#fff;stroke-width:1}
.legend{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:11px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:5px}
.sw{display:inline-block;width:14px;height:10px;border-radius:2px;font-style:normal;font-size:10px;line-height:10px;text-align:center}
.sw-signal{width:2px;background:#cf222e;height:14px}
.sw-probe-signal{width:8px;height:8px;border-radius:50%;background:#cf222e}
.sw-stop{width:8px;height:8px;border-radius:50%;background:#8250df}
.sw-reload{width:8px;height:8px;border-radius:50%;background:#0969da}
.sw-alive{background:#d0d7de}
.sw-req-ok{background:#aceebb;border:1px solid #2da44e}.sw-req-failed{background:#ffcecb;border:1px solid #cf222e}.sw-req-open{background:#fff8c5;border:1px dashed #d4a72c}
.sw-bad{color:#cf222e;font-weight:700}
.sw-note{width:8px;height:8px;border-radius:50%;background:#54aeff}
details.events{margin-top:6px}
details.events summary{cursor:pointer;font-size:12px;color:var(--muted)}
.events-table{font-size:12px}
.events-table td code{word-break:break-all}
.controls{margin-left:auto;display:flex;gap:6px}
.controls button{font:12px system-ui,sans-serif;padding:2px 10px;border:1px solid var(--line);border-radius:6px;background:var(--panel);cursor:pointer}
footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{details.case{break-inside:avoid}.controls{display:none}}
`;

// Optional behaviour: expand/collapse buttons. The page is complete without it.
const SCRIPT = `(function(){var c=document.querySelector('.controls');if(!c)return;c.hidden=false;c.addEventListener('click',function(ev){var b=ev.target.closest('button');if(!b)return;var m=b.getAttribute('data-open');document.querySelectorAll('details.case').forEach(function(d){var ok=/^(pass|informational|not-applicable)$/.test(d.getAttribute('data-outcome'));d.open=m==='all'||(m==='problems'&&!ok);});});})();`;

const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/** The whole report as one self-contained HTML document (no network needed). */
export function renderHtml(report: Report): string {
  const a = anchors(report);
  const title = `sigcert — ${report.subject.name} — ${report.verdict.label}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sigcert ${esc(report.tool.version)}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header class="top"><h1>sigcert report: ${esc(report.subject.name)}</h1><span class="sub">Clean Signal Handling ${esc(report.specVersion)} · ${esc(report.startedAt)}</span></header>
${renderVerdict(report, a)}
${renderEnvironment(report)}
${renderOverview(report)}
${renderLatency(report, a)}
${renderRequirements(report, a)}
${renderCases(report, a)}
<footer>Generated by ${esc(report.tool.name)} ${esc(report.tool.version)} from report format ${esc(report.reportVersion)}. This page renders the JSON report; it does not re-judge anything.</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** Write the HTML report to `file` (parent folders are created). */
export async function writeHtmlReport(report: Report, file: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, renderHtml(report), 'utf8');
}
