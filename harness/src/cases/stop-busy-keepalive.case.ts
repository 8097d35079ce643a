import { defineCase } from '../case.js';
import { results, unknown, verdict, verifyConnectionClose } from '../grade/index.js';
import { noteClosedAfter, recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 700;
/** How long after its response the busy connection may stay open (scaled by the run's slowness). */
const CLOSE_WITHIN_MS = 1000;

/**
 * Spec: "every response written after a stop request carries Connection: close and its connection
 * is not reused" (E08: Node's server.close() alone keeps serving a busy keep-alive connection).
 */
export default defineCase({
  id: 'stop.busy-keepalive-not-reused',
  title: 'A busy keep-alive connection is not reused after the stop',
  description: `On one keep-alive connection, a first request warms the connection, a second is held ${HOLD_MS} ms; the stop arrives while it is held. A longer request on another connection keeps the drain going after it, so the exit does not close the connection for the subject. The subject must close the busy connection within ${CLOSE_WITHIN_MS} ms of its response, and a third request on it must not be served.`,
  requirements: ['STOP.CONNECTION_CLOSE'],
  edgeCases: ['E08'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    // Outlasts the busy response and the wait for its close: until then the drain, and the process, go
    // on, so a connection closed only by the exit is seen as left open.
    const keeperMs = HOLD_MS + ctx.ms(CLOSE_WITHIN_MS) + 1000;
    const keeper = await startHeld(ctx, s, { path: `/hold?ms=${keeperMs}`, label: 'keeper' });
    const held = await startHeld(ctx, s, { path: '/hold?ms=0', label: 'warm' });
    recordResult(ctx, await held.done, { phase: 'warm' });
    // second request on the same, now busy, connection
    let onHeaders!: () => void;
    const inFlight = new Promise<void>((r) => {
      onHeaders = r;
    });
    const second = held.conn.request({
      path: `/hold?ms=${HOLD_MS}`,
      label: 'busy',
      onHeaders: () => onHeaders(),
      timeoutMs: ctx.ms(10_000),
    });
    await Promise.race([inFlight, second]);
    sendAction(ctx, s, 'stop');
    const r2 = await second;
    recordResult(ctx, r2, { phase: 'busy' });
    if (r2.ok) await noteClosedAfter(ctx, held.conn, 'busy', CLOSE_WITHIN_MS);
    const r3 = await held.conn.request({ path: '/hold?ms=0', label: 'reuse', timeoutMs: ctx.ms(3000) });
    recordResult(ctx, r3, { phase: 'reuse' });
    held.conn.close();
    recordResult(ctx, await keeper.done, { phase: 'keeper' });
    keeper.conn.close();
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const rs = results(events);
    const busy = rs.find((r) => r.phase === 'busy');
    const reuse = rs.find((r) => r.phase === 'reuse');
    const base = verifyConnectionClose(events, manifest);
    const reused = reuse?.ok === true && reuse.status === 200;
    const detail =
      'the busy connection gets its response, is then closed by the subject, and no later request on it is served';
    const actual = `in-flight response: ${busy?.ok ? `${busy.status}, connection: ${busy.connection ?? '(none)'}` : `failed (${busy?.error})`}; ${base.actual}; reuse attempt: ${reuse?.ok ? `served ${reuse.status}` : `not served (${reuse?.error})`}`;
    // a busy request that never completed leaves nothing to judge, unless its connection served again
    if (base.status === 'unknown' && !reused) return [unknown('STOP.CONNECTION_CLOSE', detail, actual)];
    return [verdict('STOP.CONNECTION_CLOSE', base.status === 'pass' && !reused, detail, actual)];
  },
});
