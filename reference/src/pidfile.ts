/**
 * The pidfile `$SIGCERT_STATE_DIR/server.pid` (edge case E39): written atomically (temporary
 * file, fsync, rename) once the handlers and listeners are up, and removed by its owner at the
 * end of every clean stop path, only if it still names this process.
 *
 * The removal is synchronous: it is the last step before `process.exit`, reads a few bytes and
 * unlinks one name (no fsync: a pidfile left behind by a power loss names a dead process, which
 * is what readers check anyway). Done inline it costs two system calls, where the asynchronous
 * calls cost five round trips through libuv's thread pool, each waiting for the event loop.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const PIDFILE_NAME = 'server.pid';

export async function writePidfile(dir: string, pid = process.pid): Promise<string> {
  const path = join(dir, PIDFILE_NAME);
  const tmp = `${path}.${pid}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(`${pid}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  return path;
}

/** Removes the pidfile if it names `pid`; returns whether it did. Throws only if the unlink fails. */
export function removePidfile(path: string, pid = process.pid): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  if (text.trim() !== String(pid)) return false;
  unlinkSync(path);
  return true;
}
