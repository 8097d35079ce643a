/**
 * Verdict constructors. Every verdict cites a requirement of the registry by its typed ID, and its
 * Expected text starts from that requirement's statement in spec/requirements.json, followed by what
 * this observation had to show ("here: ..."). A requirement therefore reads the same in every case.
 */
import { loadRegistry } from '../spec.js';
import type { Verdict } from '../types.js';
import type { RequirementId } from './requirement-ids.js';

export type { RequirementId };

let statements: Map<string, string> | null = null;

/** The normative statement of a requirement (spec/requirements.json). */
export function statementOf(id: RequirementId): string {
  statements ??= new Map(loadRegistry().requirements.map((r) => [r.id, r.statement] as const));
  const s = statements.get(id);
  if (s === undefined) throw new Error(`requirement ${id} is not in spec/requirements.json (regenerate the IDs)`);
  return s;
}

/** The Expected text of a verdict: the requirement's statement, then what this observation had to show. */
export function expectation(id: RequirementId, detail?: string): string {
  const s = statementOf(id);
  return detail ? `${s} Here: ${detail}` : s;
}

/**
 * For compact renderings (console, progress lines): what this observation had to show, without the
 * statement every verdict of the requirement repeats.
 */
export function expectedHere(expected: string): string {
  const i = expected.indexOf(' Here: ');
  return i < 0 ? expected : expected.slice(i + ' Here: '.length);
}

function make(
  id: RequirementId,
  status: Verdict['status'],
  detail: string,
  actual: string,
  metrics?: Record<string, number>,
): Verdict {
  return { requirement: id, status, expected: expectation(id, detail), actual, ...(metrics ? { metrics } : {}) };
}

/** pass when `ok`, else fail. */
export function verdict(
  id: RequirementId,
  ok: boolean,
  detail: string,
  actual: string,
  metrics?: Record<string, number>,
): Verdict {
  return make(id, ok ? 'pass' : 'fail', detail, actual, metrics);
}

/** A measurement reported without a pass/fail judgement. */
export function info(id: RequirementId, detail: string, actual: string, metrics?: Record<string, number>): Verdict {
  return make(id, 'info', detail, actual, metrics);
}

/** The history cannot decide (the requirement is then not tested by this case). */
export function unknown(id: RequirementId, detail: string, actual: string, needs?: string[]): Verdict {
  const v = make(id, 'unknown', detail, actual);
  if (needs && needs.length > 0) v.needs = [...needs];
  return v;
}

/**
 * Not observable in black-box mode: an unknown verdict that names the cooperation (`probe`, an endpoint
 * name such as `hold`) that would make the requirement testable.
 */
export function unobservable(id: RequirementId, detail: string, needs: string[], why?: string): Verdict {
  return unknown(id, detail, why ?? `not observable without ${needs.join(', ')}`, needs);
}
