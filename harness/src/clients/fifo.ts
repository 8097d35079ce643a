/** Writes one line into the FIFO the harness controls (subject-protocol.md `SIGCERT_FIFO`). */
import { open } from 'node:fs/promises';
import type { History } from '../history.js';

/** Opening a FIFO for writing waits for a reader; fs.promises runs it off the harness's main loop. */
export async function writeFifoLine(path: string, line: string, history?: History): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.write(`${line}\n`);
    history?.add('client', 'fifo-write', { line });
  } finally {
    await fh.close();
  }
}
