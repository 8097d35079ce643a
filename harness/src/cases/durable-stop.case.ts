import { defineCase } from '../case.js';
import { durablePut, readAll } from '../clients/durable.js';
import { verifyAckedSurvive, verifyExitZero, verifyIndexOnStop } from '../grade/index.js';
import { noStopRoute, requestStop, stopBudget, waitExit } from '../workload.js';

const KEYS = 40;

/**
 * Spec: "a write is acknowledged only after it is durable and survives a graceful stop" and "a
 * clean stop persists the index so the next start needs no recovery scan" (the Zope FileStorage
 * index, E34).
 *
 * The stop is the declared stop signal, or on Windows (`--platform win32`) `POST /control/stop`: the
 * store must keep the same promises whichever way the stop is asked for.
 */
export default defineCase({
  id: 'durable.graceful-stop',
  title: 'Acknowledged writes survive a graceful stop; the next start needs no scan',
  description: `Write ${KEYS} keys concurrently (Jepsen-style history), stop gracefully (nothing in flight: exit 0), start again on the same state directory: every acknowledged key is there and recovery is reported clean.`,
  requirements: ['DURABLE.ACK_AFTER_SYNC', 'DURABLE.INDEX_ON_STOP', 'STOP.EXIT_ZERO'],
  edgeCases: ['E34'],
  applies: {
    capabilities: ['durableStore', 'probe'],
    needs: ['kv'],
  },
  notApplicable: noStopRoute,
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => durablePut(s.ports.http!, k, `value-${k}`, ctx.history)));
    await requestStop(ctx, s);
    await waitExit(ctx, s, stopBudget(ctx));
    const again = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    await readAll(again.ports.http!, keys, ctx.history);
  },
  grade({ events }) {
    return [
      verifyAckedSurvive(events, 'a graceful stop'),
      verifyIndexOnStop(events, 'a clean stop'),
      // the graceful stop after the writes, nothing in flight: exit 0 (a count of writes that never
      // returns to 0 holds the drain to the deadline, found by mutation testing of durable.ts)
      verifyExitZero(events, 0),
    ];
  },
});
