import type { CaseContext } from '../case.js';
import { defineCase } from '../case.js';
import { HttpConnection } from '../clients/http.js';
import {
  notes,
  probe,
  type RequirementId,
  unknown,
  verdict,
  verifyDrainReport,
  verifyExitZero,
} from '../grade/index.js';
import type { Subject } from '../launch/index.js';
import { http, noteClosedAfter, recordResult, sendAction, stopBudget, waitExit } from '../workload.js';

const DELAY_MS = 600;

/**
 * Spec: "readiness fails as soon as a stop is requested; liveness holds until exit" (E06) and "a
 * configured pre-drain delay keeps accepting and serving before the drain" (E05, the endpoint race).
 */
export default defineCase({
  id: 'stop.predrain-delay',
  title: 'A pre-drain delay keeps serving new connections while readiness fails',
  description: `Launch with SIGCERT_PREDRAIN_MS=${DELAY_MS}, stop, then at once ask /ready (must be 503) and /live (must be 200) on new keep-alive connections: both responses must say Connection: close and the subject must then close both connections; after the delay, new connections are refused. The stop is graceful and holds nothing: it must end with exit 0 and, with a probe, report a drain that was not cut.`,
  requirements: ['STOP.PREDRAIN_DELAY', 'STOP.READINESS_FIRST', 'STOP.CONNECTION_CLOSE'],
  // the drain after a delay is a path of its own (the delay ends it, not the stop request): a drain step
  // that waited for nothing ran to the deadline here (exit 3), found by mutation of the supervised pool
  alsoJudges: ['STOP.EXIT_ZERO', 'STOP.OBSERVABLE'],
  edgeCases: ['E05', 'E06'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['stop'],
    capabilities: ['preDrainDelay'],
    needs: ['ready', 'live'],
  },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch({ env: { SIGCERT_PREDRAIN_MS: String(DELAY_MS) } });
    const before = await http(ctx, s, { path: '/ready', label: 'ready-before' });
    recordResult(ctx, before, { phase: 'before' });
    const sig = sendAction(ctx, s, 'stop');
    if (ctx.manifest.capabilities.probe) {
      await s.waitProbe((e) => e.ev === 'signal' && e.sig === sig, ctx.ms(2000), 'stop acknowledgement');
    }
    // Keep-alive requests: a request saying Connection: close would get it back from any server. Both
    // are answered before either connection is watched, so the watch does not push /live past the delay.
    const ready = await keepAliveRequest(ctx, s, '/ready', 'ready-during');
    const live = await keepAliveRequest(ctx, s, '/live', 'live-during');
    await Promise.all([ready, live].map((w) => w()));
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'stop-accepting', ctx.ms(DELAY_MS + 3000), 'stop-accepting')
        .catch(() => ctx.note('no-stop-accepting'));
      const after = await http(ctx, s, { path: '/live', label: 'live-after' });
      recordResult(ctx, after, { phase: 'after' });
    }
    await waitExit(ctx, s, stopBudget(ctx) + DELAY_MS);
  },
  grade({ events, manifest }) {
    const rs = notes(events, 'result');
    const get = (label: string) => rs.find((r) => r.label === label);
    const before = get('ready-before');
    const readyDuring = get('ready-during');
    const liveDuring = get('live-during');
    const after = get('live-after');
    const sig = probe(events, 'signal')[0];
    const closedAt = probe(events, 'stop-accepting')[0];
    const delay = sig && closedAt ? Number(BigInt(closedAt.ns) - BigInt(sig.ns)) / 1e6 : Number.NaN;
    // A request refused or reset before any answer says nothing about readiness or the header: the
    // listener was already closed, which is the missing delay's failure (STOP.PREDRAIN_DELAY), not theirs
    // (found by the zoo's predrain-skipped, charged three requirements for one missing delay).
    // (a request that connected and then timed out is a hung server, not a closed listener: judged)
    const answered = (r: Record<string, unknown> | undefined) => r?.status !== undefined || r?.error === 'timeout';
    const readinessDetail = '/ready is 200 before the stop and 503 right after it, while /live stays 200';
    const readinessActual = `/ready before: ${before?.status ?? before?.error}; /ready after stop: ${readyDuring?.status ?? readyDuring?.error}; /live after stop: ${liveDuring?.status ?? liveDuring?.error}`;
    const out = [
      answered(readyDuring)
        ? verdict(
            'STOP.READINESS_FIRST',
            before?.status === 200 &&
              readyDuring?.status === 503 &&
              (!answered(liveDuring) || liveDuring?.status === 200),
            readinessDetail,
            readinessActual,
          )
        : unknown(
            'STOP.READINESS_FIRST',
            readinessDetail,
            `${readinessActual}: no answer after the stop (the listener was closed), nothing to judge`,
          ),
    ];
    const delayOk =
      liveDuring?.ok === true &&
      (!manifest.capabilities.probe || (delay >= DELAY_MS * 0.9 && after?.error === 'refused'));
    out.push(
      verdict(
        'STOP.PREDRAIN_DELAY',
        delayOk,
        `new connections are served for the ${DELAY_MS} ms pre-drain delay, then refused`,
        `served during the delay: ${liveDuring?.ok ? 'yes' : 'no'}; listener closed ${Number.isFinite(delay) ? `${delay.toFixed(1)} ms` : '?'} after the signal; after: ${after ? (after.ok ? `served ${after.status}` : after.error) : 'not checked'}`,
        Number.isFinite(delay) ? { preDrainMs: delay } : undefined,
      ),
    );
    const closed = notes(events, 'conn-after');
    const closedOf = (label: string) => closed.find((c) => c.label === label)?.how;
    const during = [readyDuring, liveDuring];
    out.push(
      (during.some(answered) ? verdict : (id: RequirementId, _ok: boolean, d: string, a: string) => unknown(id, d, a))(
        'STOP.CONNECTION_CLOSE',
        during
          .filter(answered)
          .every(
            (r) =>
              r?.ok === true &&
              r.askedClose !== true &&
              String(r.connection ?? '').toLowerCase() === 'close' &&
              (closedOf(String(r.label)) === 'fin' || closedOf(String(r.label)) === 'rst'),
          ),
        'responses written during the pre-drain delay (after the stop request) to keep-alive requests carry Connection: close, and the subject closes their connections',
        during
          .map(
            (r, i) =>
              `${i === 0 ? '/ready' : '/live'}: ${r?.ok ? `Connection: ${r.connection ?? '(none)'}, connection ${closedOf(String(r.label)) ?? 'not watched'}` : `failed (${r?.error ?? 'not sent'})`}`,
          )
          .join('; '),
      ),
    );
    out.push(verifyExitZero(events));
    const asked = events.find(
      (e) => (e.source === 'harness' && e.kind === 'signal-sent') || (e.source === 'case' && e.kind === 'control-sent'),
    );
    out.push(verifyDrainReport(events, manifest, { at: asked?.ns, held: [] }));
    return out;
  },
});

/**
 * One request on a fresh connection that asks to keep it open; the result is recorded. Returns the watch
 * of the connection afterwards: it waits for the subject's close (note `conn-after`: fin, rst or timeout)
 * and then closes our side.
 */
async function keepAliveRequest(
  ctx: CaseContext,
  s: Subject,
  path: string,
  label: string,
): Promise<() => Promise<void>> {
  let conn: HttpConnection;
  try {
    conn = await HttpConnection.open(s.ports.http!, { history: ctx.history, label });
  } catch (e) {
    const err = e as Error & { kind?: string };
    ctx.note('result', { label, ok: false, error: err.kind ?? 'other', errorMessage: err.message, phase: 'during' });
    return async () => {};
  }
  const r = await conn.request({ path, label, headers: { connection: 'keep-alive' }, timeoutMs: ctx.ms(10_000) });
  recordResult(ctx, r, { phase: 'during' });
  return async () => {
    try {
      if (r.ok) await noteClosedAfter(ctx, conn, label, 1000);
    } finally {
      conn.close();
    }
  };
}
