/**
 * The HTML report: structure, escaping and self-containment of renderHtml's string, then the page
 * as headless Chromium renders it (DOM after load, and a screenshot).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { latencySamples } from '../../harness/src/report/html/latency-charts.js';
import { escapeHtml } from '../../harness/src/report/html/markup.js';
import { timelineGaps } from '../../harness/src/report/html/time-scale.js';
import { zoomWindow } from '../../harness/src/report/html/timeline.js';
import { renderHtml, writeHtmlReport } from '../../harness/src/report/html.js';
import {
  buildReport,
  type CaseResult,
  OUTCOMES,
  type Report,
  type RequirementInfo,
  validateReport,
} from '../../harness/src/report/index.js';
import { chromiumTool, dumpDom, processesMentioning, screenshot } from '../browser/chromium.js';
import { findReferenceReport, HOSTILE, syntheticReport } from '../browser/synthetic-report.js';
import { needTool } from '../harness/system-tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sigcert-html-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every value of an attribute in the markup. */
function attrValues(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`\\s${name}="([^"]*)"`, 'g'))].map((m) => m[1]!);
}

/** The markup of the element with class `case` and the given id (a <details>). */
function caseBlock(html: string, id: string): string {
  const start = html.indexOf(`id="case-${id}"`);
  expect(start, `case ${id} in the page`).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</details>\n', html.indexOf('class="events"', start) + 1));
}

