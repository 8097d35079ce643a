/** The stylesheet of the HTML report (inlined in the page: the page loads nothing). */

export const CSS = `
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
