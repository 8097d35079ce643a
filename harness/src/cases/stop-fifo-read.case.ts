import { defineCase, signalFor } from '../case.js';
import { openFifoWriter } from '../clients/fifo.js';
import { ackLatency, gracefulExitVerdicts, sent, verdict, verifyAckWithinGrace, verifyDrain } from '../grade/index.js';
import { http, recordResult, stopBudget, waitAck, waitExit } from '../workload.js';

/**
 * Spec: "during a blocking read a stop signal is acknowledged within 50 ms" (SHOULD, E26); the
 * blocked request still completes. The harness knows the read is blocked because its own open of
 * the FIFO for writing returns only once the subject opened it for reading.
 */
export default defineCase({
  id: 'stop.during-fifo-read',
  title: 'Stop while a request is blocked reading a FIFO',
  description:
    'GET /fifo blocks on the FIFO the harness controls. Once the subject has opened it, send the stop signal, wait (bounded) for the acknowledgement, then write the line. Latency is graded against 50 ms; the request must complete with the line.',
  requirements: ['LATENCY.BLOCKING_IO', 'LATENCY.WITHIN_GRACE', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E26'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'], needs: ['fifo'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    if (!s.fifoPath) throw new Error('no FIFO on this platform');
    const pending = http(ctx, s, { path: '/fifo', label: 'fifo', timeoutMs: ctx.ms(10_000) });
    const fh = await openFifoWriter(s.fifoPath, ctx.ms(5000)); // succeeds once the subject opened it for reading
    if (!fh) throw new Error('the subject never opened the FIFO for reading (GET /fifo)');
    try {
      ctx.note('fifo-open', {});
      const sig = signalFor(ctx.manifest, 'stop')!;
      const t = s.signal(sig);
      await waitAck(ctx, s, sig, t, 1000);
      await fh.write('line-from-harness\n');
    } finally {
      await fh.close(); // also when the wait or the write failed (a subject that died): no descriptor left to GC
    }
    recordResult(ctx, await pending, { expectBody: 'line-from-harness' });
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const send = sent(events)[0];
    const lat = send ? ackLatency(events, send) : null;
    return [
      verdict(
        'LATENCY.BLOCKING_IO',
        lat !== null && lat <= 50,
        'the stop is acknowledged within 50 ms while a request is blocked in a read',
        lat === null
          ? 'no acknowledgement while the read was blocked (1 s)'
          : `acknowledged after ${lat.toFixed(3)} ms`,
        lat === null ? undefined : { handlerLatencyMs: lat },
      ),
      verifyAckWithinGrace(lat, manifest.gracePeriodMs),
      verifyDrain(events, manifest, { labels: ['fifo'], trim: true, what: 'the request blocked in a FIFO read' }),
      ...gracefulExitVerdicts(events, manifest),
    ];
  },
});
