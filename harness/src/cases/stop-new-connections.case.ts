import { defineCase } from '../case.js';
import { sentFor, verifyListenerClosed } from '../grade/index.js';
import { DRAIN_START_MS } from '../grade/listener.js';
import {
  PROBE_CADENCE_MS,
  recordResult,
  sendAction,
  startConnectProber,
  startHeld,
  stopBudget,
  waitExit,
} from '../workload.js';

const HOLD_MS = 1500;

/**
 * Spec: "When the drain starts, every process of the subject MUST close its copy of every listening
 * socket, so that a new connection attempt is refused. A connection that the kernel accepted on the
 * subject's behalf MUST be served in full" (STOP.LISTENER_CLOSED, E03); 6.2: the drain starts at the
 * latest 100 ms after the stop request plus the configured pre-drain delay.
 *
 * Connect attempts start at a fixed cadence, each on its own, from just before the signal until the
 * subject exits, so a server that keeps accepting through the drain, or accepts and then resets for
 * any window longer than the cadence, is seen. A held request keeps the subject in its drain.
 */
export default defineCase({
  id: 'stop.new-connections-refused',
  title: 'New connections after the drain starts are refused, never accepted then reset',
  description: `Hold a ${HOLD_MS} ms request and send the stop signal while a new connection attempt starts every ${PROBE_CADENCE_MS} ms (each on its own) until the subject exits. Every attempt started once the drain must have begun (${DRAIN_START_MS} ms after the stop plus the pre-drain delay; with a probe, at stop-accepting if earlier) must be refused: accepted then reset or closed without a response fails, and so does a listener still serving well after the bound. Reports the time until the first refusal.`,
  requirements: ['STOP.LISTENER_CLOSED'],
  edgeCases: ['E03', 'E09'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    const m = ctx.manifest;
    const prober = startConnectProber(ctx, s, { maxMs: HOLD_MS + m.preDrainDelayMs + m.gracePeriodMs + 1000 });
    sendAction(ctx, s, 'stop');
    await prober.ended; // the subject exited, or the bounds were reached
    await prober.stop();
    recordResult(ctx, await held.done);
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    return [verifyListenerClosed(events, manifest, sentFor(events, manifest, 'stop')?.ns)];
  },
});
