import { randomBytes } from 'node:crypto';
import { defineCase, SubjectFaultError } from '../case.js';
import { HttpConnection, type HttpResult } from '../clients/http.js';
import { notes, results, verdict } from '../grade/index.js';
import { nowNs } from '../history.js';
import { recordResult } from '../workload.js';
import { awaitRestart, type RestartCompletion, requestRestart } from './restart-zero-downtime.case.js';

/**
 * The old generation's keep-alive connections: two idle at the restart (one carries a slow last request,
 * one a quick one), one busy across it (a held request, then a quick last one).
 */
const OLD = [
  { label: 'old-slow', slow: true, busy: false },
  { label: 'old-quick', slow: false, busy: false },
  { label: 'old-busy', slow: false, busy: true },
] as const;

/** How soon after the write a close with no response counts as the server's idle close racing it. */
const RACE_MS = 100;

/** What became of the one more request an old keep-alive connection carried after the restart. */
export interface LastRequest {
  label: string;
  /** the server had closed the idle connection before the request was written: allowed, nothing to judge */
  closedBefore: boolean;
  ok?: boolean;
  status?: number;
  error?: string;
  /** the status line and headers had arrived (the server had taken the request on) */
  headers?: boolean;
  connection?: string;
  bodyOk?: boolean;
  expectBody?: string;
  /** how the connection ended after a complete response: `fin`, `rst`, or `timeout` (still open) */
  closedAfter?: string;
  ms?: number;
}

/** How long the slow last request is held: past a linger of up to a second, well inside the grace period. */
export function lastHoldMs(gracePeriodMs: number): number {
  return Math.max(100, Math.min(1500, Math.floor(gracePeriodMs / 2)));
}

/**
 * Spec: "Requests in flight on the old generation MUST complete byte-exact, and once the restart is reported
 * complete every request on a new connection MUST be served by the new code (a keep-alive connection the old
 * generation accepted may carry one more request, answered with `Connection: close`)" (RESTART.ZERO_DOWNTIME,
 * E22). restart.zero-downtime loads the subject with instant requests; this case looks at the old
 * generation's keep-alive connections after the restart is complete, idle ones and one busy across the
 * restart: the one request each may still carry is a request like any other (no failure, byte-exact), it
 * says `Connection: close`, and the connection then ends. A server may instead close such a connection before the request arrives: that
 * is allowed, and only a response it began and did not finish, or one without the header, fails.
 */
