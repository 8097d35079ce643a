/**
 * A case's timeline as an SVG: one lane per source (harness, process, state, probe, requests, client,
 * case), signals as guide lines across every lane, long quiet stretches compressed, and a magnified
 * panel of the stretch from the first signal to the exit when the overview squeezes it.
 */
import type { HistoryEvent } from '../../types.js';
import type { CaseResult } from '../model.js';
import { clip } from '../text.js';
import { escapeHtml as esc, fmtMs, fmtTick, json, niceStep, r2, textWidth, titleEl } from './markup.js';
import { fmtGap, GAP_PX, type Gap, timelineGaps, timeScale } from './time-scale.js';

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
