/** Small durable-filesystem helpers shared by the log and the index file. */
import { type FileHandle, open, rm } from 'node:fs/promises';

/**
 * Makes directory entries (creates, renames, unlinks) in `dir` durable. POSIX needs an fsync of
 * the directory itself for that; Windows cannot open a directory for fsync (and NTFS journals
 * metadata anyway), so it is skipped there.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes `path` if it exists; returns whether something was removed. */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Writes all of `buf` at `position`, looping over short writes. */
export async function writeAll(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten} at ${position + done}`);
    done += bytesWritten;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
