import { createHash } from 'node:crypto';
import { defineCase, signalFor } from '../case.js';
import { HttpConnection } from '../clients/http.js';
import { gracefulExitVerdicts, results, verdict, verifyConnectionClose, verifyDrain } from '../grade/index.js';
import { noteClosedAfter, recordResult, reloadAndWait, stopBudget, waitExit } from '../workload.js';

const TOTAL = 64 * 1024;
const CHUNK = 4 * 1024;
const INTERVAL_MS = 25;

function expectedHash(): string {
  // the slow body writer sends byte (0x61 + offset % 26) for each chunk, see clients/http.ts
  const h = createHash('sha256');
  for (let sent = 0; sent < TOTAL; sent += CHUNK)
    h.update(Buffer.alloc(Math.min(CHUNK, TOTAL - sent), 0x61 + (sent % 26)));
  return h.digest('hex');
}

/**
 * Spec: "signals during slow uploads and downloads never fail the request" (E04, EINTR) and the
 * drain lets an in-flight upload finish. A reload signal (when declared) and then the stop signal
 * arrive while the body is still being sent.
 */
export default defineCase({
  id: 'io.slow-upload',
  title: 'Signals during a slow upload: the upload completes and is counted exactly',
  description: `Upload ${TOTAL} bytes in ${CHUNK}-byte chunks every ${INTERVAL_MS} ms on a keep-alive connection; after the first chunks, send the reload signal (if declared) and then the stop signal. The response must report every byte and the right SHA-256; written after the stop, it must say Connection: close, and the subject must then close the connection.`,
  requirements: ['IO.EINTR', 'STOP.DRAIN.IN_FLIGHT', 'STOP.EXIT_ZERO', 'STOP.CONNECTION_CLOSE'],
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E04'],
  applies: { platforms: ['linux', 'darwin'], actions: ['stop'], needs: ['upload'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const conn = await HttpConnection.open(s.ports.http!, { history: ctx.history, label: 'upload' });
    const done = conn.request({
      method: 'POST',
      path: '/upload',
      slowBody: { total: TOTAL, chunk: CHUNK, intervalMs: INTERVAL_MS },
      timeoutMs: ctx.ms(15_000),
      label: 'upload',
    });
    // the upload is in flight once a few chunks went out: observed on our own socket's byte count
    await waitBytesWritten(conn, 3 * CHUNK, ctx.ms(3000));
    await reloadAndWait(ctx, s); // when declared: a reload finished while the transfer runs
    s.signal(signalFor(ctx.manifest, 'stop')!);
    const r = await done;
    recordResult(ctx, r, { expectHash: expectedHash() });
    // its response started after the stop: the subject closes the connection after it
    if (r.ok) await noteClosedAfter(ctx, conn, 'upload', 1000);
    conn.close();
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const r = results(events)[0];
    const got = uploadReceipt(r ?? {});
    const ok = r?.ok === true && r.status === 200 && got.bytes === TOTAL && got.sha256 === r.expectHash;
    return [
      verdict(
        'IO.EINTR',
        ok,
        `the upload completes: ${TOTAL} bytes, sha256 ${String(r?.expectHash).slice(0, 12)}…`,
        r?.ok ? `${r.status}: ${got.bytes} bytes, sha256 ${String(got.sha256).slice(0, 12)}…` : `failed (${r?.error})`,
      ),
      verifyDrain(events, manifest, {
        labels: ['upload'],
        what: 'the slow upload',
        complete: (x) => uploadReceipt(x).bytes === TOTAL && uploadReceipt(x).sha256 === x.expectHash,
      }),
      verifyConnectionClose(events, manifest),
      ...gracefulExitVerdicts(events, manifest),
    ];
  },
});

/** Resolve once the connection has written at least n body bytes (bounded by a deadline). */
async function waitBytesWritten(conn: HttpConnection, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (conn.bytesWritten < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** The subject's receipt for an upload: `{"bytes":N,"sha256":"…"}` in the response body. */
function uploadReceipt(r: Record<string, unknown>): { bytes?: number; sha256?: string } {
  try {
    return JSON.parse(String(r.body ?? '{}')) as { bytes?: number; sha256?: string };
  } catch {
    return {};
  }
}
