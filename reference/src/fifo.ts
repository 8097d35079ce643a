/**
 * `/fifo`: read one line from the FIFO the harness controls (`SIGCERT_FIFO`), without ever
 * blocking a thread.
 *
 * The obvious `fs.promises.open(fifo)` blocks a libuv threadpool thread inside open(2) until a
 * writer appears. That keeps the main loop free, but measured on Node 20: `process.exit()` then
 * hangs forever, because libuv joins its threadpool threads at exit and that one never returns.
 * A server whose stop deadline must end the process cannot afford that. So the FIFO is opened
 * with O_NONBLOCK (returns at once, even with no writer) and read through a libuv pipe handle
 * driven by epoll/kqueue on the main loop: nothing blocks, and destroying the handle cancels it.
 * (On Linux a FIFO read end whose writer never came is not reported as hung up, so the read
 * simply waits for the first writer.)
 */
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';

export class FifoReader {
  private readonly pending = new Set<Socket>();

  constructor(private readonly path: string) {}

  /** Reads up to the first newline (or end of file); resolves with the line without its newline. */
  readLine(signal?: AbortSignal): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      let pipe: Socket;
      try {
        const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
        pipe = new Socket({ fd, readable: true, writable: false });
      } catch (err) {
        return reject(err);
      }
      this.pending.add(pipe);
      const chunks: Buffer[] = [];
      const finish = (err: Error | undefined) => {
        if (!this.pending.delete(pipe)) return;
        signal?.removeEventListener('abort', onAbort);
        pipe.destroy();
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
