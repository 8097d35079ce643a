/**
 * Markup primitives of the HTML report: escaping, number formats, SVG coordinates and small
 * elements (a tooltip title, a coloured pill).
 */
import type { Outcome } from '../../types.js';
import { OUTCOME_LABELS, outcomeLabel, outcomeSymbol, type Tone } from '../labels.js';
import { stripInvalidXmlChars } from '../text.js';

/** Escape text for HTML element content and (double- or single-quoted) attribute values. */
export function escapeHtml(value: unknown): string {
  return stripInvalidXmlChars(String(value))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const a = Math.abs(ms);
  if (a >= 100) return ms.toFixed(0);
  if (a >= 10) return ms.toFixed(1);
  if (a >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${fmtMs(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** An axis tick: as short as the value allows (0.2, 2.5, 300). */
export function fmtTick(n: number): string {
  return String(Number(n.toPrecision(6)));
}

export function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : fmtMs(n);
}

/** Coordinates in SVG: at most 2 decimals. */
export function r2(n: number): string {
  return String(Math.round(n * 100) / 100);
}

export function json(v: unknown, space?: number): string {
  try {
    return JSON.stringify(v, null, space) ?? String(v);
  } catch {
    return '[unserialisable]';
  }
}

/** Rough width of `s` in px at 10px sans-serif (for label placement; no layout engine here). */
export function textWidth(s: string, fontPx = 10): number {
  return s.length * fontPx * 0.58;
}

/** A "nice" step (1, 2, 5 x 10^k) near `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

export function titleEl(s: string): string {
  return `<title>${escapeHtml(s)}</title>`;
}

export function pill(text: string, tone: Tone, extraClass = ''): string {
  return `<span class="pill tone-${tone}${extraClass ? ` ${extraClass}` : ''}">${escapeHtml(text)}</span>`;
}

export function outcomePill(o: Outcome): string {
  return pill(`${outcomeSymbol(o)} ${outcomeLabel(o)}`, OUTCOME_LABELS[o].tone, `outcome outcome-${o}`);
}
