/**
 * Configuration reload, in-process, through the real bus and real files: an invalid file keeps
 * the old configuration; reloads never overlap; a storm ends on the last file written.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bus } from '../../reference/src/bus.js';
import { realClock } from '../../reference/src/clock.js';
import { ConfigStore, parseConfig } from '../../reference/src/config.js';
import type { Probe, ProbeFields } from '../../reference/src/probe.js';
import { MemoryLogger } from './helpers/fakes.js';
import { writeJsonAtomic } from './helpers/subject.js';

class RecordingProbe implements Probe {
  readonly enabled = true;
  readonly events: Array<{ ev: string } & ProbeFields> = [];
  emit(ev: string, fields?: ProbeFields): void {
    this.events.push({ ev, ...fields });
  }
  emitAt(_t: bigint, ev: string, fields?: ProbeFields): void {
    this.emit(ev, fields);
  }
  flushSync(): void {}
}

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sigcert-config-'));
  file = join(dir, 'config.json');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A started bus whose only reload subscriber is the configuration store. */
async function setup(read?: (path: string) => Promise<string | Buffer>) {
  const probe = new RecordingProbe();
  const log = new MemoryLogger();
  const config = new ConfigStore({ path: file, loadTls: false, probe, log, read });
  const exits: number[] = [];
  const bus = new Bus({ graceMs: 1000, clock: realClock, log, emit: () => {}, exit: (c) => exits.push(c) });
  bus.subscribe('start', 'config', () => config.loadInitial());
  bus.subscribe('reload', 'config', () => config.reload());
  await bus.start();
  return { probe, log, config, bus };
}

describe('parseConfig', () => {
  it.each([
    ['not JSON', '{'],
    ['an array', '[1]'],
    ['no generation', '{"greeting":"hi"}'],
    ['generation 0', '{"generation":0}'],
    ['a fractional generation', '{"generation":1.5}'],
    ['a string generation', '{"generation":"2"}'],
    ['a bad tls section', '{"generation":2,"tls":{"cert":1}}'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseConfig(text)).toThrow();
  });

  it('accepts a positive integer generation and keeps the other fields', () => {
    expect(parseConfig('{"generation":7,"greeting":"hi"}')).toEqual({
      generation: 7,
      data: { generation: 7, greeting: 'hi' },
    });
  });
});

describe('configuration reload', () => {
  it('an invalid file keeps the old configuration; a valid one then swaps', async () => {
    writeJsonAtomic(file, { generation: 1, greeting: 'one' });
    const { config, bus, probe } = await setup();
    expect(config.current.generation).toBe(1);

    for (const bad of ['{ nope', '{"greeting":"no generation"}', '{"generation":-3}']) {
      writeFileSync(file, bad);
      const outcome = await bus.request('reload', 'app');
      expect(outcome.status).toBe('failed');
      expect(config.current.generation).toBe(1);
      expect(config.current.data.greeting).toBe('one');
      expect(bus.state).toBe('STARTED');
    }
    expect(probe.events.filter((e) => e.ev === 'reload-failed')).toHaveLength(3);
    expect(probe.events.filter((e) => e.ev === 'reload-done')).toHaveLength(0);

    writeJsonAtomic(file, { generation: 2, greeting: 'two' });
    await expect(bus.request('reload', 'app')).resolves.toEqual({ status: 'done' });
    expect(config.current.generation).toBe(2);
    expect(config.current.data.greeting).toBe('two');
    expect(probe.events.at(-1)).toEqual({ ev: 'reload-done', generation: 2 });
    expect(probe.events.at(-2)).toEqual({ ev: 'reload-begin', generation: 1 });
  });

  it('a missing file on reload keeps the old configuration', async () => {
    writeJsonAtomic(file, { generation: 4 });
    const { config, bus } = await setup();
    rmSync(file);
    await expect(bus.request('reload', 'app')).resolves.toMatchObject({ status: 'failed' });
    expect(config.current.generation).toBe(4);
  });

  it('a storm of reloads never overlaps and ends on the last file written', async () => {
    writeJsonAtomic(file, { generation: 1 });
    let reading = 0;
    let maxReading = 0;
    let reads = 0;
    const slowRead = async (path: string) => {
      reads++;
      reading++;
      maxReading = Math.max(maxReading, reading);
      try {
        await new Promise((resolve) => setTimeout(resolve, 20)); // widen the window for overlaps
        return await readFile(path);
      } finally {
        reading--;
      }
    };
    const { config, bus, probe } = await setup(slowRead);
    expect(reads).toBe(1);

    const outcomes = [];
    for (let generation = 2; generation <= 21; generation++) {
      writeJsonAtomic(file, { generation });
      outcomes.push(bus.request('reload', 'signal'));
    }
    const results = await Promise.all(outcomes);

    expect(results.every((o) => o.status === 'done')).toBe(true);
    expect(maxReading).toBe(1); // serialised
    expect(reads).toBe(1 + 2); // the first reload plus exactly one coalesced follow-up
    expect(config.current.generation).toBe(21);
    expect(JSON.parse(readFileSync(file, 'utf8')).generation).toBe(21);
    const done = probe.events.filter((e) => e.ev === 'reload-done');
    expect(done).toHaveLength(2);
    expect(done.at(-1)?.generation).toBe(21);
    expect(bus.state).toBe('STARTED');
  });

  it('a reload requested while one runs is served by a follow-up that reads the latest file', async () => {
    writeJsonAtomic(file, { generation: 1 });
    let reader: (path: string) => Promise<Buffer> = (path) => readFile(path);
    const { config, bus } = await setup((path) => reader(path));

    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstReadDone!: () => void;
    const firstRead = new Promise<void>((resolve) => {
      firstReadDone = resolve;
    });
    let calls = 0;
    reader = async (path) => {
      const text = await readFile(path);
      if (++calls === 1) {
        firstReadDone();
        await gate; // hold the first reload after it read generation 2
      }
      return text;
    };

    writeJsonAtomic(file, { generation: 2 });
    const first = bus.request('reload', 'signal');
    await firstRead;
    writeJsonAtomic(file, { generation: 3 });
    const second = bus.request('reload', 'control');
    writeJsonAtomic(file, { generation: 4 });
    release();
    await first;
    await second;
    expect(calls).toBe(2);
    expect(config.current.generation).toBe(4);
  });
});
