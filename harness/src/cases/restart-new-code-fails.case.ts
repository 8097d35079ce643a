import { randomBytes } from 'node:crypto';
import { defineCase, signalFor } from '../case.js';
import { loadCount, notes, results, unobservable, verdict } from '../grade/index.js';
import { http, recordResult, startHeld, startRestartLoad } from '../workload.js';
import { awaitRestart, type RestartCompletion, requestRestart, versionOf } from './restart-zero-downtime.case.js';

const CLIENTS = 2;
const KEEPALIVE_CLIENTS = 1;
/** Per client: the load is bounded in count as well as in time. */
const MAX_REQUESTS = 5000;
/** New connections checked after each restart attempt: every one must name the version expected. */
const VERIFY = 20;
/**
 * Each attempt is watched (probe restart-failed / restart-done, and /version from outside) for this
 * long: the reference needs under 1 s; `restart.zero-downtime` gives its probe event as long.
 */
const ATTEMPT_MS = 15_000;
/** The request held on the old code across the failed attempt: half the grace period, 0.5 to 2 s. */
const holdMsFor = (graceMs: number) => Math.min(2000, Math.max(500, Math.floor(graceMs / 2)));

/**
 * Spec: RESTART.ZERO_DOWNTIME, "a restart whose new code cannot start MUST leave the old generation
 * serving, and a later restart MUST still succeed". New code that cannot start is the subject protocol's
 * `codeFails: true` in the configuration file (section 6, capability `failingCode`): code that reads it
 * as it starts fails its startup, the way a startup bug would. A supervisor that stops the old workers
 * before the new ones serve, gives up (exits), or wedges its restart machinery on the failure fails here;
 * a good new code path hides all three, which is why `restart.zero-downtime` cannot see them.
 */
