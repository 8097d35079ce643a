/**
 * The cases section of the HTML report: an index, then each case with its outcome, reason,
 * requirements, evidence (expected vs actual per verdict), latency histogram and timeline.
 */
import path from 'node:path';
import type { Level } from '../../types.js';
import { caseName, countsLine, OUTCOME_LABELS, shortReason, VERDICT_STATUS_TONE } from '../labels.js';
import { type CaseResult, MAX_TIMELINE_EVENTS, type Report } from '../model.js';
import { clip } from '../text.js';
import { type Anchors, reqLink } from './anchors.js';
import { caseBudgets, latencySamples, sampleHistogram, samplesCaption } from './latency-charts.js';
import { escapeHtml as esc, fmtDuration, fmtMs, fmtNum, json, outcomePill, pill } from './markup.js';
import { timelineSvg, zoomWindow } from './timeline.js';

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
  return `<details class="case outcome-${esc(c.outcome)} tone-${OUTCOME_LABELS[c.outcome].tone}" id="${esc(id)}" data-outcome="${esc(c.outcome)}"${open ? ' open' : ''}>
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

export function renderCases(report: Report, a: Anchors): string {
  const levels = new Map(report.requirements.map((r) => [r.id, r.level] as const));
  const cases = report.cases.map((c, i) => renderCase(report, c, a.caseAt[i]!, a, levels)).join('\n');
  return `<section id="cases"><h2>Cases <span class="h-aside">${esc(countsLine(report))}</span>
<span class="js-only controls" hidden><button type="button" data-open="all">expand all</button><button type="button" data-open="none">collapse all</button><button type="button" data-open="problems">only problems</button></span></h2>
${renderCaseIndex(report, a)}
${cases}
</section>`;
}
