/**
 * The requirement x subject table and its findings: each subject's requirement statuses from its
 * report, and for every failure the note that explains it, or none (unexplained). A server's own faults
 * come from the findings of its expectations.json (the ground truth the peers test asserts, written
 * once), a harness misjudgment from the `harness` notes of its matrix.json.
 */
import path from 'node:path';
import type { Report, RequirementInfo, RequirementStatus } from '../report/index.js';
import { findingNotes, loadExpectations } from './expectations.js';
import type { MatrixFinding, MatrixRow, MatrixSubject, SubjectMatrixData, SubjectNote } from './model.js';

/** The first note whose `when` matches one of the failing verdicts (a note without `when` always does). */
function pickNote(notes: SubjectNote[] | undefined, observed: readonly string[]): SubjectNote | undefined {
  return notes?.find((n) => n.when === undefined || observed.some((o) => new RegExp(n.when!).test(o)));
}

/** One row per requirement of the registry, one cell per subject, and a finding for every failure. */
export function requirementTable(
  requirements: readonly RequirementInfo[],
  subjects: readonly MatrixSubject[],
  reports: ReadonlyMap<string, Report>,
  dataOf: (subject: string) => SubjectMatrixData,
): { rows: MatrixRow[]; findings: MatrixFinding[] } {
  const findings: MatrixFinding[] = [];
  const rows: MatrixRow[] = requirements.map((r) => ({ id: r.id, level: r.level, title: r.title, cells: {} }));
  for (const s of subjects) {
    const report = reports.get(s.name);
    const data = dataOf(s.name);
    const serverNotes = report ? findingNotes(loadExpectations(path.dirname(report.subject.manifestFile))) : {};
    // harness notes first: each names the failure it explains (`when`), a server finding usually explains any
    const notesOf = (id: string): SubjectNote[] => [...(data.notes?.[id] ?? []), ...(serverNotes[id] ?? [])];
    for (const row of rows) {
      if (!report) {
        row.cells[s.name] = s.status === 'error' ? 'error' : 'not-installed';
        continue;
      }
      const roll = report.requirements.find((x) => x.id === row.id);
      const status: RequirementStatus = roll?.status ?? 'not-tested';
      row.cells[s.name] = status;
      if (status !== 'fail' && status !== 'non-strict') continue;
      const failing = report.cases.filter((c) => roll?.failures.includes(c.id));
      const observed = failing.flatMap((c) => {
        const vs = c.verdicts.filter((v) => v.requirement === row.id && v.status === 'fail').map((v) => v.actual);
        return vs.length > 0 ? vs : [`${c.id}: ${c.outcome}${c.reason ? ` (${c.reason})` : ''}`];
      });
      // a note's `when` may point at any failing verdict of the same case (e.g. the exit that explains an escalation)
      const context = failing.flatMap((c) => c.verdicts.filter((v) => v.status === 'fail').map((v) => v.actual));
      const note = pickNote(notesOf(row.id), [...observed, ...context]);
      const kind = note ? note.kind : 'unexplained';
      if (kind === 'harness') row.cells[s.name] = 'harness-misjudged';
      findings.push({
        subject: s.name,
        requirement: row.id,
        level: row.level,
        status,
        kind,
        cases: roll?.failures ?? [],
        observed,
        ...(note ? { note: note.text } : {}),
      });
    }
  }
  return { rows, findings };
}
