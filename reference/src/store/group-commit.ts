/**
 * Group commit: many concurrent writers, one fsync per batch.
 *
 * `submit()` queues an item and returns a promise that settles when the batch holding it has been
 * flushed (written AND fsynced by the `flush` callback). One batch is in flight at a time. Items
 * submitted while a batch is being flushed wait in the queue and all go out together in the next
 * batch - one write, one fsync - so N concurrent writers cost about 2 fsyncs, not N. Items
 * submitted in the same tick as the first one join its batch (the loop starts a microtask later).
 *
 * With `grouped: false` every batch holds exactly one item: fsync-per-write, for comparison.
 *
 * If a flush fails, its items and everything queued behind it are rejected and the committer
 * refuses further work (see `log.ts` for why a failed fsync cannot simply be retried).
 */

interface Pending<T> {
  item: T;
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface GroupCommitOptions<T> {
  /** Writes and fsyncs the batch; items are in submission order. */
  flush: (items: T[]) => Promise<void>;
  /** false: one item per batch (fsync-per-write). */
  grouped: boolean;
  /** A batch is closed once it holds at least this many bytes (it always takes one item). */
  maxBatchBytes: number;
}

export class GroupCommit<T> {
  private queue: Pending<T>[] = [];
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private submitted = 0;
  private settled = 0;
  private barriers: { target: number; resolve: () => void }[] = [];

  constructor(private readonly options: GroupCommitOptions<T>) {}

  /** Resolves once `item` has been flushed; `bytes` sizes the batch. */
  submit(item: T, bytes: number): Promise<void> {
    if (this.failure)
      return Promise.reject(new Error('store is failed after an earlier write error', { cause: this.failure }));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, bytes, resolve, reject });
      this.submitted++;
      this.running ??= this.run();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Resolves once every item submitted before this call has settled (flushed or rejected). Unlike
   * `idle()` it does not wait for items submitted later, so it cannot be starved by a busy writer.
   */
  barrier(): Promise<void> {
    if (this.settled >= this.submitted) return Promise.resolve();
    return new Promise((resolve) => this.barriers.push({ target: this.submitted, resolve }));
  }

  private async run(): Promise<void> {
    await Promise.resolve(); // let writers of the current tick join the first batch
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      try {
        await this.options.flush(batch.map((p) => p.item));
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        const failed = [...batch, ...this.queue.splice(0)];
        for (const p of failed) p.reject(this.failure);
        this.settle(failed.length);
        break;
      }
      for (const p of batch) p.resolve();
      this.settle(batch.length);
    }
    this.running = undefined;
  }

  private settle(n: number): void {
    this.settled += n;
    const due = this.barriers.filter((b) => b.target <= this.settled);
    if (due.length === 0) return;
    this.barriers = this.barriers.filter((b) => b.target > this.settled);
    for (const b of due) b.resolve();
  }

  private takeBatch(): Pending<T>[] {
    if (!this.options.grouped) return this.queue.splice(0, 1);
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes < this.options.maxBatchBytes)) bytes += this.queue[n++]!.bytes;
    return this.queue.splice(0, n);
  }
}
