/**
 * The pidfile `$SIGCERT_STATE_DIR/server.pid` (edge case E39): written atomically (temporary
 * file, fsync, rename) once the handlers and listeners are up, and removed by its owner at the
 * end of every clean stop path, only if it still names this process.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
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

/** Removes the pidfile if it names `pid`; returns whether it did. */
export async function removePidfile(path: string, pid = process.pid): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false;
  }
  if (text.trim() !== String(pid)) return false;
  await unlink(path);
  return true;
}
