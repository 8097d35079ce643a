/**
 * STOP.LISTENER_CLOSED from outside: connection attempts started at a fixed cadence from just before
 * the stop (`late-connect` notes, see workload.ts startConnectProber). Spec 6.2: the drain has started,
 * and the listeners are closed, at the latest 100 ms after the stop request plus the pre-drain delay
 * (with a probe: at `stop-accepting` if that came first).
 */
import type { HistoryEvent, Manifest, Verdict } from '../types.js';
import { exitOf, ms, notes, probe } from './facts.js';
import { unobservable, verdict } from './verdict.js';

/** The drain has begun by this long after the stop request plus the pre-drain delay (spec 6.2). */
export const DRAIN_START_MS = 100;
/**
 * Scheduling slack for a listener that closes a little after the bound on a loaded machine: an attempt
 * served more than this after the bound means the listener stayed open through the drain. Accepted and
 * then reset, or closed without a response, is never allowed once the bound has passed.
 */
export const SERVE_SLACK_MS = 500;
/** An attempt dropped that started this close to the exit raced the exit (spec 6.2, E09): reported, not failed. */
export const RACE_MS = 20;

function summarise(xs: string[]): string {
  const c = new Map<string, number>();
  for (const x of xs) c.set(x, (c.get(x) ?? 0) + 1);
  return [...c].map(([k, v]) => `${v} ${k}`).join(', ');
}

/**
 * STOP.READINESS_FIRST through systemd's notify protocol: STOPPING=1 (readiness fails) reaches the
 * supervisor before the listener refuses a connection. The datagram and the connect attempts are both
 * stamped by the harness when its event loop sees them, so a refusal up to RACE_MS before STOPPING=1 is
 * an ordering race, not a finding. A server that never sends STOPPING=1 does not show when its stop
 * began: not observable (a probe would show it). Only for readiness `notify` (else no verdict).
 */
export function verifyReadinessFirstNotify(
  events: readonly HistoryEvent[],
  m: Manifest,
  sendNs: string | undefined,
  launch = 0,
): Verdict[] {
  if (m.readiness.kind !== 'notify' || !sendNs) return [];
  const stopping = probe(events, 'state', launch).find(
    (e) => e.data.state === 'STOPPING' && e.data.via === 'notify' && BigInt(e.ns) >= BigInt(sendNs),
  );
  const detail = 'readiness (sd_notify STOPPING=1) fails before the listener refuses connections';
  if (!stopping)
    return [
      unobservable(
        'STOP.READINESS_FIRST',
        detail,
        ['probe'],
        'no STOPPING=1 after the stop: the server does not report when its stop began',
      ),
    ];
  const refused = notes(events, 'late-connect')
    .filter((p) => p.outcome === 'refused' && BigInt(String(p.startNs)) >= BigInt(sendNs))
    .sort((a, b) => (BigInt(String(a.startNs)) < BigInt(String(b.startNs)) ? -1 : 1))[0];
  const stoppingMs = ms(sendNs, stopping.ns);
  if (!refused)
    return [
      verdict(
        'STOP.READINESS_FIRST',
        true,
        detail,
        `STOPPING=1 ${stoppingMs.toFixed(1)} ms after the stop; no refusal before exit`,
        { readinessFailMs: stoppingMs },
      ),
    ];
  const refusedMs = ms(sendNs, String(refused.startNs));
  return [
    verdict(
      'STOP.READINESS_FIRST',
      stoppingMs <= refusedMs + RACE_MS,
      detail,
      `STOPPING=1 ${stoppingMs.toFixed(1)} ms after the stop, first refused connect ${refusedMs.toFixed(1)} ms after it`,
      { readinessFailMs: stoppingMs, timeToRefuseMs: refusedMs },
    ),
  ];
}

/**
 * The pre-drain delay the subject was to keep at this launch: a subject with `preDrainDelay` honours
 * SIGCERT_PREDRAIN_MS, which the harness hands over (0 unless a case asks for a delay) and records on
 * the spawn; otherwise the manifest's own `preDrainDelayMs`. (Taking the manifest's figure for a launch
 * told 0 let a listener that never closed pass while a held request kept the drain open.)
 */
export function preDrainOf(events: readonly HistoryEvent[], m: Manifest, launch = 0): number {
  if (m.capabilities.preDrainDelay !== true) return m.preDrainDelayMs;
  const spawn = events.find((e) => e.source === 'process' && e.kind === 'spawn' && (e.launch ?? 0) === launch);
  const given = spawn?.data.preDrainMs;
  return typeof given === 'number' && Number.isFinite(given) ? given : m.preDrainDelayMs;
}

