/**
 * Readiness kind `notify` (systemd's sd_notify protocol as a standard probe): the translation of
 * messages into probe events, and real runs through it: the reference (which speaks notify beside its
 * probe) graded without its probe, Caddy (whose packaged unit is Type=notify), and a server that reports
 * its stop too late, which fails STOP.READINESS_FIRST.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { NotifyTranslator, parseNotify } from '../../harness/src/launch/notify.js';
import type { Report } from '../../harness/src/report/model.js';
import { needTool, systemTool } from './system-tools.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/sigcert.js');
const fixture = (f: string) => path.join(root, 'test/harness/fixtures', f);

async function certify(manifest: string, grep: string): Promise<Report> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'sigcert-notify-'));
  const json = path.join(out, 'report.json');
  const r = await execa('node', [bin, 'run', '--subject', manifest, '--grep', grep, '--json', json, '--out', out], {
    cwd: root,
    reject: false,
    env: { NO_COLOR: '1', CI: '1' },
    timeout: 110_000,
  });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`sigcert exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(readFileSync(json, 'utf8')) as Report;
}

function verdictOf(report: Report, caseId: string, requirement: string) {
  return report.cases.find((c) => c.id === caseId)?.verdicts.find((v) => v.requirement === requirement);
}

/** The probe-style events of a case's timeline that came through the notify socket. */
function notifyEvents(report: Report, caseId: string): string[] {
  const c = report.cases.find((x) => x.id === caseId);
  return (c?.timeline ?? [])
    .filter((e) => e.source === 'probe' && e.data.via === 'notify' && e.data.ev !== 'notify')
    .map((e) => `${String(e.data.ev)}${e.data.state ? ` ${String(e.data.state)}` : ''}`);
}

describe('notify messages become probe events', () => {
  const evs = (t: NotifyTranslator, msg: string, ns = 1000n) =>
    t.translate(msg, ns).map((e) => `${String(e.event.ev)}${e.event.state ? ` ${String(e.event.state)}` : ''}`);

  it('parses KEY=VALUE lines', () => {
    expect(parseNotify('READY=1\nSTATUS=serving on :80\nbad line\n')).toEqual({ READY: '1', STATUS: 'serving on :80' });
  });

  it('the first READY=1 is readiness; RELOADING=1 then READY=1 is a reload; STOPPING=1 the stop', () => {
    const t = new NotifyTranslator();
    // a RELOADING=1 before the first READY=1 is the initial configuration load (Caddy), not a reload
    expect(evs(t, 'RELOADING=1')).toEqual(['notify', 'state RELOADING']);
    expect(evs(t, 'READY=1\nMAINPID=42')).toEqual(['notify', 'ready', 'state STARTED']);
    expect(evs(t, 'READY=1')).toEqual(['notify']); // a repeated READY=1 outside a reload says nothing new
    expect(evs(t, 'RELOADING=1\nMONOTONIC_USEC=5')).toEqual(['notify', 'state RELOADING']);
    expect(evs(t, 'READY=1')).toEqual(['notify', 'reload-done', 'state STARTED']);
    expect(evs(t, 'STOPPING=1')).toEqual(['notify', 'state STOPPING']);
    expect(evs(t, 'STATUS=bye\nERRNO=5')).toEqual(['notify']);
  });

  it('RELOADING=1 is stamped with its MONOTONIC_USEC (the server clock), others with the receive time', () => {
    const t = new NotifyTranslator();
    t.translate('READY=1', 1n);
    const [, state] = t.translate('RELOADING=1\nMONOTONIC_USEC=1234', 999_999n);
    expect(state?.ns).toBe(1_234_000n);
    expect(t.translate('STOPPING=1', 777n)[1]?.ns).toBe(777n);
  });
});

describe('certifying through sd_notify', () => {
  it('the reference without its probe: ready by READY=1; reloads and the stop are reported', async () => {
    const report = await certify(fixture('reference-notify.json'), '^map\\.(stop\\.SIGTERM|reload\\.SIGHUP)$');
    expect(report.cases.map((c) => [c.id, c.outcome])).toEqual(
      expect.arrayContaining([
        ['map.reload.SIGHUP', 'pass'],
        ['map.stop.SIGTERM', 'pass'],
      ]),
    );
    const ready = report.cases
      .find((c) => c.id === 'map.stop.SIGTERM')
      ?.timeline.find((e) => e.source === 'harness' && e.kind === 'ready');
    expect(ready?.data.kind).toBe('notify');
    expect(notifyEvents(report, 'map.reload.SIGHUP')).toEqual(
      expect.arrayContaining(['ready', 'state RELOADING', 'reload-done']),
    );
    // what notify makes testable: the reload's start and end, and readiness failing before the listener
    expect(verdictOf(report, 'map.reload.SIGHUP', 'RELOAD.OBSERVABLE')?.status).toBe('pass');
    expect(verdictOf(report, 'map.stop.SIGTERM', 'STOP.READINESS_FIRST')?.status).toBe('pass');
    // what it does not: persistence still needs the probe
    expect(verdictOf(report, 'map.stop.SIGTERM', 'STOP.PERSIST_ALL_PATHS')).toMatchObject({
      status: 'unknown',
      needs: ['probe'],
    });
  });

  it('Caddy through its own sd_notify messages: ready, then STOPPING=1 before the listener closes', async (ctx) => {
    const found = await execa('caddy', ['version'], { reject: false }).then((r) => r.exitCode === 0);
    needTool(ctx, systemTool('caddy', found, 'apt-get install -y caddy'));
    const report = await certify(path.join(root, 'subjects/caddy-notify/manifest.json'), '^map\\.stop\\.SIGTERM$');
    expect(report.cases.find((c) => c.id === 'map.stop.SIGTERM')?.outcome).toBe('pass');
    expect(notifyEvents(report, 'map.stop.SIGTERM')).toEqual(expect.arrayContaining(['ready', 'state STOPPING']));
    expect(verdictOf(report, 'map.stop.SIGTERM', 'STOP.READINESS_FIRST')?.status).toBe('pass');
  });

  it('a server that closes its listener before it sends STOPPING=1 fails STOP.READINESS_FIRST', async () => {
    const report = await certify(fixture('notify-late-stopping.json'), '^map\\.stop\\.SIGTERM$');
    const v = verdictOf(report, 'map.stop.SIGTERM', 'STOP.READINESS_FIRST');
    expect(v?.status).toBe('fail');
    expect(v?.actual).toMatch(/STOPPING=1 2\d\d\.\d ms after the stop, first refused connect/);
    expect(report.verdict.mustFailures).toContain('STOP.READINESS_FIRST');
  });
});