export default defineCase({
  id: 'restart.keepalive-last-request',
  title:
    'After a restart, an idle keep-alive connection of the old code carries at most one more request: answered in full, with Connection: close',
  description:
    'Two keep-alive connections are each served one request, then left idle; a third carries a GET /hold that is in flight across the restart. The harness restarts the subject with a new codeVersion and waits until the restart is complete (probe restart-done or /version). The held request must complete byte-exact. Then one more request goes on each old connection: a slow GET /hold (half the grace period, at most 1.5 s: longer than a linger of up to a second) and instant GET /live requests. Each may find its connection already closed by the server (allowed); a response the server began must complete byte-exact, say Connection: close, and be followed by the end of the connection.',
  requirements: ['RESTART.ZERO_DOWNTIME'],
  edgeCases: ['E22'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['restart'],
    capabilities: ['restart'],
    needs: ['hold', 'live', 'version'],
  },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const port = s.ports.http!;
    const conns: HttpConnection[] = [];
    const holdMs = lastHoldMs(ctx.manifest.gracePeriodMs);
    let busy: Promise<HttpResult> | undefined;
    try {
      for (const o of OLD) {
        const c = await HttpConnection.open(port, { label: o.label, history: ctx.history });
        conns.push(c);
        if (o.busy) {
          // in flight across the restart: its headers are out before the restart is asked for
          let onHeaders!: () => void;
          const headers = new Promise<void>((res) => {
            onHeaders = res;
          });
          busy = c.request({
            path: `/hold?ms=${holdMs}`,
            label: 'old-busy-held',
            timeoutMs: ctx.ms(holdMs + 5000),
            onHeaders: () => onHeaders(),
          });
          await Promise.race([headers, busy]);
          continue;
        }
        const r = await c.request({ path: '/live', label: `${o.label}-first`, timeoutMs: ctx.ms(5000) });
        if (!r.ok) {
          throw new SubjectFaultError(
            `failed GET /live before the restart: ${r.error ?? ''}`.trim(),
            'RESTART.ZERO_DOWNTIME',
          );
        }
      }
      const version = `restarted-${randomBytes(4).toString('hex')}`;
      const t0 = await requestRestart(ctx, s, version);
      const completion: RestartCompletion = await awaitRestart(ctx, s, t0, version);
      ctx.note('restart', { ...completion });
      const heldDone = busy!.then((r) => {
        recordResult(ctx, r, { expectBody: `held ${holdMs}\n` });
        return r;
      });
      if (completion.how !== 'probe' && completion.how !== 'version') {
        await heldDone;
        return;
      }
      // the idle connections' last requests go at once (a linger is short); the busy one's after its response
      await Promise.all(
        OLD.map(async (o, i) => {
          const c = conns[i]!;
          const label = `${o.label}-last`;
          const held = o.busy ? await heldDone : undefined;
          if (held !== undefined && held.headers.connection?.toLowerCase() === 'close') {
            // the held response announced the end of its connection: no request after it; it must end
            const closedAfter = await c.waitClosed(ctx.ms(ctx.manifest.gracePeriodMs + 1000));
            ctx.note('last-request', {
              label,
              closedBefore: closedAfter !== 'timeout',
              ...(closedAfter === 'timeout'
                ? { ok: true, status: 200, connection: 'close', bodyOk: true, closedAfter }
                : {}),
            } satisfies LastRequest);
            return;
          }
          if (c.isClosed) {
            ctx.note('last-request', { label, closedBefore: true } satisfies LastRequest);
            return;
          }
          const expectBody = o.slow ? `held ${holdMs}\n` : undefined;
          const r: HttpResult = await c.request({
            path: o.slow ? `/hold?ms=${holdMs}` : '/live',
            label,
            timeoutMs: ctx.ms(holdMs + 5000),
          });
          const settledMs = Number(nowNs() - BigInt(r.sentNs)) / 1e6;
          const ok = r.ok && r.status === 200;
          const closedAfter = ok ? await c.waitClosed(ctx.ms(ctx.manifest.gracePeriodMs + 1000)) : undefined;
          ctx.note('last-request', {
            label,
            closedBefore: false,
            ok: r.ok,
            status: r.status,
            error: r.error,
            headers: r.headersNs !== undefined,
            connection: r.headers.connection,
            bodyOk: expectBody === undefined || r.body.toString('latin1') === expectBody,
            expectBody,
            closedAfter,
            ms: settledMs,
          } satisfies LastRequest);
        }),
      );
    } finally {
      for (const c of conns) c.close();
    }
  },
  grade({ events }) {
    const rs = notes(events, 'restart')[0] as RestartCompletion | undefined;
    const last = notes(events, 'last-request') as unknown as LastRequest[];
    const complete = rs?.how === 'probe' || rs?.how === 'version';
    const held = results(events).find((r) => r.label === 'old-busy-held');
    const heldOk = held?.ok === true && held.body === held.expectBody;
    const faults = last.flatMap((l) => {
      if (l.closedBefore) return [];
      // closed before any byte of a response, within RACE_MS of the write: the server closed the idle
      // connection as the request went out (the race every keep-alive client has); a request it never
      // began is not a failed one. A close later than that ended a request the server had taken.
      if (!l.ok && l.headers !== true && l.error !== 'timeout' && Number(l.ms) <= RACE_MS) return [];
      if (!l.ok) return [`${l.label}: ${l.headers ? 'cut after its headers' : 'never answered'} (${String(l.error)})`];
      const out: string[] = [];
      if (l.status !== 200 || l.bodyOk !== true)
        out.push(`${l.label}: status ${String(l.status)}, body not byte-exact`);
      if (l.connection?.toLowerCase() !== 'close') out.push(`${l.label}: no Connection: close`);
      if (l.closedAfter === 'timeout') out.push(`${l.label}: the connection stayed open after Connection: close`);
      return out;
    });
    const describe = (l: LastRequest) =>
      l.closedBefore
        ? `${l.label}: closed by the server before it was sent`
        : `${l.label}: ${l.ok ? `${String(l.status)} in ${Number(l.ms).toFixed(0)} ms, Connection: ${l.connection ?? '(none)'}, then ${String(l.closedAfter)}` : `failed (${String(l.error)}${l.headers ? ', after its headers' : ', no response began'})`}`;
    return [
      verdict(
        'RESTART.ZERO_DOWNTIME',
        complete && heldOk && last.length === OLD.length && faults.length === 0,
        'once the restart is complete, one more request on an idle keep-alive connection of the old code is either not taken (the connection was closed) or answered byte-exact with Connection: close, and the connection then ends',
        `restart ${rs?.how ?? 'not run'}${rs?.error ? ` (${rs.error})` : ''}; held across the restart: ${held === undefined ? 'not run' : heldOk ? `completed, Connection: ${String(held.connection ?? '(none)')}` : `failed (${String(held.error)})`}; ${last.map(describe).join('; ') || 'no request sent'}${faults.length ? ` — ${faults.join('; ')}` : ''}`,
      ),
    ];
  },
});
