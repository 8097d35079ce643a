/**
 * The durable writer: PUT /kv/<key> with a Jepsen-style history. Each operation is recorded as
 * `invoke`, then `ok` (201: acknowledged), `fail` (a definite refusal: connect refused, 4xx/5xx),
 * or `info` (indeterminate: reset or timeout while in flight — the write may or may not exist).
 */
import type { History } from '../history.js';
import { request } from './http.js';

export type OpResult = 'ok' | 'fail' | 'info';

export async function durablePut(port: number, key: string, value: string, history: History): Promise<OpResult> {
  history.add('client', 'kv-invoke', { key, value });
  const r = await request(port, {
    method: 'PUT',
    path: `/kv/${key}`,
    body: value,
    label: `put ${key}`,
    timeoutMs: 10_000,
  });
  const type: OpResult =
    r.ok && r.status === 201 ? 'ok' : r.error === 'refused' || (r.ok && r.status !== 201) ? 'fail' : 'info';
  history.add('client', `kv-${type}`, { key, value, status: r.status, error: r.error });
  return type;
}

/** Reads every key back (after a restart) and records what was found. */
export async function readAll(port: number, keys: string[], history: History): Promise<Record<string, string | null>> {
  const found: Record<string, string | null> = {};
  for (const key of keys) {
    const r = await request(port, { path: `/kv/${key}`, label: `get ${key}` });
    found[key] = r.ok && r.status === 200 ? r.body.toString() : null;
  }
  history.add('client', 'kv-read', { found });
  return found;
}