/** The listener verdict for the stop sent at `send` (a `signal-sent` event, or the stamp of a control request). */
export function verifyListenerClosed(
  events: readonly HistoryEvent[],
  m: Manifest,
  sendNs: string | undefined,
  launch = 0,
): Verdict {
  if (!sendNs) return verdict('STOP.LISTENER_CLOSED', false, 'a stop was requested', 'no stop was sent');
  const cadence = Number(notes(events, 'prober')[0]?.cadenceMs ?? 10);
  const preDrain = preDrainOf(events, m, launch);
  const bound = BigInt(sendNs) + BigInt(preDrain + DRAIN_START_MS) * 1_000_000n;
  // with a probe the subject says when it stopped accepting (6.2); black box: the bound
  const closedAt = probe(events, 'stop-accepting', launch).find((e) => BigInt(e.ns) >= BigInt(sendNs));
  const from = closedAt ? BigInt(closedAt.ns) : bound;
  const all = notes(events, 'late-connect');
  const judged = all.filter((p) => BigInt(String(p.startNs)) >= from);
  // black box: a served attempt means the listener is still open only past the slack; with a probe the
  // subject said when it stopped accepting, so an attempt started after that (plus the race margin) and
  // served means it did not
  const lateServe = from + BigInt(closedAt ? RACE_MS : SERVE_SLACK_MS) * 1_000_000n;
  const served = judged.filter((p) => p.outcome === 'served' && BigInt(String(p.startNs)) >= lateServe);
  const x = exitOf(events, launch);
  // E09: an attempt that connected while the process was exiting is reset by the kernel, a race
  const raceFrom = x ? BigInt(x.ns) - BigInt(RACE_MS) * 1_000_000n : null;
  const isDrop = (p: Record<string, unknown>) =>
    p.outcome === 'reset' || p.outcome === 'eof' || p.outcome === 'timeout';
  const races = judged.filter((p) => isDrop(p) && raceFrom !== null && BigInt(String(p.startNs)) >= raceFrom);
  const dropped = judged.filter((p) => isDrop(p) && !races.includes(p));
  const refused = all
    .filter((p) => p.outcome === 'refused' && BigInt(String(p.startNs)) >= BigInt(sendNs))
    .sort((a, b) => (BigInt(String(a.startNs)) < BigInt(String(b.startNs)) ? -1 : 1))[0];
  const metrics: Record<string, number> = {};
  if (refused) metrics.timeToRefuseMs = ms(sendNs, String(refused.startNs));
  const exitedBefore = x !== null && BigInt(x.ns) <= from;
  const window = (ps: Record<string, unknown>[]) =>
    ps.length
      ? ` (${ms(sendNs, String(ps[0]!.startNs)).toFixed(0)}–${ms(sendNs, String(ps.at(-1)!.startNs)).toFixed(0)} ms after the stop)`
      : '';
  // the probe's stop-accepting must itself come within the bound (plus the same scheduling slack)
  const lateClose = closedAt !== undefined && BigInt(closedAt.ns) > bound + BigInt(SERVE_SLACK_MS) * 1_000_000n;
  // an exit closes every listener: with no attempt inside the window (a loaded machine can starve the
  // cadence) the exit itself is the evidence, as long as nothing was accepted and dropped or served late
  const ok = !lateClose && served.length === 0 && dropped.length === 0 && (judged.length > 0 || x !== null);
  return verdict(
    'STOP.LISTENER_CLOSED',
    ok,
    `attempts start every ${cadence} ms; once the drain has begun (${closedAt ? "the probe's stop-accepting" : `${preDrain + DRAIN_START_MS} ms after the stop`}) none is accepted and dropped, and none is still served ${closedAt ? `${RACE_MS} ms after stop-accepting` : `${SERVE_SLACK_MS} ms later`} (the listener stayed open)`,
    lateClose
      ? `stop-accepting came ${ms(sendNs, closedAt!.ns).toFixed(1)} ms after the stop: the listener stayed open past ${preDrain + DRAIN_START_MS + SERVE_SLACK_MS} ms`
      : x !== null && judged.length === 0
        ? `the subject exited ${ms(sendNs, x.ns).toFixed(1)} ms after the stop${exitedBefore ? ', before the drain window' : ''}; no attempt fell inside the window; its listener closed with the exit`
        : `${judged.length} attempts judged: ${judged.filter((p) => p.outcome === 'refused').length} refused, ${judged.filter((p) => p.outcome === 'served').length} served (${served.length} after the slack${window(served)}), ${dropped.length} accepted then dropped${window(dropped)}${dropped.length ? ` [${summarise(dropped.map((p) => String(p.outcome)))}]` : ''}${races.length ? `, ${races.length} raced the exit (E09)` : ''}; ${all.length - judged.length} before the drain window${closedAt ? ' (stop-accepting)' : ''}${x ? '' : '; the subject did not exit'}`,
    metrics,
  );
}
