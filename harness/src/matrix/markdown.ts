/** The conformance matrix as Markdown (matrix.md): verdicts, requirements, latency, signal maps, findings. */
import type { MatrixCell, MatrixResult, MatrixSubject, SubjectMetrics } from './model.js';

const UNEXPLAINED = "_unexplained: no note in the subject folder's matrix.json matches this failure._";

const CELL_TEXT: Record<MatrixCell, string> = {
  pass: 'pass',
  fail: '**FAIL**',
  'non-strict': 'non-strict',
  'not-tested': 'not tested',
  'not-observable': 'not observable',
  'not-applicable': 'n/a',
  informational: 'info',
  'harness-misjudged': 'harness bug †',
  'not-installed': 'not installed',
  error: 'error',
};

/**
 * A `<name>-notify` column is the server of column `<name>` made ready through systemd's notify
 * protocol: the requirements it judged that the plain column could not.
 */
function notifyGains(r: MatrixResult, ss: readonly MatrixSubject[]): string[] {
  const judged = (c: MatrixCell | undefined) => c === 'pass' || c === 'fail' || c === 'non-strict';
  const L: string[] = [];
  for (const s of ss.filter((x) => x.name.endsWith('-notify'))) {
    const base = ss.find((x) => x.name === s.name.slice(0, -'-notify'.length));
    if (!base) continue;
    const gained = r.requirements.filter((row) => judged(row.cells[s.name]) && !judged(row.cells[base.name]));
    L.push(`## What sd_notify makes testable: ${base.name} → ${s.name}`, '');
    L.push(
      `The same server, ready when it says READY=1 on the NOTIFY_SOCKET the harness hands over; its RELOADING=1, READY=1 and STOPPING=1 are read like probe events. Requirements judged in the ${s.name} column and not in the ${base.name} column:`,
      '',
    );
    if (gained.length === 0) L.push('none in this run', '');
    else {
      L.push(`| requirement | level | ${base.name} | ${s.name} |`, '|---|---|---|---|');
      for (const row of gained)
        L.push(
          `| ${row.id} | ${row.level} | ${CELL_TEXT[row.cells[base.name] ?? 'not-tested']} | ${CELL_TEXT[row.cells[s.name] ?? 'not-tested']} |`,
        );
      L.push('');
    }
  }
  return L;
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function num(v: number | undefined): string {
  if (v === undefined) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function pcts(v: { p50: number; p99: number; n: number } | undefined): string {
  return v ? `${num(v.p50)} / ${num(v.p99)} (n=${v.n})` : '—';
}

function columnHead(s: MatrixSubject): string {
  return s.name;
}

export function renderMatrixMarkdown(r: MatrixResult): string {
  const ss = r.subjects;
  const head = `| | ${ss.map(columnHead).join(' | ')} |`;
  const sep = `|---|${ss.map(() => '---').join('|')}|`;
  const line = (label: string, cells: string[]) => `| ${label} | ${cells.map(esc).join(' | ')} |`;
  const L: string[] = [];
  L.push('# sigcert conformance matrix', '');
  L.push(
    `Clean Signal Handling ${r.specVersion}, sigcert ${r.toolVersion}, ${r.startedAt}, ${r.environment.os} ${r.environment.arch}, ` +
      `${r.environment.cpus} CPU, Node ${r.environment.node}; ${Math.round(r.durationMs / 1000)} s at concurrency ${r.options.concurrency}` +
      `${r.options.timeoutScale !== 1 ? `, timeout scale ${r.options.timeoutScale}` : ''}${r.options.grep ? `, cases matching /${r.options.grep}/` : ''}.`,
    '',
    'Each server is certified against its own declared signal map (spec 4.2); requirements named after a signal are',
    'not applicable where the map departs. Black-box servers (no probe) cannot show persistence, handler latency or',
    'readiness, so those requirements stay "not tested" for them. Cells marked † are failures the harness reported',
    'that are the harness\'s own mistake (see "Harness misjudgments"), not the server\'s.',
    '',
  );

  L.push('## Verdicts', '', head, sep);
  L.push(
    line(
      'version',
      ss.map((s) => s.version ?? '—'),
    ),
  );
  L.push(
    line(
      'verdict',
      ss.map((s) =>
        s.status === 'certified'
          ? (s.verdict ?? '—')
          : s.status === 'not-installed'
            ? 'not installed'
            : s.status === 'unsupported-platform'
              ? 'unsupported platform'
              : `error: ${s.reason ?? ''}`,
      ),
    ),
  );
  L.push(
    line(
      'MUST failed',
      ss.map((s) => (s.mustFailures ? String(s.mustFailures.length) : '—')),
    ),
  );
  L.push(
    line(
      'of which harness misjudgments †',
      ss.map((s) =>
        s.mustFailures
          ? String(r.findings.filter((f) => f.subject === s.name && f.level === 'MUST' && f.kind === 'harness').length)
          : '—',
      ),
    ),
  );
  L.push(
    line(
      'MUST not tested',
      ss.map((s) => (s.untestedMust ? String(s.untestedMust.length) : '—')),
    ),
  );
  L.push(
    line(
      'SHOULD not met',
      ss.map((s) => (s.shouldFailures ? String(s.shouldFailures.length) : '—')),
    ),
  );
  L.push(
    line(
      'cases',
      ss.map((s) =>
        s.counts
          ? Object.entries(s.counts)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')
          : '—',
      ),
    ),
  );
  L.push(
    line(
      'harness errors',
      ss.map((s) => (s.harnessErrors ? String(s.harnessErrors.length + (s.leaks?.length ?? 0)) : '—')),
    ),
  );
  L.push('');

  L.push('## Requirements', '', `| requirement | level | ${ss.map(columnHead).join(' | ')} |`);
  L.push(`|---|---|${ss.map(() => '---').join('|')}|`);
  for (const row of r.requirements) {
    L.push(`| ${row.id} | ${row.level} | ${ss.map((s) => CELL_TEXT[row.cells[s.name] ?? 'not-tested']).join(' | ')} |`);
  }
  L.push('');
  L.push(...notifyGains(r, ss));

  L.push('## Latency (milliseconds)', '', head, sep);
  const ms = (f: (m: SubjectMetrics) => number | undefined) =>
    ss.map((s) => (s.status === 'certified' ? num(f(s.metrics)) : '—'));
  L.push(
    line(
      'stop signal → first refused connect (`stop.new-connections-refused`)',
      ms((m) => m.timeToRefuseMs),
    ),
  );
  L.push(
    line(
      'stop signal → exit, idle (`stop.idle`)',
      ms((m) => m.idleStopExitMs),
    ),
  );
  L.push(
    line(
      'fast-stop signal → exit, request in flight (`signals.fast-stop`)',
      ms((m) => m.fastStopExitMs),
    ),
  );
  L.push(
    line(
      'second SIGINT → exit (`repeat.int-int`)',
      ms((m) => m.secondIntExitMs),
    ),
  );
  L.push(
    line(
      'stop signal → exit at the deadline (`stop.deadline`)',
      ms((m) => m.deadlineExitMs),
    ),
  );
  L.push(
    line(
      'handler latency idle, p50 / p99 (`latency.idle`, probe)',
      ss.map((s) => (s.status === 'certified' ? pcts(s.metrics.handlerIdle) : '—')),
    ),
  );
  L.push(
    line(
      'handler latency under load, p50 / p99 (`latency.load`, probe)',
      ss.map((s) => (s.status === 'certified' ? pcts(s.metrics.handlerLoad) : '—')),
    ),
  );
  L.push('', '— : not measured (no probe, the case does not apply, or the subject did not exit on its own).', '');

  const sigs = [...new Set(ss.flatMap((s) => Object.keys(s.signals ?? {})))].sort();
  L.push('## Declared signal maps', '', head, sep);
  for (const sig of sigs) {
    L.push(
      line(
        sig,
        ss.map((s) => {
          const a = s.signals?.[sig] ?? '—';
          const rep = s.signalsRepeat?.[sig];
          return rep ? `${a}; again during a stop: ${rep}` : a;
        }),
      ),
    );
  }
  L.push(
    line(
      'capabilities',
      ss.map((s) => (s.capabilities?.length ? s.capabilities.join(', ') : '—')),
    ),
  );
  L.push('');

  const server = r.findings.filter((f) => f.kind !== 'harness');
  const harness = r.findings.filter((f) => f.kind === 'harness');
  L.push('## Findings', '');
  if (server.length === 0) L.push('No failures.', '');
  for (const s of ss) {
    const fs = server.filter((f) => f.subject === s.name);
    if (fs.length === 0) continue;
    L.push(`### ${s.name}`, '');
    for (const f of fs) {
      const label = f.status === 'fail' ? 'fails' : 'non-strict';
      L.push(`- **${f.requirement}** (${f.level}, ${label}; ${f.cases.join(', ')}): ${f.note ?? UNEXPLAINED}`);
      L.push(`  Observed: ${f.observed.map((o) => esc(o)).join(' / ')}`);
    }
    L.push('');
  }
  if (harness.length > 0) {
    L.push('## Harness misjudgments †', '');
    L.push('Failures the harness reported that are its own mistake; they are not failures of the server.', '');
    for (const f of harness) {
      L.push(`- **${f.subject} / ${f.requirement}** (${f.cases.join(', ')}): ${f.note ?? ''}`);
      L.push(`  Observed: ${f.observed.map((o) => esc(o)).join(' / ')}`);
    }
    L.push('');
  }
  const errored = ss.filter((s) => (s.harnessErrors?.length ?? 0) + (s.leaks?.length ?? 0) > 0);
  if (errored.length > 0) {
    L.push('## Harness errors', '');
    L.push(
      'Cases that produced no trustworthy outcome, and processes the teardown missed (a harness problem to fix, never a verdict on the server).',
      '',
    );
    for (const s of errored) {
      for (const e of s.harnessErrors ?? []) L.push(`- **${s.name}** ${esc(e)}`);
      for (const e of s.leaks ?? []) L.push(`- **${s.name}** ${esc(e)}`);
    }
    L.push('');
  }
  const missing = ss.filter((s) => s.status !== 'certified');
  if (missing.length > 0) {
    L.push('## Not certified', '');
    for (const s of missing) L.push(`- **${s.name}**: ${s.status} — ${s.reason ?? ''}`);
    L.push('');
  }
  L.push('## Reports', '');
  for (const s of ss) if (s.reportFile) L.push(`- ${s.name}: \`${s.reportFile}\``);
  L.push('');
  return `${L.join('\n')}\n`;
}
