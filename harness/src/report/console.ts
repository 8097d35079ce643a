/**
 * Human-readable rendering of a report: per-case lines, the requirement table, the latency table,
 * counts and the final VERDICT line. ANSI colours only when asked (the CLI decides from the TTY and
 * NO_COLOR). Renders only: every judgement comes from the report.
 */

import { expectedHere } from '../grade/verdict.js';
import type { Outcome } from '../types.js';
import { caseName, countsLine, OUTCOME_LABELS, STATUS_TONE, shortReason, type Tone, verdictLine } from './labels.js';
import type { CaseResult, Report, RequirementRollup } from './model.js';
import { clip } from './text.js';

export interface ConsoleOptions {
  color: boolean;
}

type Paint = (s: string) => string;
interface Palette {
  green: Paint;
  red: Paint;
  yellow: Paint;
  cyan: Paint;
  dim: Paint;
  bold: Paint;
}

function palette(color: boolean): Palette {
  const sgr =
    (open: number, close: number): Paint =>
    (s) =>
      color && s !== '' ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return {
    green: sgr(32, 39),
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    dim: sgr(2, 22),
    bold: sgr(1, 22),
  };
}

/** The colour of each tone. */
const TONE_COLOUR: Record<Tone, keyof Palette> = {
  good: 'green',
  bad: 'red',
  warn: 'yellow',
  info: 'cyan',
  muted: 'dim',
  error: 'red',
};
const LABEL_WIDTH = Math.max(...Object.values(OUTCOME_LABELS).map((s) => s.label.length));

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

function outcomeCell(outcome: Outcome, p: Palette): string {
  const s = OUTCOME_LABELS[outcome];
  return p[TONE_COLOUR[s.tone]](`${s.symbol} ${s.label.padEnd(LABEL_WIDTH)}`);
}

/** A single line for live progress in plain (non-TTY) mode: `[ 3/54] ✔ PASS  stop.in-flight (1.20s)`. */
export function progressLine(
  index: number,
  total: number,
  c: CaseResult,
  opts: ConsoleOptions = { color: false },
): string {
  const p = palette(opts.color);
  const w = String(total).length;
  const reason = shortReason(c);
  const tail = reason ? ` — ${clip(reason, 160)}` : '';
  return `[${String(index).padStart(w)}/${total}] ${outcomeCell(c.outcome, p)} ${caseName(c)} ${p.dim(`(${secs(c.durationMs)})`)}${tail}`;
}

function caseLines(c: CaseResult, p: Palette, idWidth: number): string[] {
  const head = `  ${outcomeCell(c.outcome, p)} ${caseName(c).padEnd(idWidth)}  ${c.title} ${p.dim(`(${secs(c.durationMs)})`)}`;
  const lines = [head];
  const indent = ' '.repeat(2 + 2 + LABEL_WIDTH + 1); // under the case id
  if (c.outcome === 'fail' || c.outcome === 'non-strict' || c.outcome === 'flaky') {
    if (c.outcome === 'flaky') lines.push(`${indent}${p.yellow(clip(shortReason(c), 200))}`);
    const failing = c.verdicts.filter((v) => v.status === 'fail');
    for (const v of failing.slice(0, 3)) {
      lines.push(
        `${indent}${p.bold(v.requirement)}: expected ${clip(expectedHere(v.expected), 90)}; actual ${clip(v.actual, 90)}`,
      );
    }
    if (failing.length > 3) lines.push(`${indent}${p.dim(`(+${failing.length - 3} more failing verdicts)`)}`);
  } else if (c.outcome !== 'pass' && c.outcome !== 'informational') {
    const reason = c.reason ?? '';
    if (reason) lines.push(`${indent}${p.dim(clip(reason, 200))}`);
    for (const v of c.verdicts.filter((x) => x.status === 'fail' || x.status === 'unknown').slice(0, 3)) {
      lines.push(`${indent}${p.bold(v.requirement)} [${v.status}]: ${clip(v.actual, 160)}`);
    }
  } else if (c.outcome === 'informational') {
    for (const v of c.verdicts.slice(0, 3)) lines.push(`${indent}${p.dim(`${v.requirement}: ${clip(v.actual, 160)}`)}`);
  }
  if (c.outcome !== 'pass' && c.runDir) lines.push(`${indent}${p.dim(`logs: ${c.runDir}`)}`);
  return lines;
}

