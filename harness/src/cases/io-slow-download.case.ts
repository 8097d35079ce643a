import { createHash } from 'node:crypto';
import { defineCase, signalFor } from '../case.js';
import { downloadPattern } from '../clients/http.js';
import { gracefulExitVerdicts, results, verdict, verifyDrain } from '../grade/index.js';
import { recordResult, reloadAndWait, startHeld, stopBudget, waitExit } from '../workload.js';

const BYTES = 8 * 1024 * 1024;

/**
 * Spec: "signals during slow uploads and downloads never fail the request" (E04). A slow reader
 * keeps the subject's writes blocked on a full socket buffer while the signals arrive.
 */
export default defineCase({
  id: 'io.slow-download',
  title: 'Signals during a slow download: the body arrives complete and byte-exact',
  description: `Download ${BYTES} bytes with a slow reader; once headers arrived send the reload signal (if declared) and the stop signal. The body must be complete and equal to the pattern.`,
  requirements: ['IO.EINTR', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E04'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['download'] },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const dl = await startHeld(ctx, s, {
      path: `/download?bytes=${BYTES}`,
      label: 'download',
      slowRead: { intervalMs: 4 },
    });
    await reloadAndWait(ctx, s); // when declared: a reload finished while the transfer runs
    s.signal(signalFor(ctx.manifest, 'stop')!);
    const r = await dl.done;
    const want = createHash('sha256').update(downloadPattern(BYTES)).digest('hex');
    const got = createHash('sha256').update(r.body).digest('hex');
    recordResult(ctx, r, { exact: want === got, expectBytes: BYTES });
    dl.conn.close();
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const r = results(events)[0];
    const ok = r?.ok === true && r.exact === true && r.bytes === BYTES;
    return [
      verdict(
        'IO.EINTR',
        ok,
        `all ${BYTES} bytes arrive, equal to the pattern`,
        r?.ok ? `${r.bytes} bytes, exact: ${r.exact}` : `failed (${r?.error}) after ${r?.bytes} bytes`,
      ),
      verifyDrain(events, manifest, {
        labels: ['download'],
        what: 'the slow download',
        complete: (x) => x.exact === true && x.bytes === BYTES,
      }),
      ...gracefulExitVerdicts(events, manifest),
    ];
  },
});
