import { defineCase } from '../case.js';
import { durablePut, readAll } from '../clients/durable.js';
import { describeDurable, durableSet, probe, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';

const WRITERS = 8;
const KILL_AFTER = 60;

/**
 * Spec: "acknowledged writes survive SIGKILL" when crash durability is declared. Writers run
 * concurrently; the harness SIGKILLs the subject after a number of acknowledgements, restarts it,
 * and reads everything back. In-flight writes (`info`) may go either way; acknowledged ones must
 * be there. The kill is `terminate()`: SIGKILL, or on Windows (`--platform win32` too) TerminateProcess,
 * a forced end no handler sees, so the case runs on every platform.
 */
export default defineCase({
  id: 'durable.sigkill',
  title: 'Acknowledged writes survive SIGKILL; the next start scans and loses nothing',
  description: `${WRITERS} writers write keys concurrently; after ${KILL_AFTER} acknowledgements the subject is SIGKILLed mid-stream, then restarted on the same state: every acknowledged key must be present with its value, and recovery is a scan.`,
  requirements: ['DURABLE.CRASH', 'DURABLE.ACK_AFTER_SYNC'],
  applies: {
    capabilities: ['crashDurability', 'durableStore', 'probe'],
    needs: ['kv'],
  },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    let acks = 0;
    let killed = false;
    const keys: string[] = [];
    const writer = async (w: number) => {
      for (let i = 0; i < 1000 && !killed; i++) {
        const key = `w${w}-${i}`;
        keys.push(key);
        const r = await durablePut(s.ports.http!, key, `v-${key}`, ctx.history);
        if (r === 'ok' && ++acks >= KILL_AFTER && !killed) {
          killed = true;
          s.terminate();
        }
        if (r !== 'ok') break;
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    await waitExit(ctx, s, 3000);
    const again = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    await readAll(again.ports.http!, keys, ctx.history);
  },
  grade({ events }) {
    const d = durableSet(events);
    const acked = d.acknowledged.length;
    const recovery = probe(events, 'recovery', 1)[0];
    return [
      verdict(
        'DURABLE.ACK_AFTER_SYNC',
        acked >= 1 && d.readBack && d.lost.length === 0,
        'none of the writes acknowledged before the SIGKILL is lost',
        describeDurable(d),
      ),
      verdict(
        'DURABLE.CRASH',
        acked >= 1 && d.readBack && d.lost.length === 0 && d.corrupt.length === 0,
        'every write acknowledged before SIGKILL is present with its value; nothing is corrupt',
        `${describeDurable(d)}; recovery ${String(recovery?.data.mode ?? 'not reported')}`,
        { acknowledged: acked, lost: d.lost.length },
      ),
    ];
  },
});
