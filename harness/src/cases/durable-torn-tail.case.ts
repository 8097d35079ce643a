import { appendFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { defineCase } from '../case.js';
import { durablePut, readAll } from '../clients/durable.js';
import { describeDurable, durableSet, probe, verdict } from '../grade/index.js';
import { waitExit } from '../workload.js';

const KEYS = 20;

/**
 * Spec: "a torn log tail is detected and truncated on start". After a SIGKILL, the harness appends
 * half a record's worth of garbage to every file in the state directory (it does not know the
 * subject's format; an append-only log is the file that grows), as a torn write would leave it. The
 * kill is `terminate()` (on Windows TerminateProcess), so the case runs on every platform.
 */
export default defineCase({
  id: 'durable.torn-tail',
  title: 'A torn tail after a crash is detected and truncated; nothing acknowledged is lost',
  description: `Write ${KEYS} keys, SIGKILL, append garbage to the state files, restart: recovery must scan, report truncated bytes, and serve every acknowledged key.`,
  requirements: ['DURABLE.TORN_TAIL'],
  applies: {
    capabilities: ['crashDurability', 'durableStore', 'probe'],
    needs: ['kv'],
  },
  timeout: 'normal',
  async run(ctx) {
    const s = await ctx.launch();
    const keys = Array.from({ length: KEYS }, (_, i) => `t${i}`);
    for (const k of keys) await durablePut(s.ports.http!, k, `v-${k}`, ctx.history);
    s.terminate();
    await waitExit(ctx, s, 3000);
    const torn: string[] = [];
    for (const f of readdirSync(s.stateDir)) {
      const p = path.join(s.stateDir, f);
      if (!statSync(p).isFile() || f.endsWith('.pid')) continue;
      appendFileSync(p, Buffer.from([0x53, 0x47, 0x43, 0x52, 0x00, 0x00, 0x01, 0x00, 0xde, 0xad, 0xbe]));
      torn.push(f);
    }
    ctx.note('torn', { files: torn });
    const again = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    await readAll(again.ports.http!, keys, ctx.history);
  },
  grade({ events }) {
    const d = durableSet(events);
    const rec = probe(events, 'recovery', 1)[0]?.data;
    return [
      verdict(
        'DURABLE.TORN_TAIL',
        rec?.mode === 'scan' &&
          Number(rec.truncatedBytes) > 0 &&
          d.readBack &&
          d.lost.length === 0 &&
          d.acknowledged.length === KEYS,
        'recovery scans, truncates the torn tail (truncatedBytes > 0), and every acknowledged key is served',
        `recovery ${String(rec?.mode)} truncated ${String(rec?.truncatedBytes)} bytes; ${describeDurable(d)}`,
      ),
    ];
  },
});
