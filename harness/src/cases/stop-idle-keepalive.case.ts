import { defineCase } from '../case.js';
import { ms, notes, sent, unknown, verdict } from '../grade/index.js';
import { recordResult, sendAction, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 2000;
const IDLE = 4;

/**
 * Spec: "idle keep-alive connections are closed when the drain starts" (E07), "with FIN, not RST"
 * (E09). A held request keeps the drain open so an idle connection left open would be visible.
 */
export default defineCase({
  id: 'stop.idle-keepalive-closed',
  title: 'Idle keep-alive connections are closed (FIN) when the drain starts',
  description: `Open ${IDLE} keep-alive connections that each served one request and are idle, hold one more request for ${HOLD_MS} ms, then stop. Each idle connection must be closed by the subject with FIN long before the held request ends.`,
  requirements: ['STOP.IDLE_KEEPALIVE_CLOSED', 'STOP.FIN_NOT_RST'],
  edgeCases: ['E07', 'E09'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const idle = [];
    for (let i = 0; i < IDLE; i++) {
      const h = await startHeld(ctx, s, { path: '/hold?ms=0', label: `idle-${i}` });
      recordResult(ctx, await h.done, { phase: 'warm' });
      idle.push(h.conn);
    }
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    sendAction(ctx, s, 'stop');
    const closes = await Promise.all(idle.map((c) => c.waitClosed(ctx.ms(HOLD_MS - 500))));
    closes.forEach((how, i) => {
      ctx.note('idle-close', { i, how });
    });
    recordResult(ctx, await held.done, { phase: 'held' });
    for (const c of idle) c.close();
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events }) {
    const send = sent(events)[0];
    const closeOf = (i: number) =>
      events.find(
        (e) =>
          e.source === 'client' && e.kind === 'conn-closed' && e.data.label === `idle-${i}` && e.data.how !== 'local',
      );
    const closes = notes(events, 'idle-close');
    // a connection the subject closed before the signal (its own idle timeout) says nothing about the stop
    const before = closes.filter((c) => {
      const e = closeOf(Number(c.i));
      return send !== undefined && e !== undefined && BigInt(e.ns) < BigInt(send.ns);
    });
    const judged = closes.filter((c) => !before.includes(c));
    const closed = judged.filter((c) => c.how === 'fin' || c.how === 'rst');
    const fin = closed.filter((c) => c.how === 'fin');
    const times = judged
      .map((c) => closeOf(Number(c.i)))
      .filter((e) => e !== undefined && send !== undefined)
      .map((e) => ms(send!.ns, e!.ns));
    const slowest = times.length ? Math.max(...times) : Number.NaN;
    const beforeNote = before.length ? `; ${before.length} closed on their own before the signal (not judged)` : '';
    const detail = `all ${IDLE} idle keep-alive connections open at the signal are closed by the subject while a request is still draining`;
    if (judged.length === 0) {
      return [
        unknown(
          'STOP.IDLE_KEEPALIVE_CLOSED',
          detail,
          `every idle connection was already closed before the signal${beforeNote}`,
        ),
        unknown(
          'STOP.FIN_NOT_RST',
          'idle connections are closed with FIN, not reset',
          'no connection was open at the signal',
        ),
      ];
    }
    return [
      verdict(
        'STOP.IDLE_KEEPALIVE_CLOSED',
        closes.length === IDLE && closed.length === judged.length,
        detail,
        `${closed.length} of ${judged.length} closed (${judged.map((c) => c.how).join(', ')})${Number.isFinite(slowest) ? `; last close ${slowest.toFixed(1)} ms after the signal` : ''}${beforeNote}`,
        Number.isFinite(slowest) ? { idleCloseMs: slowest } : undefined,
      ),
      verdict(
        'STOP.FIN_NOT_RST',
        closed.length > 0 && fin.length === closed.length,
        'idle connections are closed with FIN, not reset',
        `${fin.length} FIN, ${closed.length - fin.length} RST${beforeNote}`,
      ),
    ];
  },
});
