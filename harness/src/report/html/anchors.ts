/**
 * Anchors of the HTML report: one id per case and per requirement, and the links to them.
 */
import type { Report } from '../model.js';
import { escapeHtml as esc } from './markup.js';

/** A value for an `id` attribute / URL fragment made of safe characters only. */
export function anchorId(prefix: string, s: string): string {
  return `${prefix}-${s.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export interface Anchors {
  /** first anchor of each case id (cases repeat with --repeat) */
  caseById: Map<string, string>;
  /** anchor of each case result, by position in report.cases */
  caseAt: string[];
  reqIds: Set<string>;
}

export function anchors(report: Report): Anchors {
  const used = new Set<string>();
  const caseById = new Map<string, string>();
  const caseAt = report.cases.map((c) => {
    const base = anchorId('case', c.repeat !== undefined ? `${c.id}.r${c.repeat}` : c.id);
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    if (!caseById.has(c.id)) caseById.set(c.id, id);
    return id;
  });
  return { caseById, caseAt, reqIds: new Set(report.requirements.map((r) => r.id)) };
}

export function caseLink(a: Anchors, id: string): string {
  const target = a.caseById.get(id);
  return target ? `<a href="#${esc(target)}">${esc(id)}</a>` : esc(id);
}

export function reqLink(a: Anchors, id: string): string {
  return a.reqIds.has(id) ? `<a href="#${esc(anchorId('req', id))}">${esc(id)}</a>` : esc(id);
}
