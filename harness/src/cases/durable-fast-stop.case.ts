import { defineCase, signalFor } from '../case.js';
import { durablePut, readAll } from '../clients/durable.js';
import { verifyAckedSurvive, verifyIndexOnStop, verifyPersist } from '../grade/index.js';
import { stopBudget, waitExit } from '../workload.js';

const WRITERS = 32;
const PER_WRITER = 20;
/** The fast stop is sent once this many writes were acknowledged: the rest are still coming. */
const ACKED_BEFORE_STOP = 40;

/**
 * Spec: "the persist step of every clean stop path (graceful, fast, deadline, ...) MUST write the
 * store's index ... so that the next start ... reports recovery mode clean" (DURABLE.INDEX_ON_STOP) and
 * "a write is acknowledged only after it is durable" (DURABLE.ACK_AFTER_SYNC).
 *
 * `durable.graceful-stop` stops with nothing in flight, so the persist step never has to wait for a
 * write. Here a fast stop lands while writers are busy: writes already handed to the store must be on
 * disk before the index that covers the log is written, or a batch appended after the index makes it
 * stale and the next start scans (found by mutation testing of the reference's group commit, whose
 * `barrier()` could resolve early unseen).
 *
 * Whether writes are still queued when the persist step runs depends on the disk and the CPU: on a
 * loaded machine the store can be idle at that moment, and an early index covers everything by luck.
 * A subject with `capabilities.slowStore` is therefore launched with `SIGCERT_FAULT=slow-store` (its
 * store syncs one write at a time, each 10 ms longer): with 32 writers the store always has a write in
 * flight and others queued behind it, so the stop meets pending writes on every run; a persist step
 * that stops waiting after the first of them (a barrier resolved by any settle) is caught too. Without the capability the case runs
 * the same way on the real disk.
 */
export default defineCase({
  id: 'durable.fast-stop-in-flight',
  title: 'A fast stop during concurrent writes: acknowledged writes survive, the next start needs no scan',
  description: `${WRITERS} writers put ${PER_WRITER} keys each, one after another, until a put is refused; after ${ACKED_BEFORE_STOP} acknowledgements the declared fast-stop signal arrives while they write (with capabilities.slowStore, under SIGCERT_FAULT=slow-store: writes are queued at the stop on every run). Started again on the same state directory, every acknowledged key must be there and recovery must be reported clean.`,
  requirements: ['DURABLE.INDEX_ON_STOP', 'DURABLE.ACK_AFTER_SYNC'],
  // a start on the state directory that fails leaves every acknowledged write unreadable
  launchFault: 'DURABLE.ACK_AFTER_SYNC',
  // a subject that dies in the fast stop (an unhandled error of a request it cut) never persists: that
  // is the persist step skipped on the fast-stop path, not only a stale index
  alsoJudges: ['STOP.PERSIST_ALL_PATHS'],
  edgeCases: ['E34'],
  applies: {
    platforms: ['linux', 'darwin'],
    actions: ['fast-stop'],
    capabilities: ['durableStore', 'probe'],
    needs: ['kv'],
  },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch(ctx.manifest.capabilities.slowStore ? { env: { SIGCERT_FAULT: 'slow-store' } } : {});
    const sig = signalFor(ctx.manifest, 'fast-stop')!;
    let acked = 0;
    let onEnough!: () => void;
    const enough = new Promise<void>((r) => {
      onEnough = r;
    });
    const keys: string[] = [];
    const writer = async (w: number) => {
      // writers keep going through the stop (until a put is refused or cut): the store has writes queued
      // or being written when the fast stop's persist step runs
      for (let i = 0; i < PER_WRITER; i++) {
        const key = `w${w}k${i}`;
        keys.push(key);
        const r = await durablePut(s.ports.http!, key, `value-${key}`, ctx.history);
        if (r === 'ok' && ++acked >= ACKED_BEFORE_STOP) onEnough();
        if (r !== 'ok') return; // the subject is stopping: this writer is done
      }
    };
    const writers = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    await Promise.race([enough, writers]);
    s.signal(sig);
    await writers;
    await waitExit(ctx, s, stopBudget(ctx));
    const again = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    await readAll(again.ports.http!, keys, ctx.history);
  },
  grade({ events, manifest }) {
    return [
      ...verifyPersist(events, manifest, 'fast-stop'),
      verifyIndexOnStop(events, 'a fast stop that landed during writes'),
      verifyAckedSurvive(events, 'a fast stop during writes'),
    ];
  },
});
