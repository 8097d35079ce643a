import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type CaseContext, defineCase, signalFor } from '../case.js';
import { type HttpResult, request } from '../clients/http.js';
import { loadCount, notes, results, throughSignal, verdict } from '../grade/index.js';
import { nowNs } from '../history.js';
import type { Subject } from '../launch/index.js';
import { http, recordResult, startHeld, startRestartLoad, waitAck } from '../workload.js';

const CLIENTS = 4;
const KEEPALIVE_CLIENTS = 2;
/** Per client: the load is bounded in count as well as in time. */
const MAX_REQUESTS = 5000;
/**
 * The request held on the old code: most of the grace period (80%, between 0.8 and 4 s), so that it is
 * still in flight well into the old generation's drain, which must let it complete (an old generation
 * ended before its grace period is up cuts it).
 */
const holdMsFor = (graceMs: number) => Math.min(4000, Math.max(800, Math.floor(graceMs * 0.8)));
/** Requests checked after the restart is complete: every one must be served by the new code. */
const VERIFY = 20;
const COMPLETE_MS = 15_000;

export interface RestartCompletion {
  /**
   * `probe`: the subject's `restart-done` event; `version`: VERIFY consecutive new-version answers;
   * `refused`: POST /control/restart answered neither 2xx nor 409 (restart.bounded-generations).
   */
  how: 'probe' | 'version' | 'failed' | 'timeout' | 'refused';
  ms: number;
  error?: string;
}

