/**
 * The server's use of the durable store (`store/`): open it at startup (probe `recovery`; after a
 * recovery scan the index is written at once, a checkpoint), count the puts in flight so the drain
 * can wait for them, and persist its index on every stop path (probe `persisted`), then close it.
 * A stop after a session without puts finds the index current and writes nothing: the slow part
 * of persisting (a write and three fsyncs) is paid only when something changed.
 *
 * `persist()` opens the store if startup never got that far (a stop during STARTING still
 * persists, requirement START.STOP_PERSISTS): the store directory is then left with a valid
 * index and the next start needs no recovery scan.
 */
import type { Logger } from './log.js';
import type { Probe } from './probe.js';
import type { Store } from './store/index.js';

export class DurableState {
  private opening: Promise<Store> | undefined;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly probe: Probe,
    private readonly log: Logger,
    /** test-only: each store batch's extra time (`SIGCERT_FAULT=slow-store`) */
    private readonly batchDelayMs = 0,
  ) {}

  /** Opens the store once (memoised); the store module itself is loaded here, lazily. */
  open(): Promise<Store> {
    this.opening ??= (async () => {
      const { Store } = await import('./store/index.js');
      const { store, recovery } = await Store.open({
        dir: this.dir,
        // the slow-store fault is a slow disk that syncs one write at a time: the others queue behind it
        groupCommit: this.batchDelayMs === 0,
        batchDelayMs: this.batchDelayMs,
      });
      const detail = recovery.reason === undefined ? '' : ` (${recovery.reason})`;
      this.log.info(
        `store opened in ${this.dir}: ${recovery.mode}, ${recovery.records} records, ${recovery.truncatedBytes} bytes truncated${detail}`,
      );
      this.probe.emit('recovery', {
        mode: recovery.mode,
        records: recovery.records,
        truncatedBytes: recovery.truncatedBytes,
      });
      // A checkpoint after a recovery scan (or the first start): the index now matches the log, so
      // a stop that follows no put has nothing to write, and a restart after it loads the index.
      if (recovery.mode === 'scan') await store.persistIndex();
      return store;
    })();
    return this.opening;
  }

  /** Resolves once the value is durable (fsynced). Counted as in flight until then. */
  async put(key: string, value: Buffer): Promise<void> {
    if (this.closed) throw new Error('store is closed');
    this.inFlight++;
    try {
      const store = await this.open();
      await store.put(key, value);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.open()).get(key);
  }

  async keys(): Promise<string[]> {
    return (await this.open()).keys();
  }

  /** Resolves when no put is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Makes the index on disk cover every durable record (after the puts in flight), announces
   * `persisted`, closes the store. When the index file already covers them (no put since it was
   * loaded or written) nothing is written and nothing is fsynced.
   */
  async persist(): Promise<number> {
    this.closed = true; // later puts are refused; the ones in flight are covered by persistIndex()
    const store = await this.open();
    const { records, written } = await store.persistIndex();
    this.probe.emit('persisted', { records });
    this.log.info(`store index persisted (${records} records${written ? '' : ', unchanged: nothing written'})`);
    await store.close();
    return records;
  }
}
