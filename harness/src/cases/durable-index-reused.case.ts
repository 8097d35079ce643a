import { defineCase } from '../case.js';
import { durablePut, eachLimit, readAll } from '../clients/durable.js';
import { verifyAckedSurvive, verifyIndexOnStop } from '../grade/index.js';
import { noStopRoute, requestStop, stopBudget, waitExit } from '../workload.js';

/** Stems of the first run's keys: every prefix of each, 1 to 128 characters (the key limit). */
const FIRST_STEMS = 15;
/** The second run adds every prefix of one more stem up to this length ... */
const NEW_KEYS = 100;
/** ... and overwrites the prefixes of the first stems up to this length. */
const OVERWRITTEN_LENGTH = 8;
const MAX_KEY = 128;
/** Writes and reads in flight at once. */
const CONCURRENCY = 16;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/**
 * A stem of `MAX_KEY` key characters, the same on every run: it starts with its own letter (so the
 * stems share no prefix) and goes on with a small linear congruential sequence. No `.`: a key of dots
 * is a path segment a client or a server may normalise away.
 */
function stem(i: number): string {
  let x = 0x9e3779b9 ^ (i * 0x85ebca6b);
  let s = ALPHABET[i]!;
  while (s.length < MAX_KEY) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += ALPHABET[(x >>> 16) % ALPHABET.length];
  }
  return s;
}

/** Every prefix of `s` from `longest` characters down to 1: the long keys are written first. */
function prefixes(s: string, longest: number): string[] {
  return Array.from({ length: longest }, (_, i) => s.slice(0, longest - i));
}

/**
 * Spec: "every acknowledged write MUST be readable, complete and unchanged, after a graceful stop and
 * the next start" (DURABLE.ACK_AFTER_SYNC) and "the persist step of every clean stop path MUST write the
 * store's index ... so that the next start opens the store without scanning" (DURABLE.INDEX_ON_STOP).
 *
 * `durable.graceful-stop` stops once, on a store that started empty, and reads back 40 keys. Two
 * defects hide there. A store whose index, once loaded, is used again wrongly: the next persist step
 * writes the index from the loaded one plus the writes since (a loaded index whose entries are
 * skipped, misread or miscounted is only seen at the stop after a start that loaded it). And lookups
 * that meet a collision: with 40 keys a hash table rarely holds two keys in one probe sequence, and a
 * lookup that does not compare the whole key (its length, every byte) returns the wrong entry unseen.
 *
 * So: write 1,920 keys (every prefix of 15 stems of 128 characters, the longest first, so that a key
 * sits behind keys it is a prefix of), stop, start on the same state directory (the index is loaded),
 * overwrite 120 of them and add 100 new ones, stop again, start a third time and read all 2,020 back:
 * each must hold its latest acknowledged value, and both starts after the stops must report recovery
 * `clean`. The sizes are chosen so that a table of twice the entries rounded up to a power of two is
 * almost half full, and so that the overwrites and the new keys differ in number (a store that counts
 * an overwrite as a new key and a new key as an overwrite would otherwise count right by chance).
 */
export default defineCase({
  id: 'durable.index-reused',
  title: 'A store stopped twice, the second time after a start that loaded its index, reads back 2,020 keys exactly',
  description: `Write ${FIRST_STEMS * MAX_KEY} keys (every prefix of ${FIRST_STEMS} stems of ${MAX_KEY} characters), stop gracefully, start on the same state directory, overwrite ${FIRST_STEMS * OVERWRITTEN_LENGTH} of them and add ${NEW_KEYS}, stop again, start a third time: every key must hold its latest acknowledged value, and both starts after the stops must report recovery clean.`,
  requirements: ['DURABLE.ACK_AFTER_SYNC', 'DURABLE.INDEX_ON_STOP'],
  edgeCases: ['E34'],
  applies: {
    capabilities: ['durableStore', 'probe'],
    needs: ['kv'],
  },
  notApplicable: noStopRoute,
  // 4,200 requests, 2,160 of them writes: about 4 s here, but a store that syncs each write alone on a
  // slow disk needs far longer, and is not wrong for that
  timeout: 'long',
  async run(ctx) {
    const stems = Array.from({ length: FIRST_STEMS + 1 }, (_, i) => stem(i));
    const first = stems.slice(0, FIRST_STEMS).flatMap((s) => prefixes(s, MAX_KEY));
    const added = prefixes(stems[FIRST_STEMS]!, NEW_KEYS);
    // the shortest keys last: they land behind the keys they are prefixes of
    const overwritten = stems.slice(0, FIRST_STEMS).flatMap((s) => prefixes(s, OVERWRITTEN_LENGTH));
    overwritten.sort((a, b) => b.length - a.length);

    const s = await ctx.launch();
    await eachLimit(first, CONCURRENCY, (k) => durablePut(s.ports.http!, k, `value-${k}`, ctx.history));
    await requestStop(ctx, s);
    await waitExit(ctx, s, stopBudget(ctx));

    const second = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    const writes = [...added.map((k) => [k, `value-${k}`]), ...overwritten.map((k) => [k, `v2-${k}`])];
    await eachLimit(writes, CONCURRENCY, ([k, v]) => durablePut(second.ports.http!, k!, v!, ctx.history));
    await requestStop(ctx, second);
    await waitExit(ctx, second, stopBudget(ctx));

    const third = await ctx.launch({ stateDir: s.stateDir, ports: s.ports });
    await readAll(third.ports.http!, [...first, ...added], ctx.history, CONCURRENCY);
  },
  grade({ events }) {
    return [
      verifyAckedSurvive(events, 'two graceful stops (the second after a start that loaded the index)'),
      verifyIndexOnStop(events, 'each stop', [1, 2]),
    ];
  },
});