/** The version a `/version` answer names, or null. */
export function versionOf(r: HttpResult): string | null {
  if (!r.ok || r.status !== 200) return null;
  try {
    const v = (JSON.parse(r.body.toString()) as { version?: unknown }).version;
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * Asks for a restart that brings in `version` (subject protocol section 6: a new `codeVersion` in
 * the configuration file, read by the new code as it starts), through the declared signal or,
 * with `via: 'control'`, `POST /control/restart`; `extra` adds fields to the configuration written
 * (`codeFails: true`, section 6). Returns the monotonic time of the request.
 */
export async function requestRestart(
  ctx: CaseContext,
  s: Subject,
  version: string,
  via: 'signal' | 'control' = 'signal',
  extra: Record<string, unknown> = {},
): Promise<bigint> {
  s.writeConfig({ generation: 1, codeVersion: version, ...extra });
  if (via === 'control') {
    const t0 = nowNs();
    const r = await request(s.ports.admin!, {
      method: 'POST',
      path: '/control/restart',
      headers: { authorization: `Bearer ${s.token}` },
      label: 'control-restart',
      history: ctx.history,
      timeoutMs: ctx.ms(5000),
    });
    ctx.note('control-restart', { status: r.status, ok: r.ok });
    return t0;
  }
  const sig = signalFor(ctx.manifest, 'restart')!;
  const t0 = s.signal(sig);
  await waitAck(ctx, s, sig, t0, 2000);
  return t0;
}

/**
 * Waits until the restart asked for at `t0` is complete: with a probe, the subject's `restart-done`
 * (or `restart-failed`) event, section 8, naming one of `versions` when it names a version; without
 * one (or if the event never comes), until VERIFY consecutive `/version` answers on new connections
 * name one of `versions`. Bounded by COMPLETE_MS each, one after the other; with `withinMs`, both are
 * watched at once within that budget. With `asked` (that many restarts asked for back to
 * back, which a subject may refuse while one runs) the wait ends at the completion of one of them, or
 * once every one of them has failed.
 */
export async function awaitRestart(
  ctx: CaseContext,
  s: Subject,
  t0: bigint,
  versions: string | string[],
  opts: { asked?: number; withinMs?: number } = {},
): Promise<RestartCompletion> {
  const ms = () => Number(nowNs() - t0) / 1e6;
  let failures = 0;
  const accepted = new Set(Array.isArray(versions) ? versions : [versions]);
  const fromProbe = async (timeoutMs: number): Promise<RestartCompletion | undefined> => {
    if (!ctx.manifest.capabilities.probe) return undefined;
    try {
      const e = await s.waitProbe(
        (x) =>
          ((x.ev === 'restart-done' && (x.version === undefined || accepted.has(String(x.version)))) ||
            (x.ev === 'restart-failed' && BigInt(x.t) >= t0 && ++failures >= (opts.asked ?? 1))) &&
          BigInt(x.t) >= t0,
        timeoutMs,
        'restart-done',
      );
      if (e.ev === 'restart-failed') return { how: 'failed', ms: ms(), error: String(e.error) };
      return { how: 'probe', ms: Number(BigInt(e.t) - t0) / 1e6 };
    } catch {
      return undefined; // no event: what can be seen from outside decides
    }
  };
  let stopPolling = false;
  const fromVersions = async (deadline: number): Promise<RestartCompletion | undefined> => {
    let streak = 0;
    while (Date.now() < deadline && !s.exited && !stopPolling) {
      const r = await request(s.ports.http!, { path: '/version', label: 'version-poll', timeoutMs: ctx.ms(5000) });
      const v = versionOf(r);
      streak = v !== null && accepted.has(v) ? streak + 1 : 0;
      if (streak >= VERIFY) return { how: 'version', ms: ms() };
      if (streak === 0) await new Promise((res) => setTimeout(res, 20)); // bounded poll of /version
    }
    return undefined;
  };
  if (opts.withinMs === undefined) {
    // the probe event first (COMPLETE_MS), then the versions seen from outside (COMPLETE_MS more)
    return (
      (await fromProbe(ctx.ms(COMPLETE_MS))) ??
      (await fromVersions(Date.now() + ctx.ms(COMPLETE_MS))) ?? { how: 'timeout', ms: ms() }
    );
  }
  // one budget for both, watched at once: whichever shows the completion first
  const deadline = Date.now() + ctx.ms(opts.withinMs);
  const probeP = fromProbe(ctx.ms(opts.withinMs));
  const pollP = fromVersions(deadline);
  const first = await Promise.race([probeP.then((r) => r ?? pollP), pollP.then((r) => r ?? probeP)]);
  stopPolling = true;
  await pollP; // no /version request outlives the wait
  return first ?? { how: 'timeout', ms: ms() };
}

/**
 * Spec: "a restart with new code refuses, resets and fails no request. Requests in flight on the old
 * generation MUST complete byte-exact, and once the restart is reported complete every new request
 * MUST be served by the new code" (RESTART.ZERO_DOWNTIME, E22); "the supervisor pid is stable across
 * restarts" (RESTART.STABLE_PID). New code is made observable the way subject protocol section 6
 * says: a new `codeVersion` in the configuration file, read by the new code as it starts.
 */
export default defineCase({
  id: 'restart.zero-downtime',
  title: 'A restart under bounded load: nothing refused, reset or failed; the new code serves; the pid stays',
  description: `${CLIENTS} clients open a new connection per request and ${KEEPALIVE_CLIENTS} keep-alive clients send back to back (reconnecting after Connection: close), each bounded to ${MAX_REQUESTS} requests; a request held for 80% of the grace period (0.8 to 4 s) is in flight on the old code. The harness writes a new codeVersion and sends the restart signal. No request may fail, the held one completes byte-exact, and once the restart is complete (probe restart-done, or ${VERIFY} new-version answers in a row) the next ${VERIFY} new connections must all be served by the new version. The supervisor pid, and the pidfile, must not change.`,
  requirements: ['RESTART.ZERO_DOWNTIME', 'RESTART.STABLE_PID', 'SIG.USR2.RESTART'],
  edgeCases: ['E22'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['restart'],
    capabilities: ['restart'],
    needs: ['version', 'live', 'hold'],
  },
  timeout: 'normal',
  async run(ctx) {
    const holdMs = holdMsFor(ctx.manifest.gracePeriodMs);
    const s = await ctx.launch();
    const pidfile = path.join(s.stateDir, 'server.pid');
    const readPidfile = () =>
      ctx.manifest.capabilities.pidfile && existsSync(pidfile) ? readFileSync(pidfile, 'utf8').trim() : null;
    const before = versionOf(await http(ctx, s, { path: '/version', label: 'version-before' }));
    const pidfileBefore = readPidfile();
    const version = `restarted-${randomBytes(4).toString('hex')}`;

    const load = startRestartLoad(ctx, s, { fresh: CLIENTS, keepAlive: KEEPALIVE_CLIENTS, maxRequests: MAX_REQUESTS });
    let completion: RestartCompletion = { how: 'timeout', ms: Number.NaN };
    const verify: Array<string | null> = [];
    let held: Awaited<ReturnType<typeof startHeld>> | undefined;
    try {
      await Promise.race([load.underWay, new Promise((res) => setTimeout(res, ctx.ms(5000)))]);
      held = await startHeld(ctx, s, { path: `/hold?ms=${holdMs}`, label: 'held-on-old-code' });
      const t0 = await requestRestart(ctx, s, version);
      completion = await awaitRestart(ctx, s, t0, version);
      for (let i = 0; i < VERIFY && !s.exited; i++) {
        verify.push(versionOf(await http(ctx, s, { path: '/version', label: 'version-after' })));
      }
    } finally {
      await load.stop();
    }
    if (held) recordResult(ctx, await held.done, { expectBody: `held ${holdMs}\n` });
    ctx.note('restart', { ...completion });
    ctx.note('versions', { before, expected: version, after: verify, pidAlive: !s.exited, pid: s.pid });
    ctx.note('pidfile', {
      before: pidfileBefore,
      after: readPidfile(),
      pid: s.pid,
      checked: ctx.manifest.capabilities.pidfile === true,
    });
  },
  grade({ events, manifest }) {
    const v = notes(events, 'versions')[0];
    const load = loadCount(events, ['load', 'keepalive']);
    const ka = loadCount(events, ['keepalive']);
    const rs = notes(events, 'restart')[0] as RestartCompletion | undefined;
    const pf = notes(events, 'pidfile')[0];
    const held = results(events).find((r) => r.label === 'held-on-old-code');
    const failed = load.failed;
    const after = (v?.after ?? []) as Array<string | null>;
    const allNew = after.length === VERIFY && after.every((x) => x === v?.expected);
    const complete = rs?.how === 'probe' || rs?.how === 'version';
    const heldOk = held?.ok === true && held.body === held.expectBody;
    const pidfileOk = pf?.checked !== true || (pf.before === String(pf.pid) && pf.after === String(pf.pid));
    const switched = complete && allNew && v?.before !== v?.expected;
    return [
      verdict(
        'RESTART.ZERO_DOWNTIME',
        load.sent > 0 && failed === 0 && heldOk && switched,
        `no request refused, reset or failed; the request held on the old code completes; once the restart is complete, ${VERIFY} new requests all get the new version`,
        `${load.sent} requests (${ka.sent} keep-alive over ${ka.connections} connections, ${ka.connectionClose} answered Connection: close), ${failed} failed ${JSON.stringify(load.kinds)}${load.samples.length ? ` e.g. ${JSON.stringify(load.samples.slice(0, 3))}` : ''}; held: ${heldOk ? 'completed' : `failed (${held?.error ?? 'not run'})`}; restart ${rs?.how ?? 'not run'} after ${Number(rs?.ms).toFixed(0)} ms${rs?.error ? ` (${rs.error})` : ''}; version ${String(v?.before)} → ${after.filter((x) => x === v?.expected).length}/${after.length} answers ${String(v?.expected)}`,
        { requests: load.sent, failed, restartMs: Number(rs?.ms ?? Number.NaN) },
      ),
      verdict(
        'RESTART.STABLE_PID',
        v?.pidAlive === true && pidfileOk,
        'the supervisor process (same pid) is still the one running, and the pidfile still names it',
        `${v?.pidAlive ? `pid ${String(v.pid)} still running` : 'the supervisor exited'}${pf?.checked ? `; pidfile ${String(pf.before)} → ${String(pf.after)}` : ''}`,
      ),
      ...throughSignal(manifest, 'SIGUSR2', 'restart', [
        verdict(
          'SIG.USR2.RESTART',
          switched,
          'SIGUSR2 starts a restart with new code: the new version serves',
          `restart ${rs?.how ?? 'not run'}; ${after.filter((x) => x === v?.expected).length}/${after.length} answers name the new version`,
        ),
      ]),
    ];
  },
});
