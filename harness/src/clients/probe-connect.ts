/**
 * The raw TCP connect prober: the detector for "accept-then-reset" (E03). It connects, sends a
 * complete request, and says what happened: refused, served (a full response), reset after accept,
 * closed without a response, or timeout.
 */
import type { History } from '../history.js';
import { HttpConnection } from './http.js';

export type ConnectOutcome = 'refused' | 'served' | 'reset' | 'eof' | 'timeout';

export async function connectProbe(
  port: number,
  opts: { history?: History; path?: string; timeoutMs?: number; label?: string } = {},
): Promise<{ outcome: ConnectOutcome; status?: number; connection?: string }> {
  const label = opts.label ?? 'connect-probe';
  let conn: HttpConnection;
  try {
    conn = await HttpConnection.open(port, { history: opts.history, label, timeoutMs: opts.timeoutMs ?? 3000 });
  } catch (e) {
    const kind = (e as { kind?: string }).kind;
    const outcome: ConnectOutcome = kind === 'refused' ? 'refused' : kind === 'reset' ? 'reset' : 'timeout';
    opts.history?.add('client', 'connect-probe', { label, outcome });
    return { outcome };
  }
  try {
    const r = await conn.request({
      path: opts.path ?? '/',
      headers: { connection: 'close' },
      timeoutMs: opts.timeoutMs ?? 3000,
      label,
    });
    const outcome: ConnectOutcome = r.ok
      ? 'served'
      : r.error === 'reset'
        ? 'reset'
        : r.error === 'early-eof'
          ? 'eof'
          : r.error === 'refused'
            ? 'refused'
            : 'timeout';
    opts.history?.add('client', 'connect-probe', { label, outcome, status: r.status });
    return { outcome, status: r.status, connection: r.headers.connection };
  } finally {
    conn.close();
  }
}
