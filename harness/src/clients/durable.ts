/**
 * The durable writer: PUT /kv/<key> with a Jepsen-style history. Each operation is recorded as
 * `invoke`, then `ok` (201: acknowledged), `fail` (a definite refusal: connect refused, 4xx/5xx),
 * or `info` (indeterminate: reset or timeout while in flight — the write may or may not exist).
 */
import type { History } from '../history.js';
import { request } from './http.js';

export type OpResult = 'ok' | 'fail' | 'info';

/** Operation ids: an outcome names the invoke it ends (`op`), so two writes of one key and value stay apart. */
let nextOp = 0;

export async function durablePut(port: number, key: string, value: string, history: History): Promise<OpResult> {
  const op = ++nextOp;
  history.add('client', 'kv-invoke', { op, key, value });
  const r = await request(port, {
    method: 'PUT',
    path: `/kv/${key}`,
    body: value,
    label: `put ${key}`,
    timeoutMs: 10_000,
  });
  const type: OpResult =
    r.ok && r.status === 201 ? 'ok' : r.error === 'refused' || (r.ok && r.status !== 201) ? 'fail' : 'info';
  history.add('client', `kv-${type}`, { op, key, value, status: r.status, error: r.error });
  return type;
}

/** Runs `fn` over `items` with at most `limit` calls in flight (keeps a large batch to a few sockets). */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * Reads every key back (after a restart) and records what was found, in one `kv-read` event.
 * `concurrency` reads run at once (1: one after another).
 */
export async function readAll(
  port: number,
  keys: string[],
  history: History,
  concurrency = 1,
): Promise<Record<string, string | null>> {
  const found: Record<string, string | null> = {};
  await eachLimit(keys, concurrency, async (key) => {
    const r = await request(port, { path: `/kv/${key}`, label: `get ${key}` });
    found[key] = r.ok && r.status === 200 ? r.body.toString() : null;
  });
  history.add('client', 'kv-read', { found });
  return found;
}