export default defineCase({
  id: 'restart.new-code-fails',
  title: 'A restart whose new code cannot start: the old code keeps serving, and the next restart succeeds',
  description: `${CLIENTS} clients open a new connection per request and ${KEEPALIVE_CLIENTS} keep-alive client sends back to back, each bounded to ${MAX_REQUESTS} requests, and a request is held on the old code (half the grace period, 0.5 to 2 s). The harness writes a new codeVersion with codeFails: true and asks for a restart: the subject reports restart-failed (or nothing), and ${VERIFY} new connections in a row must still be served by the old version. Then it writes another codeVersion without codeFails and asks again (once more after the grace period if that restart is refused or deferred): it must complete (each attempt watched for ${ATTEMPT_MS / 1000} s), and the new version serve ${VERIFY} new connections in a row. No request may fail, and the held request completes byte-exact.`,
  requirements: ['RESTART.ZERO_DOWNTIME'],
  edgeCases: ['E22'],
  applies: {
    platforms: ['linux', 'darwin'],
    capabilities: ['restart', 'failingCode', 'probe'],
    needs: ['version', 'live', 'hold'],
  },
  // asked through the restart signal, or through the control channel when the map has none
  notApplicable: (m) =>
    signalFor(m, 'restart') || m.capabilities.controlChannel
      ? null
      : 'the declared signal map has no signal for restart, and the subject declares no control channel',
  timeout: 'long',
  async run(ctx) {
    const via = signalFor(ctx.manifest, 'restart') ? 'signal' : 'control';
    const s = await ctx.launch();
    const holdMs = holdMsFor(ctx.manifest.gracePeriodMs);
    const before = versionOf(await http(ctx, s, { path: '/version', label: 'version-before' }));
    const broken = `broken-${randomBytes(4).toString('hex')}`;
    const fixed = `fixed-${randomBytes(4).toString('hex')}`;

    const load = startRestartLoad(ctx, s, {
      fresh: CLIENTS,
      keepAlive: KEEPALIVE_CLIENTS,
      maxRequests: MAX_REQUESTS,
      untilExit: true,
    });
    const answers = async (label: string) => {
      const out: Array<string | null> = [];
      for (let i = 0; i < VERIFY && !s.exited; i++)
        out.push(versionOf(await http(ctx, s, { path: '/version', label })));
      return out;
    };
    let failedAttempt: RestartCompletion = { how: 'timeout', ms: Number.NaN };
    const good: RestartCompletion[] = [];
    let afterFailure: Array<string | null> = [];
    let aliveAfterFailure = false;
    let afterFix: Array<string | null> = [];
    let held: Awaited<ReturnType<typeof startHeld>> | undefined;
    try {
      await Promise.race([load.underWay, new Promise((res) => setTimeout(res, ctx.ms(5000)))]);
      held = await startHeld(ctx, s, { path: `/hold?ms=${holdMs}`, label: 'held-on-old-code' });
      const t0 = await requestRestart(ctx, s, broken, via, { codeFails: true });
      failedAttempt = await awaitRestart(ctx, s, t0, broken, { withinMs: ATTEMPT_MS });
      afterFailure = await answers('version-after-failure');
      aliveAfterFailure = !s.exited;
      // the held request ends on the old code before the next restart retires it
      const h = held;
      held = undefined;
      recordResult(ctx, await h.done, { expectBody: `held ${holdMs}\n` });
      h.conn.close();
      if (!s.exited) {
        const t1 = await requestRestart(ctx, s, fixed, via);
        good.push(await awaitRestart(ctx, s, t1, fixed, { withinMs: ATTEMPT_MS }));
        if (good[0]!.how !== 'probe' && good[0]!.how !== 'version' && !s.exited) {
          // a restart asked for while the failed one is still being cleaned up may be refused or
          // deferred (RESTART.BOUNDED_GENERATIONS): asked once more after the grace period
          await new Promise((res) => setTimeout(res, ctx.ms(ctx.manifest.gracePeriodMs + 500)));
          const t2 = await requestRestart(ctx, s, fixed, via);
          good.push(await awaitRestart(ctx, s, t2, fixed, { withinMs: ATTEMPT_MS }));
        }
        afterFix = await answers('version-after-fix');
      }
    } finally {
      await load.stop();
      if (held) {
        recordResult(ctx, await held.done, { expectBody: `held ${holdMs}\n` });
        held.conn.close();
      }
    }
    ctx.note('attempts', { failed: failedAttempt, good });
    ctx.note('versions', { before, broken, fixed, afterFailure, afterFix, aliveAfterFailure });
  },
  grade({ events }) {
    const a = notes(events, 'attempts')[0] as { failed?: RestartCompletion; good?: RestartCompletion[] } | undefined;
    const v = notes(events, 'versions')[0];
    const load = loadCount(events, ['load', 'keepalive']);
    const held = results(events).find((r) => r.label === 'held-on-old-code');
    const afterFailure = (v?.afterFailure ?? []) as Array<string | null>;
    const afterFix = (v?.afterFix ?? []) as Array<string | null>;
    const first = a?.failed;
    const heldOk = held?.ok === true && held.body === held.expectBody;
    const served = v?.aliveAfterFailure === true && load.sent > 0 && load.failed === 0 && heldOk;
    const count = (xs: Array<string | null>, x: unknown) => xs.filter((y) => y === x).length;
    const servedText = `${load.sent} requests, ${load.failed} failed ${JSON.stringify(load.kinds)}${load.samples.length ? ` e.g. ${JSON.stringify(load.samples.slice(0, 3))}` : ''}; held: ${heldOk ? 'completed' : `failed (${held?.error ?? 'not run'})`}${v?.aliveAfterFailure === true ? '' : '; the subject exited after the failing restart'}`;
    const firstText = `failing restart: ${first?.how ?? 'not run'}${first?.error ? ` (${first.error})` : ''} after ${Number(first?.ms).toFixed(0)} ms`;
    // The new code answered although the configuration said codeFails: the hook the subject declares is
    // not honoured, and what it does with code that cannot start is not shown. What was served is still
    // judged: a request lost meanwhile fails.
    if (count(afterFailure, v?.broken) > 0) {
      return [
        served
          ? unobservable(
              'RESTART.ZERO_DOWNTIME',
              'a restart whose new code cannot start leaves the old code serving',
              ['failingCode'],
              `the new code served although the configuration said codeFails: true (${firstText}; ${count(afterFailure, v?.broken)}/${afterFailure.length} answers name it): the subject declares failingCode but does not honour it; ${servedText}`,
            )
          : verdict(
              'RESTART.ZERO_DOWNTIME',
              false,
              'a restart refuses, resets and fails no request, and the request held on the old code completes',
              `${servedText}; ${firstText} (the new code served although the configuration said codeFails: true)`,
            ),
      ];
    }
    // served by the old code: every answer names the version from before (or, when that one could not be
    // read, any version but the new code's), and a restart reported complete meanwhile was not complete
    const oldServes =
      afterFailure.length === VERIFY &&
      afterFailure.every((x) => x !== null && (v?.before === null ? x !== v?.broken : x === v?.before));
    const good = a?.good ?? [];
    const last = good.at(-1);
    const recovered =
      (last?.how === 'probe' || last?.how === 'version') &&
      afterFix.length === VERIFY &&
      afterFix.every((x) => x === v?.fixed);
    const goodText = good.length
      ? good
          .map(
            (g, i) =>
              `${i ? 'asked again after the grace period: ' : ''}${g.how} after ${Number(g.ms).toFixed(0)} ms${g.error ? ` (${g.error})` : ''}`,
          )
          .join(', ')
      : 'not asked (the subject exited)';
    return [
      verdict(
        'RESTART.ZERO_DOWNTIME',
        served && oldServes && recovered,
        `a restart whose new code cannot start fails no request, the request held on the old code completes, ${VERIFY} new connections after it are served by the old version, and a later restart (code that starts) completes with the new version serving`,
        `${servedText}; ${firstText}, then ${count(afterFailure, v?.before)}/${afterFailure.length} answers name the old version ${String(v?.before)}${afterFailure.some((x) => x !== v?.before) ? ` (others: ${JSON.stringify([...new Set(afterFailure.filter((x) => x !== v?.before))])})` : ''}; next restart: ${goodText}, ${count(afterFix, v?.fixed)}/${afterFix.length} answers name ${String(v?.fixed)}`,
        { requests: load.sent, failed: load.failed, failedRestartMs: Number(first?.ms ?? Number.NaN) },
      ),
    ];
  },
});
