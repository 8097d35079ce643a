/**
 * The signal plugin in-process (vitest's `forks` pool: this process receives its own signals).
 * Only SIGUSR2 and SIGHUP are used, with a test map, so the test runner's own handlers for
 * SIGINT/SIGTERM are never involved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Probe, ProbeFields } from '../../reference/src/probe.js';
import {
  installSignalHandlers,
  type SignalAction,
  type SignalPlugin,
  type SignalTarget,
  WINDOWS_MAP,
} from '../../reference/src/signals.js';

class RecordingProbe implements Probe {
  readonly enabled = true;
  readonly events: Array<{ ev: string; t: bigint } & ProbeFields> = [];
  private wakers: Array<() => void> = [];
  emit(ev: string, fields?: ProbeFields): void {
    this.emitAt(process.hrtime.bigint(), ev, fields);
  }
  emitAt(t: bigint, ev: string, fields?: ProbeFields): void {
    this.events.push({ ev, t, ...fields });
    for (const w of this.wakers.splice(0)) w();
  }
  flushSync(): void {}
  /** Resolves once `n` events named `ev` exist (the listener runs on a later loop turn). */
  async count(ev: string, n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.events.filter((e) => e.ev === ev).length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ${ev} events`);
      await new Promise<void>((resolve) => {
        this.wakers.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

class FakeTarget implements SignalTarget {
  stopRequested = false;
  readonly requests: string[] = [];
  request(action: SignalAction, source: 'signal'): void {
    this.requests.push(`${action}/${source}`);
    if (action === 'stop' || action === 'fast-stop') this.stopRequested = true;
  }
}

let plugin: SignalPlugin | undefined;
afterEach(() => {
  plugin?.uninstall();
  plugin = undefined;
});

const note = () => {};

describe.runIf(process.platform !== 'win32')('signal plugin', () => {
  it('announces its handlers, stamps each delivery before anything else, and maps it to a request', async () => {
    const probe = new RecordingProbe();
    plugin = installSignalHandlers({ probe, map: { SIGHUP: 'reload', SIGUSR2: 'reopen-logs' }, note });
    expect(probe.events[0]).toMatchObject({ ev: 'handlers', signals: ['SIGHUP', 'SIGUSR2'] });
    const target = new FakeTarget();
    plugin.attach(target, note);

    const sentAt = process.hrtime.bigint();
    process.kill(process.pid, 'SIGHUP');
    await probe.count('signal', 1);
    const signal = probe.events.find((e) => e.ev === 'signal')!;
    expect(signal.sig).toBe('SIGHUP');
    expect(signal.t).toBeGreaterThanOrEqual(sentAt);
    expect(target.requests).toEqual(['reload/signal']);
  });

  it('records signals that arrive before the bus exists and replays them in order on attach', async () => {
    const probe = new RecordingProbe();
    plugin = installSignalHandlers({ probe, map: { SIGHUP: 'reload', SIGUSR2: 'stop' }, note });
    process.kill(process.pid, 'SIGHUP');
    await probe.count('signal', 1);
    process.kill(process.pid, 'SIGUSR2');
    await probe.count('signal', 2);

    const target = new FakeTarget();
    plugin.attach(target, note);
    expect(target.requests).toEqual(['reload/signal', 'stop/signal']);
  });

  it('a repeated delivery during a stop takes the repeat action; without a stop the normal one', async () => {
    const probe = new RecordingProbe();
    plugin = installSignalHandlers({
      probe,
      map: { SIGUSR2: 'stop', SIGHUP: 'reload' },
      repeatMap: { SIGUSR2: 'fast-stop' },
      note,
    });
    const target = new FakeTarget();
    plugin.attach(target, note);

    process.kill(process.pid, 'SIGHUP');
    await probe.count('signal', 1);
    process.kill(process.pid, 'SIGHUP');
    await probe.count('signal', 2);
    expect(target.requests).toEqual(['reload/signal', 'reload/signal']); // no repeat map entry

    process.kill(process.pid, 'SIGUSR2');
    await probe.count('signal', 3);
    process.kill(process.pid, 'SIGUSR2');
    await probe.count('signal', 4);
    expect(target.requests.slice(2)).toEqual(['stop/signal', 'fast-stop/signal']);
  });

  it('on Windows the console events map as PLATFORM.WINDOWS says: Ctrl+C and Ctrl+Break stop, closing fast-stops', () => {
    expect(WINDOWS_MAP).toEqual({ SIGINT: 'stop', SIGBREAK: 'stop', SIGHUP: 'fast-stop' });
  });

  it('with platform win32 the console events are the handlers, and a closed console (SIGHUP) fast-stops', async () => {
    const probe = new RecordingProbe();
    plugin = installSignalHandlers({ probe, platform: 'win32', note });
    expect(probe.events[0]).toMatchObject({ ev: 'handlers', signals: ['SIGINT', 'SIGBREAK', 'SIGHUP'] });
    const target = new FakeTarget();
    plugin.attach(target, note);
    process.kill(process.pid, 'SIGHUP'); // only SIGHUP is delivered here (the runner's SIGINT stays untouched)
    await probe.count('signal', 1);
    expect(target.requests).toEqual(['fast-stop/signal']);
  });
});
