/**
 * `sigcert doctor`: each declared capability and endpoint checked against the running server, and the
 * plan of the run (which cases will run, which will not and why, what cooperation would make the
 * not-observable ones testable). A declaration the server does not live up to (a probe never written, a
 * `/hold` that answers 404) is reported here, before a certification blames the wrong party.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type CaseDef, endpointLabel, notApplicableTo } from './case.js';
import { request } from './clients/http.js';
import type { Subject } from './launch/index.js';
import type { Endpoint, Manifest, Platform } from './types.js';

export interface DoctorCheck {
  /** what was declared: `capability probe`, `endpoint hold`, ... */
  what: string;
  status: 'ok' | 'fail' | 'not checked';
  detail: string;
}

const TIMEOUT_MS = 3000;

/** One request to the subject's http port: status and body, or the error. */
async function get(s: Subject, p: string, init: { method?: string; body?: string } = {}) {
  const r = await request(s.ports.http!, { path: p, timeoutMs: TIMEOUT_MS, label: `doctor ${p}`, ...init });
  return { ok: r.ok, status: r.status, body: r.body.toString('utf8'), error: r.errorMessage ?? r.error };
}

type Check = (s: Subject) => Promise<[boolean, string]>;

const said = (r: { ok: boolean; status?: number | undefined; body: string; error?: string | undefined }) =>
  r.ok ? `${r.status} ${JSON.stringify(r.body.slice(0, 60))}` : `no answer (${r.error})`;

/** What each endpoint must answer (subject protocol section 9), checked with a small request. */
const ENDPOINT_CHECKS: Partial<Record<Endpoint, Check>> = {
  live: async (s) => {
    const r = await get(s, '/live');
    return [r.ok && r.status === 200, `GET /live: ${said(r)}`];
  },
  ready: async (s) => {
    const r = await get(s, '/ready');
    return [r.ok && r.status === 200, `GET /ready (while serving): ${said(r)}`];
  },
  hold: async (s) => {
    const r = await get(s, '/hold?ms=50');
    return [r.ok && r.status === 200 && r.body === 'held 50\n', `GET /hold?ms=50: ${said(r)} (want 200 "held 50\\n")`];
  },
  cpu: async (s) => {
    const r = await get(s, '/cpu?ms=10');
    return [r.ok && r.status === 200 && r.body === 'cpu 10\n', `GET /cpu?ms=10: ${said(r)} (want 200 "cpu 10\\n")`];
  },
  download: async (s) => {
    const r = await get(s, '/download?bytes=40');
    const want = '0123456789abcdef'.repeat(3).slice(0, 40);
    return [r.ok && r.body === want, `GET /download?bytes=40: ${said(r)} (want the 0-f pattern)`];
  },
  upload: async (s) => {
    const body = 'sigcert doctor upload';
    const r = await get(s, '/upload', { method: 'POST', body });
    const sha = createHash('sha256').update(body).digest('hex');
    let ok = false;
    try {
      const j = JSON.parse(r.body) as { bytes?: number; sha256?: string };
      ok = j.bytes === body.length && j.sha256 === sha;
    } catch {
      ok = false;
    }
    return [r.ok && ok, `POST /upload: ${said(r)} (want {"bytes": ${body.length}, "sha256": "${sha.slice(0, 8)}…"})`];
  },
  kv: async (s) => {
    const put = await get(s, '/kv/sigcert-doctor', { method: 'PUT', body: 'v1' });
    const back = await get(s, '/kv/sigcert-doctor');
    return [
      put.status === 201 && back.status === 200 && back.body === 'v1',
      `PUT /kv/sigcert-doctor: ${said(put)}; GET: ${said(back)} (want 201, then 200 "v1")`,
    ];
  },
  config: async (s) => {
    const r = await get(s, '/config');
    return [r.ok && /"generation"\s*:\s*\d+/.test(r.body), `GET /config: ${said(r)} (want {"generation": n})`];
  },
  version: async (s) => {
    const r = await get(s, '/version');
    return [r.ok && /"version"\s*:/.test(r.body), `GET /version: ${said(r)} (want {"version": "…"})`];
  },
};

/** Every declared capability and endpoint that can be checked on a running subject. */
export async function checkDeclarations(s: Subject, m: Manifest): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  if (m.capabilities.probe) {
    const n = s.probeEvents.filter((e) => e.via !== 'notify').length;
    out.push({
      what: 'capability probe',
      status: n > 0 ? 'ok' : 'fail',
      detail:
        n > 0
          ? `${n} probe event(s) on fd 3 by readiness`
          : 'declared, but the server wrote no probe event on fd 3 (SIGCERT_PROBE_FD) by readiness',
    });
  }
  if (m.readiness.kind === 'notify') {
    const n = s.probeEvents.filter((e) => e.via === 'notify' && e.ev === 'notify').length;
    out.push({ what: 'readiness notify', status: 'ok', detail: `${n} sd_notify message(s), READY=1 among them` });
  }
  if (m.capabilities.pidfile) {
    const file = path.join(s.stateDir, 'server.pid');
    const pid = existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
    out.push({
      what: 'capability pidfile',
      status: pid !== null && /^\d+$/.test(pid) ? 'ok' : 'fail',
      detail: pid === null ? `no ${file} once ready` : `${file}: ${JSON.stringify(pid.slice(0, 20))}`,
    });
  }
  if (m.capabilities.controlChannel) {
    const admin = s.ports.admin;
    const r = admin
      ? await request(admin, {
          method: 'POST',
          path: '/control/reload',
          timeoutMs: TIMEOUT_MS,
          label: 'doctor control',
        })
      : null;
    // without the token the control channel must refuse (401), which shows it listens and authenticates
    out.push({
      what: 'capability controlChannel',
      status: r?.status === 401 ? 'ok' : 'fail',
      detail: !admin
        ? 'declared, but the manifest has no port "admin"'
        : `POST /control/reload without the token: ${r?.ok ? r.status : `no answer (${r?.errorMessage ?? r?.error})`} (want 401)`,
    });
  }
  for (const e of m.endpoints) {
    const check = ENDPOINT_CHECKS[e];
    if (!check) {
      out.push({
        what: `endpoint ${e}`,
        status: 'not checked',
        detail: `${endpointLabel(e)} needs a case's setup (the FIFO, a certificate pair)`,
      });
      continue;
    }
    const [ok, detail] = await check(s);
    out.push({ what: `endpoint ${e}`, status: ok ? 'ok' : 'fail', detail });
  }
  return out;
}

/** The plan of a run: each case, whether it will run, and why not. */
export function casePlan(cases: readonly CaseDef[], m: Manifest, platform: Platform): string[] {
  const run: string[] = [];
  const notObservable: string[] = [];
  const notApplicable: string[] = [];
  for (const c of cases) {
    const na = notApplicableTo(c, m, platform);
    if (!na) run.push(c.id);
    else if (na.needs?.length) notObservable.push(`  ${c.id.padEnd(40)} ${na.reason}`);
    else notApplicable.push(`  ${c.id.padEnd(40)} ${na.reason}`);
  }
  return [
    `cases that will run (${run.length}): ${run.join(', ') || 'none'}`,
    `not observable without cooperation (${notObservable.length}):`,
    ...notObservable,
    `not applicable (${notApplicable.length}):`,
    ...notApplicable,
  ];
}
