import type { FileHandle } from 'node:fs/promises';
import { defineCase } from '../case.js';
import { openFifoWriter } from '../clients/fifo.js';
import type { HttpResult } from '../clients/http.js';
import { gradeLatency, gradeWithinGrace } from '../grade/index.js';
import { runLatencyTrials } from '../latency.js';
import { http } from '../workload.js';

const TRIALS = 100;

/** Spec: during a blocking read a stop signal is acknowledged within 50 ms (SHOULD, E26). */
export default defineCase({
  id: 'latency.blocking-read',
  title: `Handler latency while a request is blocked reading a FIFO (${TRIALS} trials)`,
  description: `A GET /fifo request is kept blocked on the harness's FIFO while ${TRIALS} signals are measured. If an acknowledgement does not come within 200 ms the harness writes the line to unblock the subject and measures when it finally comes. Graded on p99 against 50 ms.`,
  requirements: ['LATENCY.BLOCKING_IO', 'LATENCY.WITHIN_GRACE'],
  edgeCases: ['E26'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], capabilities: ['probe'], needs: ['fifo'] },
  exclusive: true,
  timeout: 'long',
  async run(ctx) {
    await runLatencyTrials(
      ctx,
      {
        async setup(c, s) {
          let pending: Promise<HttpResult> | null = null;
          let writer: FileHandle | null = null;
          const unblock = async () => {
            if (writer) {
              const w = writer;
              writer = null;
              try {
                await w.write('unblock\n');
              } finally {
                await w.close(); // also when the write failed (EPIPE: the subject is gone)
              }
            }
            if (pending) await pending;
            pending = null;
          };
          const arm = async () => {
            if (pending || s.exited) return;
            pending = http(c, s, { path: '/fifo', label: 'fifo', timeoutMs: c.ms(30_000) });
            // opening the FIFO for writing succeeds only once the subject has it open for reading;
            // holding our end open (without writing) keeps its read blocked
            writer = await openFifoWriter(s.fifoPath!, c.ms(5000));
            if (!writer) throw new Error('the subject never opened the FIFO for reading (GET /fifo)');
          };
          return {
            beforeTrial: arm,
            onSlow: unblock,
            teardown: async () => {
              if (pending) await unblock();
            },
          };
        },
      },
      { trials: TRIALS, slowMs: 200, maxMs: 3000, maxSlow: 5 },
    );
  },
  grade({ events, manifest }) {
    return [
      gradeLatency(events, 'LATENCY.BLOCKING_IO', 50, 'while blocked in a read', TRIALS),
      gradeWithinGrace(events, manifest.gracePeriodMs),
    ];
  },
});
