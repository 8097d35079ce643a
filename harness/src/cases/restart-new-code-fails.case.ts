import { randomBytes } from 'node:crypto';
import { defineCase } from '../case.js';
import { HttpConnection, request } from '../clients/http.js';
import { loadCount, notes, results, unobservable, verdict } from '../grade/index.js';
import { http, recordResult, startHeld } from '../workload.js';
import { awaitRestart, type RestartCompletion, requestRestart, versionOf } from './restart-zero-downtime.case.js';

const CLIENTS = 2;
const KEEPALIVE_CLIENTS = 1;
/** Per client: the load is bounded in count as well as in time. */
const MAX_REQUESTS = 5000;
/** New connections checked after each restart attempt: every one must name the version expected. */
const VERIFY = 20;
/** Each restart attempt must end (restart-failed, restart-done) within this: the reference needs under 1 s. */
const ATTEMPT_MS = 10_000;
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
  description: `${CLIENTS} clients open a new connection per request and ${KEEPALIVE_CLIENTS} keep-alive client sends back to back, each bounded to ${MAX_REQUESTS} requests, and a request is held on the old code (half the grace period, 0.5 to 2 s). The harness writes a new codeVersion with codeFails: true and asks for a restart: the subject reports restart-failed, and ${VERIFY} new connections in a row must still be served by the old version. Then it writes another codeVersion without codeFails and asks again: that restart must complete and the new version serve ${VERIFY} new connections in a row. No request may fail, and the held request completes byte-exact.`,
  requirements: ['RESTART.ZERO_DOWNTIME'],
  edgeCases: ['E22'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['restart'],
    capabilities: ['restart', 'failingCode', 'probe'],
    needs: ['version', 'live', 'hold'],
  },
  timeout: 'long',
  async run(ctx) {
    const s = await ctx.launch();
    const port = s.ports.http!;
    const holdMs = holdMsFor(ctx.manifest.gracePeriodMs);
    const before = versionOf(await http(ctx, s, { path: '/version', label: 'version-before' }));
    const broken = `broken-${randomBytes(4).toString('hex')}`;
    const fixed = `fixed-${randomBytes(4).toString('hex')}`;

    let stop = false;
    const fresh = async () => {
      for (let i = 0; i < MAX_REQUESTS && !stop && !s.exited; i++) {
        await request(port, { path: '/live', label: 'load', timeoutMs: ctx.ms(5000), history: ctx.history });
      }
    };
    const keepAlive = async () => {
      let conn: HttpConnection | undefined;
      for (let i = 0; i < MAX_REQUESTS && !stop && !s.exited; i++) {
        if (conn === undefined || conn.isClosed) {
          conn?.close();
          try {
            conn = await HttpConnection.open(port, { label: 'keepalive', history: ctx.history });
          } catch {
            conn = undefined; // recorded by the client as a failed connect
            continue;
          }
        }
        const r = await conn.request({ path: '/live', label: 'keepalive', timeoutMs: ctx.ms(5000) });
        if (!r.ok || r.headers.connection?.toLowerCase() === 'close') {
          conn.close();
          conn = undefined;
        }
      }
      conn?.close();
    };
    const clients = [
      ...Array.from({ length: CLIENTS }, () => fresh()),
      ...Array.from({ length: KEEPALIVE_CLIENTS }, () => keepAlive()),
    ];
    const answers = async (label: string) => {
      const out: Array<string | null> = [];
      for (let i = 0; i < VERIFY && !s.exited; i++)
        out.push(versionOf(await http(ctx, s, { path: '/version', label })));
      return out;
    };
    let failedAttempt: RestartCompletion = { how: 'timeout', ms: Number.NaN };
    let goodAttempt: RestartCompletion | undefined;
    let afterFailure: Array<string | null> = [];
    let afterFix: Array<string | null> = [];
    let held: Awaited<ReturnType<typeof startHeld>> | undefined;
    try {
      held = await startHeld(ctx, s, { path: `/hold?ms=${holdMs}`, label: 'held-on-old-code' });
      const t0 = await requestRestart(ctx, s, broken, 'signal', { codeFails: true });
      failedAttempt = await awaitRestart(ctx, s, t0, broken, { withinMs: ATTEMPT_MS });
      afterFailure = await answers('version-after-failure');
      // the held request ends on the old code before the next restart retires it
      if (held) recordResult(ctx, await held.done, { expectBody: `held ${holdMs}\n` });
      held = undefined;
      if (!s.exited) {
        const t1 = await requestRestart(ctx, s, fixed);
        goodAttempt = await awaitRestart(ctx, s, t1, fixed, { withinMs: ATTEMPT_MS });
        afterFix = await answers('version-after-fix');
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      if (held) recordResult(ctx, await held.done, { expectBody: `held ${holdMs}\n` });
    }
    ctx.note('attempts', { failed: failedAttempt, good: goodAttempt ?? null });
    ctx.note('versions', { before, broken, fixed, afterFailure, afterFix, alive: !s.exited });
  },
  grade({ events }) {
    const a = notes(events, 'attempts')[0] as
      | { failed?: RestartCompletion; good?: RestartCompletion | null }
      | undefined;
    const v = notes(events, 'versions')[0];
    const load = loadCount(events, ['load', 'keepalive']);
    const held = results(events).find((r) => r.label === 'held-on-old-code');
    const afterFailure = (v?.afterFailure ?? []) as Array<string | null>;
    const afterFix = (v?.afterFix ?? []) as Array<string | null>;
    const first = a?.failed;
    // the new code started although the configuration said codeFails: the hook is not honoured, so
    // nothing here shows what the subject does with code that cannot start
    if (first?.how === 'probe' || first?.how === 'version' || afterFailure.some((x) => x === v?.broken)) {
      return [
        unobservable(
          'RESTART.ZERO_DOWNTIME',
          'a restart whose new code cannot start leaves the old code serving',
          ['failingCode'],
          `the new code started although the configuration said codeFails: true (restart ${first?.how ?? 'not run'}; ${afterFailure.filter((x) => x === v?.broken).length}/${afterFailure.length} answers name it): the subject does not honour the failingCode capability it declares`,
        ),
      ];
    }
    const oldServes = afterFailure.length === VERIFY && afterFailure.every((x) => x !== null && x === v?.before);
    const good = a?.good;
    const recovered =
      (good?.how === 'probe' || good?.how === 'version') &&
      afterFix.length === VERIFY &&
      afterFix.every((x) => x === v?.fixed);
    const heldOk = held?.ok === true && held.body === held.expectBody;
    return [
      verdict(
        'RESTART.ZERO_DOWNTIME',
        v?.alive === true && load.sent > 0 && load.failed === 0 && heldOk && oldServes && recovered,
        `a restart whose new code cannot start fails no request, the request held on the old code completes, ${VERIFY} new connections after it are served by the old version, and the next restart (code that starts) completes with the new version serving`,
        `${load.sent} requests, ${load.failed} failed ${JSON.stringify(load.kinds)}${load.samples.length ? ` e.g. ${JSON.stringify(load.samples.slice(0, 3))}` : ''}; held: ${heldOk ? 'completed' : `failed (${held?.error ?? 'not run'})`}; failing restart: ${first?.how ?? 'not run'}${first?.error ? ` (${first.error})` : ''} after ${Number(first?.ms).toFixed(0)} ms, then ${afterFailure.filter((x) => x === v?.before).length}/${afterFailure.length} answers name the old version ${String(v?.before)}${afterFailure.some((x) => x !== v?.before) ? ` (others: ${JSON.stringify([...new Set(afterFailure.filter((x) => x !== v?.before))])})` : ''}; next restart: ${good ? `${good.how} after ${Number(good.ms).toFixed(0)} ms` : 'not asked (the subject exited)'}, ${afterFix.filter((x) => x === v?.fixed).length}/${afterFix.length} answers name ${String(v?.fixed)}${v?.alive === true ? '' : '; the subject exited'}`,
        { requests: load.sent, failed: load.failed, failedRestartMs: Number(first?.ms ?? Number.NaN) },
      ),
    ];
  },
});
