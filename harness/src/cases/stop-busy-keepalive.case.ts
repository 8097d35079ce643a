import { defineCase } from '../case.js';
import { results, verdict, verifyConnectionClose } from '../grade/index.js';
import { noteClosedAfter, recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 700;

/**
 * Spec: "every response written after a stop request carries Connection: close and its connection
 * is not reused" (E08: Node's server.close() alone keeps serving a busy keep-alive connection).
 */
export default defineCase({
  id: 'stop.busy-keepalive-not-reused',
  title: 'A busy keep-alive connection is not reused after the stop',
  description: `On one keep-alive connection, a first request warms the connection, a second is held ${HOLD_MS} ms; the stop arrives while it is held. Its response must say Connection: close, the subject must close the connection, and a third request on it must not be served.`,
  requirements: ['STOP.CONNECTION_CLOSE'],
  edgeCases: ['E08'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
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
    await noteClosedAfter(ctx, held.conn, 'busy');
    const r3 = await held.conn.request({ path: '/hold?ms=0', label: 'reuse', timeoutMs: ctx.ms(3000) });
    recordResult(ctx, r3, { phase: 'reuse' });
    held.conn.close();
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const rs = results(events);
    const busy = rs.find((r) => r.phase === 'busy');
    const reuse = rs.find((r) => r.phase === 'reuse');
    const base = verifyConnectionClose(events, manifest);
    const ok = base.status === 'pass' && !(reuse?.ok === true && reuse.status === 200);
    return [
      verdict(
        'STOP.CONNECTION_CLOSE',
        ok,
        'the busy connection gets its response, is then closed by the subject, and no later request on it is served',
        `in-flight response: ${busy?.ok ? `${busy.status}, connection: ${busy.connection ?? '(none)'}` : `failed (${busy?.error})`}; ${base.actual}; reuse attempt: ${reuse?.ok ? `served ${reuse.status}` : `not served (${reuse?.error})`}`,
      ),
    ];
  },
});