/** Render rows as aligned columns; `paint(row, col, padded)` may colour a padded cell. */
function table(
  header: string[],
  rows: string[][],
  p: Palette,
  paint?: (row: number, col: number, s: string) => string,
) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], row: number) =>
    `  ${cells
      .map((cell, i) => {
        const last = i === cells.length - 1;
        const padded = last ? cell : cell.padEnd(widths[i]!);
        return row >= 0 && paint ? paint(row, i, padded) : padded;
      })
      .join('  ')}`.trimEnd();
  return [p.dim(line(header, -1)), ...rows.map((r, i) => line(r, i))];
}

function requirementRows(reqs: readonly RequirementRollup[], p: Palette): string[] {
  const rows = reqs.map((r) => [r.id, r.level, r.status, clip(r.cases.join(', ') || '—', 70)]);
  return table(['ID', 'LEVEL', 'STATUS', 'CASES'], rows, p, (row, col, s) => {
    const r = reqs[row]!;
    if (col === 2) return p[TONE_COLOUR[STATUS_TONE[r.status]]](s);
    if (col === 1 && r.level === 'MUST') return p.bold(s);
    return s;
  });
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The whole summary as text (ends with the VERDICT line and a newline). */
export function renderConsole(report: Report, opts: ConsoleOptions): string {
  const p = palette(opts.color);
  const out: string[] = [];
  const env = report.environment;
  out.push(
    p.bold(`sigcert ${report.tool.version} — ${report.subject.name}`) +
      p.dim(` (${report.subject.manifestFile}), spec ${report.specVersion}, report ${report.reportVersion}`),
    p.dim(
      `${env.platform} ${env.release} ${env.arch}, node ${env.node}, ${env.cpus} CPUs${env.ci ? ', CI' : ''}${
        // `sigcert run --platform win32` on another OS: the platform graded is not the machine's
        typeof report.options.platform === 'string' && report.options.platform !== env.platform
          ? `; graded as ${report.options.platform} (emulated: no POSIX signal sent)`
          : ''
      }`,
    ),
    '',
  );

  out.push(p.bold('Cases'));
  if (report.cases.length === 0) out.push(p.dim('  (no cases ran)'));
  const idWidth = Math.min(40, Math.max(0, ...report.cases.map((c) => caseName(c).length)));
  for (const c of report.cases) out.push(...caseLines(c, p, idWidth));
  out.push('');

  out.push(p.bold('Requirements'));
  out.push(...requirementRows(report.requirements, p));
  out.push('');

  if (report.paths && report.paths.length > 0) {
    out.push(p.bold('Stop paths x guarantees'));
    const columns = Object.keys(report.paths[0]!.guarantees);
    const rows = report.paths.map((r) => [r.path, ...columns.map((c) => r.guarantees[c] ?? 'n/a')]);
    out.push(
      ...table(['PATH', ...columns.map((c) => c.toUpperCase())], rows, p, (_row, col, cell) =>
        col === 0 ? cell : cell.trim() === 'fail' ? p.red(cell) : cell.trim() === 'pass' ? p.green(cell) : p.dim(cell),
      ),
    );
    out.push('');
  }

  if (report.latency && report.latency.length > 0) {
    out.push(p.bold('Latency (ms)'));
    const rows = report.latency.map((l) => [
      l.scenario,
      l.requirement,
      String(l.n),
      num(l.p50),
      num(l.p90),
      num(l.p99),
      num(l.max),
      num(l.budgetMs),
    ]);
    out.push(...table(['SCENARIO', 'REQUIREMENT', 'N', 'P50', 'P90', 'P99', 'MAX', 'BUDGET'], rows, p));
    out.push('');
  }

  out.push(`${countsLine(report)}, ${secs(report.durationMs)}`);
  const line = verdictLine(report);
  const tone = report.verdict.fullyCompliant ? p.green : report.verdict.compliant ? p.yellow : p.red;
  out.push(p.bold(tone(line)));
  return `${out.join('\n')}\n`;
}
