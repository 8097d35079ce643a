/**
 * The sections of the HTML report above the cases: the verdict banner, the environment, the
 * requirements (tiles by area and the table) and the latency section.
 */
import { complianceCounts, countsLine, OUTCOME_LABELS, STATUS_TONE, type Tone, verdictLine } from '../labels.js';
import { type LatencyTable, OUTCOMES, type Report, type RequirementRollup, type RequirementStatus } from '../model.js';
import { clip } from '../text.js';
import { type Anchors, anchorId, caseLink, reqLink } from './anchors.js';
import {
  budgetsFor,
  latencySamples,
  percentileChart,
  type Scenario,
  sampleHistogram,
  samplesCaption,
} from './latency-charts.js';
import { escapeHtml as esc, fmtDuration, fmtMs, fmtNum, json, pill, r2, titleEl } from './markup.js';

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
      `<rect class="seg tone-${OUTCOME_LABELS[o].tone}" x="${r2(x)}" y="0" width="${r2(w)}" height="${H}">${titleEl(`${n} ${o}`)}</rect>`,
    );
    x += w;
  }
  return `<svg class="outcome-bar" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(countsLine(report))}">${segs.join('')}</svg>`;
}

function idLinks(a: Anchors, ids: readonly string[]): string {
  return ids.map((id) => reqLink(a, id)).join(', ');
}

export function renderVerdict(report: Report, a: Anchors): string {
  const v = report.verdict;
  const tone: Tone = v.fullyCompliant ? 'good' : v.compliant ? 'warn' : 'bad';
  const { must, should } = complianceCounts(report);
  const counts = OUTCOMES.filter((o) => (report.summary.counts[o] ?? 0) > 0)
    .map((o) => `${pill(`${report.summary.counts[o]} ${o}`, OUTCOME_LABELS[o].tone)}`)
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

export function renderEnvironment(report: Report): string {
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
export function renderOverview(report: Report): string {
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

export function renderRequirements(report: Report, a: Anchors): string {
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

/** The path x guarantee table: every stop path of the declared map against every guarantee. */
export function renderPaths(report: Report, a: Anchors): string {
  const rows = report.paths ?? [];
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!.guarantees);
  const tone = (v: string): Tone => (v === 'pass' ? 'good' : v === 'fail' ? 'bad' : 'muted');
  const body = rows.map(
    (r) =>
      `<tr><td>${caseLink(a, r.case)}<div class="dim">${esc(r.path)}</div></td>${columns
        .map((c) => `<td>${pill(r.guarantees[c] ?? 'n/a', tone(r.guarantees[c] ?? 'n/a'))}</td>`)
        .join('')}</tr>`,
  );
  return `<section id="paths-section"><h2>Stop paths x guarantees <span class="h-aside dim">n/a: the guarantee does not apply to the path, or cannot be observed for this subject</span></h2>
<table id="paths" class="grid">
<thead><tr><th>Path</th>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>
<tbody>
${body.join('\n')}
</tbody></table></section>`;
}

export function renderLatency(report: Report, a: Anchors): string {
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
