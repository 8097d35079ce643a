/**
 * From a stored history to an outcome: the case's own grader, plus two checks every case gets for
 * free because they hold on every path:
 *  - PROC.NO_CRASH_SIGNAL: a launch that died by a signal before teardown began, when nobody in the
 *    case asked for SIGKILL and the death was not a declared fast stop by re-raise, is a crash.
 *  - PROC.NO_ORPHANS: marked processes alive after the subject exited on its own.
 * Pure: used by the runner and by `sigcert analyze`.
 */
import type { CaseDef, GradeInput } from './case.js';
import { outcomeFromVerdicts } from './report/index.js';
import { requirementLevels } from './spec.js';
import type { HistoryEvent, Outcome, Verdict } from './types.js';

export interface Graded {
  outcome: Outcome;
  reason?: string;
  verdicts: Verdict[];
  metrics: Record<string, number>;
}

const FATAL_BY_NATURE = new Set(['SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT']);

/** Launches that died by a signal nobody in the case intended. */
export function unexpectedDeaths(input: GradeInput): { launch: number; signal: string }[] {
  const { events, manifest } = input;
  const teardownAt = events.find((e) => e.source === 'harness' && e.kind === 'teardown-begin');
  const cutoff = teardownAt ? BigInt(teardownAt.ns) : null;
  const out: { launch: number; signal: string }[] = [];
  for (const e of events) {
    if (e.source !== 'process' || e.kind !== 'exit') continue;
    const sig = e.data.signal as string | null | undefined;
    if (!sig) continue;
    if (cutoff !== null && BigInt(e.ns) >= cutoff && !FATAL_BY_NATURE.has(sig)) continue;
    const launch = e.launch ?? 0;
    const sent = events.filter((s) => s.source === 'harness' && s.kind === 'signal-sent' && (s.launch ?? 0) === launch);
    if (sig === 'SIGKILL' && sent.some((s) => s.data.sig === 'SIGKILL')) continue;
    const fastBySignal =
      manifest.exitCodes.fastStop === 'signal' &&
      sent.some((s) => manifest.signals[s.data.sig as string] === 'fast-stop' || s.data.sig === sig);
    if (fastBySignal) continue;
    out.push({ launch, signal: sig });
  }
  return out;
}

function orphanEvents(events: HistoryEvent[]): HistoryEvent[] {
  return events.filter((e) => e.source === 'harness' && e.kind === 'orphans');
}

export function gradeCase(c: CaseDef, input: GradeInput): Graded {
  let verdicts: Verdict[];
  try {
    verdicts = c.grade(input);
  } catch (e) {
    return {
      outcome: 'harness-error',
      reason: `grader failed: ${e instanceof Error ? e.message : String(e)}`,
      verdicts: [],
      metrics: {},
    };
  }
  const deaths = unexpectedDeaths(input);
  for (const d of deaths) {
    verdicts.push({
      requirement: 'PROC.NO_CRASH_SIGNAL',
      status: 'fail',
      expected: 'the subject never dies by a signal its map handles (or a crash signal)',
      actual: `launch ${d.launch} died by ${d.signal}`,
    });
  }
  for (const o of orphanEvents(input.events)) {
    const list = (o.data.orphans as { pid: number; cmdline?: string }[]) ?? [];
    verdicts.push({
      requirement: 'PROC.NO_ORPHANS',
      status: 'fail',
      expected: 'no process of the subject outlives its exit',
      actual: `${list.length} process(es) left after exit: ${list.map((p) => `${p.pid} ${p.cmdline ?? ''}`.trim()).join('; ')}`,
    });
  }
  const metrics: Record<string, number> = {};
  for (const v of verdicts) for (const [k, n] of Object.entries(v.metrics ?? {})) metrics[k] = n;
  let outcome = outcomeFromVerdicts(verdicts, requirementLevels());
  let reason: string | undefined;
  if (deaths.length) {
    outcome = 'crash';
    reason = deaths.map((d) => `died by ${d.signal}`).join('; ');
  } else if (outcome === 'fail' || outcome === 'non-strict') {
    const f = verdicts.find((v) => v.status === 'fail');
    if (f) reason = `${f.requirement}: expected ${f.expected}; actual ${f.actual}`;
  }
  return reason === undefined ? { outcome, verdicts, metrics } : { outcome, reason, verdicts, metrics };
}
