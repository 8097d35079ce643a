/**
 * The control channel's authentication and its refusal log: the `Bearer` scheme matches in any case
 * (RFC 7235 section 2.1), and a flood of refused requests gives one line per interval, not one per request.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Bus } from '../../reference/src/bus.js';
import type { ConfigStore } from '../../reference/src/config.js';
import { authorized, bearerToken, createControlServer, RefusalLog } from '../../reference/src/control.js';
import type { Logger } from '../../reference/src/log.js';
import { FakeClock } from './helpers/fakes.js';

class Lines implements Logger {
  readonly lines: string[] = [];
  info(m: string) {
    this.lines.push(`info ${m}`);
  }
  warn(m: string) {
    this.lines.push(`warn ${m}`);
  }
  error(m: string) {
    this.lines.push(`error ${m}`);
  }
}

describe('Authorization: Bearer', () => {
  it.each(['Bearer tok', 'bearer tok', 'BEARER tok', 'BeArEr   tok'])('accepts %j', (h) => {
    expect(bearerToken(h)).toBe('tok');
    expect(authorized(h, 'tok')).toBe(true);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Bearertok', 'Basic tok', 'Bearer tok extra', 'Bearer wrong'])(
    'refuses %j',
    (h) => {
      expect(authorized(h, 'tok')).toBe(false);
    },
  );
});

describe('RefusalLog', () => {
  it('logs the first refusal, then one count per interval while refusals go on', async () => {
    const log = new Lines();
    const clock = new FakeClock();
    const r = new RefusalLog(log, clock, 10_000);
    for (let i = 0; i < 6000; i++) r.refused(`POST /control/stop#${i}`);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain('control POST /control/stop#0: refused (missing or wrong token)');

    await clock.advance(10_000);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]).toBe(
      'warn control: 5999 more request(s) refused in the last 10 s (missing or wrong token; last: POST /control/stop#5999)',
    );

    r.refused('GET /control/state'); // still in the burst: counted
    await clock.advance(10_000);
    expect(log.lines).toHaveLength(3);
    expect(log.lines[2]).toContain('control: 1 more request(s) refused');

    await clock.advance(10_000); // a quiet interval ends the burst, logging nothing
    expect(log.lines).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
    r.refused('POST /control/reload'); // a new burst: logged at once
    expect(log.lines).toHaveLength(4);
    expect(log.lines[3]).toContain('control POST /control/reload: refused');
    r.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('close() logs what was counted', () => {
    const log = new Lines();
    const r = new RefusalLog(log, new FakeClock(), 10_000);
    r.refused('a');
    r.refused('b');
    r.refused('c');
    r.close();
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]).toContain('control: 2 more request(s) refused');
  });
});

describe('control listener', () => {
  it('500 bad-token requests give two log lines; a lower-case "bearer" is accepted', async () => {
    const log = new Lines();
    const bus = { state: 'running' } as unknown as Bus;
    const server = createControlServer({ bus, config: {} as ConfigStore, token: 'secret', log });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const url = `http://127.0.0.1:${port}/control/state`;
      for (let i = 0; i < 500; i++) {
        const res = await fetch(url, { headers: { authorization: i % 2 ? 'Bearer wrong' : 'Basic c2VjcmV0' } });
        expect(res.status).toBe(401);
        await res.arrayBuffer();
      }
      expect(log.lines).toHaveLength(1);
      const ok = await fetch(url, { headers: { authorization: 'bearer secret' } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ state: 'running' });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]).toContain('control: 499 more request(s) refused');
  });
});
