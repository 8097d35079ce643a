/**
 * Readiness means every resource the server holds while idle is already held (issue 18): the CPU
 * worker thread has run its script (opened its event loop and its descriptors) before `ready`, so
 * counting threads and descriptors right at `ready` gives the same numbers as counting after any
 * number of reloads. Before the fix the thread was still starting at `ready`, and a leak check that
 * counted then saw its four descriptors appear as if a reload had leaked them.
 *
 * Linux only (/proc). Every wait is on a probe event with a deadline.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Subject } from './helpers/subject.js';

const subjects: Subject[] = [];
afterEach(async () => {
  await Promise.all(subjects.splice(0).map((s) => s.dispose()));
});

const count = (pid: number) => ({
  threads: readdirSync(`/proc/${pid}/task`).length,
  fds: readdirSync(`/proc/${pid}/fd`).length,
});

describe.runIf(process.platform === 'linux')('readiness', () => {
  it('at ready the CPU thread runs: threads and descriptors stay the same across reloads', async () => {
    const s = await Subject.start(); // returns as soon as the `ready` event is read
    subjects.push(s);
    const atReady = count(s.pid);
    for (let generation = 2; generation <= 6; generation++) {
      s.writeConfig({ generation });
      const from = s.events.length;
      s.kill('SIGHUP');
      await s.waitFor((e) => e.ev === 'reload-done' && e.generation === generation, 10_000, from);
    }
    expect(count(s.pid)).toEqual(atReady);
  });
});
