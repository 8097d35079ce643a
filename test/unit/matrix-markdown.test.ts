/** The matrix's Markdown: a `<name>-notify` column is compared with its plain column. */
import { describe, expect, it } from 'vitest';
import { renderMatrixMarkdown } from '../../harness/src/matrix/markdown.js';
import { MATRIX_VERSION, type MatrixResult, type MatrixSubject } from '../../harness/src/matrix/model.js';

const subject = (name: string): MatrixSubject => ({ name, status: 'certified', metrics: {} }) as MatrixSubject;

function result(cells: Record<string, Record<string, string>>): MatrixResult {
  return {
    matrixVersion: MATRIX_VERSION,
    toolVersion: '0',
    specVersion: '1.0.0',
    startedAt: '2026-12-06T00:00:00Z',
    durationMs: 1,
    environment: {} as MatrixResult['environment'],
    options: { concurrency: 1, timeoutScale: 1 },
    subjects: [subject('caddy'), subject('caddy-notify'), subject('nginx')],
    requirements: Object.entries(cells).map(([id, c]) => ({
      id,
      level: 'MUST' as const,
      title: id,
      cells: c as MatrixResult['requirements'][number]['cells'],
    })),
    findings: [],
    files: { markdown: '', json: '' },
  };
}

describe('matrix markdown: what sd_notify makes testable', () => {
  it('lists the requirements the -notify column judged and the plain column did not', () => {
    const md = renderMatrixMarkdown(
      result({
        'STOP.READINESS_FIRST': { caddy: 'not-observable', 'caddy-notify': 'pass', nginx: 'not-observable' },
        'RELOAD.OBSERVABLE': { caddy: 'not-applicable', 'caddy-notify': 'fail', nginx: 'pass' },
        'STOP.EXIT_ZERO': { caddy: 'pass', 'caddy-notify': 'pass', nginx: 'pass' },
        'STOP.PERSIST_ALL_PATHS': { caddy: 'not-observable', 'caddy-notify': 'not-observable', nginx: 'pass' },
      }),
    );
    const section = md.slice(md.indexOf('## What sd_notify makes testable: caddy → caddy-notify'));
    expect(section.length).toBeGreaterThan(0);
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| requirement')));
    expect(table).toContain('| STOP.READINESS_FIRST | MUST | not observable | pass |');
    expect(table).toContain('| RELOAD.OBSERVABLE | MUST | n/a | **FAIL** |');
    expect(table).not.toContain('STOP.EXIT_ZERO');
    expect(table).not.toContain('STOP.PERSIST_ALL_PATHS');
    // no -notify column, no section
    expect(md.match(/## What sd_notify makes testable/g)).toHaveLength(1);
  });
});
