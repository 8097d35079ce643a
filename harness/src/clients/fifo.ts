/**
 * The FIFO writer (subject-protocol.md `SIGCERT_FIFO`). A blocking open for writing would park a
 * harness thread until the subject opens the FIFO for reading, possibly forever; a non-blocking open
 * fails with ENXIO while no reader exists, so the writer retries until a reader appears or a
 * deadline passes. Success therefore also proves the subject is now blocked reading it.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { History } from '../history.js';

export async function openFifoWriter(path: string, timeoutMs: number): Promise<FileHandle | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 2)); // poll interval while waiting for a reader
    }
  }
}

export async function writeFifoLine(path: string, line: string, history?: History, timeoutMs = 5000): Promise<boolean> {
  const fh = await openFifoWriter(path, timeoutMs);
  if (!fh) return false;
  try {
    await fh.write(`${line}\n`);
    history?.add('client', 'fifo-write', { line });
    return true;
  } catch {
    return false; // EPIPE (the reader went away) or EAGAIN (the FIFO is full): never a wait
  } finally {
    await fh.close();
  }
}
