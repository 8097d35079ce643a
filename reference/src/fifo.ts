/**
 * `/fifo`: read one line from the FIFO the harness controls (`SIGCERT_FIFO`), without ever
 * blocking a thread.
 *
 * The obvious `fs.promises.open(fifo)` blocks a libuv threadpool thread inside open(2) until a
 * writer appears. That keeps the main loop free, but measured on Node 20: `process.exit()` then
 * hangs forever, because libuv joins its threadpool threads at exit and that one never returns.
 * A server whose stop deadline must end the process cannot afford that (and four such reads
 * would also starve the threadpool the store's fsyncs run on). So:
 *
 * 1. open the read end with O_NONBLOCK: it returns at once, writer or not;
 * 2. open a write end ourselves (also O_NONBLOCK; it succeeds since we are now a reader) and
 *    keep it until the read ends: the FIFO then never looks "closed by the last writer", so the
 *    read end is not at end-of-file while the harness has not written yet, on Linux and BSD/macOS
 *    alike (their poll/kqueue differ exactly there);
 * 3. read through a libuv pipe handle driven by epoll/kqueue on the main loop.
 *
 * Nothing blocks, and destroying the handle cancels the read. The line must end with a newline:
 * because of our own write end, a writer closing without one does not end the read.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { Socket } from 'node:net';

export class FifoReader {
  private readonly pending = new Set<Socket>();

  constructor(private readonly path: string) {}

  /** Reads up to the first newline (or end of file); resolves with the line without its newline. */
  readLine(signal?: AbortSignal): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      let pipe: Socket;
      let keeper: number;
      try {
        const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
        try {
          keeper = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
          pipe = new Socket({ fd, readable: true, writable: false });
        } catch (err) {
          closeSync(fd);
          throw err;
        }
      } catch (err) {
        return reject(err);
      }
      this.pending.add(pipe);
      const chunks: Buffer[] = [];
      const finish = (err: Error | undefined) => {
        if (!this.pending.delete(pipe)) return;
        signal?.removeEventListener('abort', onAbort);
        pipe.destroy();
        closeSync(keeper);
        if (err !== undefined) return reject(err);
        const text = Buffer.concat(chunks).toString('utf8');
        const nl = text.indexOf('\n');
        resolve(nl >= 0 ? text.slice(0, nl) : text);
      };
      const onAbort = () => finish(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      pipe.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (chunk.includes(0x0a)) finish(undefined);
      });
      pipe.on('end', () => finish(undefined));
      pipe.on('error', (err) => finish(err));
    });
  }

  /** Reads in progress. */
  get reading(): number {
    return this.pending.size;
  }

  /** Cancels every read (the stop deadline). */
  cancelAll(): void {
    for (const pipe of [...this.pending]) pipe.destroy(new Error('cancelled by the stop'));
  }
}