/** No resource is loaded from anywhere: no src/href/url() to another origin, no imports. */
function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/\s(src|srcset|href|xlink:href|action|poster|data)="(https?:)?\/\//i);
  expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
  expect(html).not.toMatch(/@import/i);
  expect(html).not.toMatch(/<link\b/i);
  expect(html).not.toMatch(/<(iframe|object|embed|img)\b/i);
  // one script only, ours, inline
  expect(html.match(/<script\b/gi)).toHaveLength(1);
  expect(html).toMatch(/<script>\(function\(\)\{/);
  // and the page forbids any other load
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;`);
}

const REGISTRY: RequirementInfo[] = [
  { id: 'T.MUST', level: 'MUST', title: 'Must' },
  { id: 'T.SHOULD', level: 'SHOULD', title: 'Should' },
];

function passing(id: string, requirement: string, status: 'pass' | 'fail' = 'pass'): CaseResult {
  return {
    id,
    title: `case ${id}`,
    requirements: [requirement],
    edgeCases: [],
    outcome: status === 'pass' ? 'pass' : 'non-strict',
    verdicts: [{ requirement, status, expected: 'e', actual: 'a' }],
    metrics: {},
    durationMs: 5,
    attempts: 1,
    timeline: [],
  };
}

function small(cases: CaseResult[], registry = REGISTRY): Report {
  return buildReport({
    toolVersion: '0.1.0',
    specVersion: '1.0.0',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 10,
    subject: { name: 'small', manifestFile: 'm.json', manifest: {} },
    options: {},
    cases,
    requirements: registry,
  });
}

describe('renderHtml: the synthetic report', () => {
  const report = syntheticReport();
  const html = renderHtml(report);

  it('the fixture is a valid report covering every outcome', () => {
    expect(validateReport(JSON.parse(JSON.stringify(report))).errors).toEqual([]);
    for (const o of OUTCOMES) expect(report.summary.counts[o], o).toBeGreaterThan(0);
  });

  it('is one HTML document with the stable hooks', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain('<section id="verdict" class="verdict tone-bad" data-verdict="not compliant">');
    expect(html).toContain('<table id="requirements" class="grid">');
    expect(html.match(/<details class="case /g)).toHaveLength(report.cases.length);
    for (const o of OUTCOMES) expect(html).toContain(`data-outcome="${o}"`);
    const ids = attrValues(html, 'id');
    expect(new Set(ids).size, 'ids are unique').toBe(ids.length);
  });

  it('shows the verdict with its counts, the environment and the subject', () => {
    expect(html).toMatch(/<div class="verdict-label">not compliant<\/div>/);
    expect(html).toContain('VERDICT: not compliant — 4 MUST failed: SIG.HUP.RELOAD, STOP.DEADLINE, RELOAD.IN_FLIGHT');
    expect(html).toContain('<span class="stat-n">5/11</span><span class="stat-l">MUST passed</span>');
    expect(html).toContain('v20.19.0');
    expect(html).toContain('2 × Synthetic CPU @ 2.0GHz');
    expect(html).toContain('sigcert 0.1.0');
    expect(html).toContain('Clean Signal Handling 1.0.0');
    expect(html).toContain('subjects/demo/manifest.json');
  });

  it('has one requirement row per requirement, coloured by status, linking to its cases', () => {
    for (const r of report.requirements) {
      expect(html).toContain(`<tr id="req-${r.id}" class="req status-${r.status} level-${r.level}">`);
    }
    expect(html.match(/<tr id="req-/g)).toHaveLength(report.requirements.length);
    expect(html).toContain('<span class="failed-case"><a href="#case-stop.deadline">stop.deadline</a></span>');
    // every in-page link has a target
    const ids = new Set(attrValues(html, 'id'));
    for (const href of attrValues(html, 'href')) {
      expect(href.startsWith('#'), href).toBe(true);
      expect(ids.has(href.slice(1)), href).toBe(true);
    }
  });

  it('shows each case with outcome, reason, requirements and evidence', () => {
    const fail = caseBlock(html, 'stop.deadline');
    expect(fail).toContain(' open>'); // problems are open by default
    expect(fail).toContain('<td class="expected">exit within gracePeriodMs (2000 ms) + 500 ms after SIGTERM</td>');
    expect(fail).toContain('<code>exitMs=2520</code>');
    const flaky = caseBlock(html, 'reload.in-flight');
    expect(flaky).toContain('<b>Reason:</b> attempt 1: the held request was reset (ECONNRESET)');
    expect(flaky).toContain('<dt>Attempts</dt><dd>2</dd>');
    const pass = caseBlock(html, 'stop.in-flight');
    expect(pass).not.toMatch(/^[^>]* open>/); // passes are collapsed (still in the page)
    expect(pass).toContain('<a href="#req-STOP.DRAIN.IN_FLIGHT">STOP.DRAIN.IN_FLIGHT</a>');
  });

  it('escapes every string from the report', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror=alert(1)>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&#39;single&#39;');
    expect(escapeHtml(HOSTILE)).not.toMatch(/[<>"']/);
    expect(escapeHtml('a\u001b[31mred\u001b[39m\u0000b')).toBe('aredb');
  });

  it('needs no network', () => {
    expectSelfContained(html);
    expect(html).not.toMatch(/https?:\/\//); // the synthetic data holds no URL, so neither does the page
  });

  it('draws a timeline per case with lanes, signals, requests, states and a legend', () => {
    const withTimeline = report.cases.filter((c) => c.timeline.length > 0);
    expect(html.match(/<figure class="timeline">/g)).toHaveLength(withTimeline.length);
    expect(html.match(/<svg class="tl" /g)).toHaveLength(withTimeline.length);
    const block = caseBlock(html, 'stop.in-flight');
    for (const lane of ['harness', 'process', 'state', 'probe', 'requests', 'client']) {
      expect(block).toContain(`text-anchor="end">${lane}</text>`);
    }
    expect(block).toMatch(/<line class="guide-signal" [^>]*><title>\+275 ms harness signal-sent/);
    expect(block.match(/<rect class="req ok" /g)).toHaveLength(3);
    expect(block).toContain('held-1: GET /hold?ms=1000 → 200, 1000 ms');
    expect(block).toContain('class="state st-stopping"');
    expect(block).toContain('>spawn pid 4242</text>');
    expect(block).toContain('>exit 0</text>');
    expect(block).toContain('<ul class="legend">');
    // failed requests, refused connects, kills and a second launch
    expect(caseBlock(html, 'stop.deadline')).toContain('<rect class="req failed" ');
    expect(caseBlock(html, 'stop.deadline')).toContain('>killed by SIGKILL</text>');
    const crash = caseBlock(html, 'durable.crash');
    expect(crash).toContain('>process #0</text>');
    expect(crash).toContain('>process #1</text>');
    // a 30 s wait is drawn as a break, not to scale
    expect(caseBlock(html, 'repeat.int-int')).toMatch(/<g class="gap">.*?>30 s<\/text><title>/);
  });

  it('magnifies the stop sequence when it is squeezed on the overview', () => {
    const c = report.cases.find((x) => x.id === 'stop.idle-keepalive')!;
    const w = zoomWindow(c)!;
    expect(w).not.toBeNull();
    expect(w.t0).toBeLessThan(255); // the SIGTERM
    expect(w.t1).toBeGreaterThan(269); // the exit
    const block = caseBlock(html, 'stop.idle-keepalive');
    expect(block).toContain('<rect class="zoom-range" ');
    expect(block.match(/<svg class="tl zoom" /g)).toHaveLength(1);
    const zoom = block.slice(block.indexOf('<svg class="tl zoom" '));
    expect(zoom).toContain('probe probe [launch 0] {&quot;ev&quot;:&quot;stop-accepting&quot;');
    expect(zoom).not.toContain('>requests</text>'); // lanes with nothing in the window are left out
    // a stop that already spans the overview is not magnified
    expect(zoomWindow(report.cases.find((x) => x.id === 'stop.in-flight')!)).toBeNull();
    expect(zoomWindow(report.cases.find((x) => x.id === 'proc.pid1')!)).toBeNull();
  });

  it('draws latency percentiles against each budget, and histograms of the samples', () => {
    expect(html).toContain('<section id="latency">');
    const scenarios = new Set((report.latency ?? []).map((l) => l.scenario));
    // one chart for every scenario, a group of bars each
    expect(html.match(/<svg class="chart percentiles" /g)).toHaveLength(1);
    expect(html.match(/<text class="group-label" /g)).toHaveLength(scenarios.size);
    expect(html).toMatch(/<g class="budget met"><line [^>]*\/><text [^>]*>✔ LATENCY\.IDLE p99 ≤ 50<\/text>/);
    expect(html).toMatch(/<g class="budget met"><line [^>]*\/><text [^>]*>✔ LATENCY\.IDLE_FAST p99 ≤ 5<\/text>/);
    // samples: in the latency section and in each latency case
    expect(html.match(/<svg class="chart samples" /g)).toHaveLength(scenarios.size * 2);
    expect(html).toMatch(/<g class="budget met"><line [^>]*\/><text [^>]*>≤ 5 ms<\/text>/);
    const idle = report.cases.find((c) => c.id === 'latency.idle')!;
    const samples = latencySamples(idle);
    expect(samples.length).toBeGreaterThan(10);
    expect(html).toContain(`${samples.length} of 100 samples (the others are outside the timeline excerpt)`);
    // bars sum to the sample count
    const block = html.slice(html.indexOf('<svg class="chart samples" '));
    const counts = [...block.slice(0, block.indexOf('</svg>')).matchAll(/ms: (\d+) samples?<\/title>/g)].map((m) =>
      Number(m[1]),
    );
    expect(counts.reduce((s, n) => s + n, 0)).toBe(samples.length);
  });
});

describe('renderHtml: other reports', () => {
  it('fully compliant and compliant verdicts get their own banner', () => {
    const full = renderHtml(small([passing('a', 'T.MUST'), passing('b', 'T.SHOULD')]));
    expect(full).toContain('data-verdict="fully compliant"');
    expect(full).toContain('class="verdict tone-good"');
    expect(full).toContain('VERDICT: fully compliant (1/1 MUST, 1/1 SHOULD)');
    expect(full).not.toContain('<section id="latency">');
    const ok = renderHtml(small([passing('a', 'T.MUST'), passing('b', 'T.SHOULD', 'fail')]));
    expect(ok).toContain('data-verdict="compliant"');
    expect(ok).toContain('class="verdict tone-warn"');
    expect(ok).toContain('<li><b>SHOULD not met:</b> <a href="#req-T.SHOULD">T.SHOULD</a></li>');
  });

  it('renders an empty and a partial report', () => {
    const r = small([], []);
    r.partial = true;
    const html = renderHtml(r);
    expect(html).toContain('No cases ran.');
    expect(html).toContain('No requirements in the report.');
    expect(html).toContain('Partial run: interrupted');
    expectSelfContained(html);
  });

  it('keeps ids safe and unique for odd case ids and repeats', () => {
    const odd = passing('we"ird <id> 1', 'T.MUST');
    const r = small([odd, { ...passing('rep', 'T.MUST'), repeat: 1 }, { ...passing('rep', 'T.MUST'), repeat: 2 }]);
    const html = renderHtml(r);
    expect(html).toContain('id="case-we_ird__id__1"');
    expect(html).toContain('id="case-rep.r1"');
    expect(html).toContain('id="case-rep.r2"');
    expect(html).toContain('we&quot;ird &lt;id&gt; 1');
  });

  it('escapes hostile timeline data and survives odd events', () => {
    const c = passing('t', 'T.MUST');
    c.timeline = [
      { ns: '1', t: 0, source: 'process', kind: 'spawn', data: { pid: 1 } },
      { ns: '2', t: 1, source: 'client', kind: 'http-sent', data: { conn: 1, label: HOSTILE, method: 'GET' } },
      { ns: '3', t: 2, source: 'probe', kind: 'probe', data: { ev: HOSTILE, state: HOSTILE } },
      { ns: '4', t: 3, source: 'probe', kind: 'probe', data: { ev: 'state', state: HOSTILE } },
      { ns: '5', t: Number.NaN, source: 'case', kind: HOSTILE, data: { circular: 'no' } },
      { ns: '6', t: 4, source: 'harness', kind: 'signal-sent', data: { sig: HOSTILE } },
    ];
    const html = renderHtml(small([c]));
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).toContain('<rect class="req open" '); // sent, never answered
    expectSelfContained(html);
  });

  it('compresses long quiet stretches of crowded timelines only', () => {
    const crowded = [0, 1, 2, 3, 4, 5, 30_000, 30_001, 30_002, 30_003];
    const gaps = timelineGaps(crowded, 0, 30_003, 1000);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.t0).toBeGreaterThan(5);
    expect(gaps[0]!.t1).toBeLessThan(30_000);
    expect(timelineGaps([0, 38, 39, 40, 52, 60], 0, 60, 1000)).toEqual([]); // sparse enough to draw to scale
    expect(timelineGaps([0, 10, 20, 30], 0, 30, 1000)).toEqual([]);
  });

  it('writeHtmlReport writes the file, creating folders', async () => {
    const file = path.join(tmp, 'deep', 'er', 'report.html');
    await writeHtmlReport(syntheticReport(), file);
    expect(readFileSync(file, 'utf8')).toBe(renderHtml(syntheticReport()));
  });

  const real = findReferenceReport(root);
  it.runIf(real !== null)(`renders a real run's report (${real ? path.relative(root, real) : 'none found'})`, () => {
    const report = JSON.parse(readFileSync(real!, 'utf8')) as Report;
    const html = renderHtml(report);
    expectSelfContained(html);
    expect(html.match(/<details class="case /g)).toHaveLength(report.cases.length);
    expect(html.match(/<tr id="req-/g)).toHaveLength(report.requirements.length);
    expect(html).toContain(`data-verdict="${report.verdict.label}"`);
    const withTimeline = report.cases.filter((c) => c.timeline.length > 0).length;
    expect(html.match(/<svg class="tl" /g) ?? []).toHaveLength(withTimeline);
  });
});

// ---------------------------------------------------------------------------------------------
// In a browser

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('the HTML report in headless Chromium', () => {
  it.skipIf(process.platform !== 'linux')(
    'renders the verdict, requirement rows, timelines and histograms (linux; CI installs chromium)',
    async (ctx) => {
      needTool(ctx, chromiumTool());
      const report = syntheticReport();
      const file = path.join(tmp, 'report.html');
      writeFileSync(file, renderHtml(report));

      const dom = await dumpDom(file, 45_000);
      expect(dom.timedOut, `chromium --dump-dom timed out; stderr:\n${dom.stderr.slice(-2000)}`).toBe(false);
      expect(processesMentioning(dom.profile), 'no chromium left running').toEqual([]);
      const html = dom.stdout;
      const has = (re: RegExp, what: string) => expect(re.test(html), `${what} in the rendered DOM`).toBe(true);
      expect(html, `empty DOM; stderr:\n${dom.stderr.slice(-2000)}`).toContain('id="verdict"');
      has(/<div class="verdict-label">not compliant<\/div>/, 'the verdict');
      expect(html.match(/<tr id="req-[^"]+" class="req /g)).toHaveLength(report.requirements.length);
      expect(html.match(/<details class="case /g)).toHaveLength(report.cases.length);
      has(
        /<figure class="timeline">[\s\S]*?<svg class="tl" [^>]*>[\s\S]*?<rect class="req ok"/,
        'a timeline svg with requests',
      );
      has(
        /<figure class="histogram wide">[\s\S]*?<svg class="chart percentiles" [^>]*>[\s\S]*?<rect class="bar/,
        'the percentile chart',
      );
      has(
        /<figure class="histogram">[\s\S]*?<svg class="chart samples" [^>]*>[\s\S]*?<rect class="bin"/,
        'a sample histogram',
      );
      // the markup survived the parser: the hostile text is text
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<img');
      // the optional script ran (and threw nothing before un-hiding the buttons)
      expect(html).toContain('<span class="js-only controls"><button');

      const png = path.join(tmp, 'report.png');
      const shot = await screenshot(file, png, { width: 1400, height: 2000 }, 45_000);
      expect(shot.timedOut, `chromium --screenshot timed out; stderr:\n${shot.stderr.slice(-2000)}`).toBe(false);
      expect(processesMentioning(shot.profile), 'no chromium left running').toEqual([]);
      expect(existsSync(png), `no screenshot; stderr:\n${shot.stderr.slice(-2000)}`).toBe(true);
      expect(pngSize(png)).toEqual({ width: 1400, height: 2000 });
      expect(readFileSync(png).length).toBeGreaterThan(50_000); // a rendered page, not a blank one
    },
    120_000,
  );
});
