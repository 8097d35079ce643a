import os from 'node:os';
import { defineCase } from '../case.js';
import { request } from '../clients/http.js';
import { connectProbe } from '../clients/probe-connect.js';
import { exitOf, gracefulExitVerdicts, notes, probe, results, verdict } from '../grade/index.js';
import { http, noteClosedAfter, recordResult, startHeld, stopBudget, waitExit } from '../workload.js';

const HOLD_MS = 700;
/** A configuration no subject may load: not JSON (subject protocol section 6). */
const INVALID_CONFIG = '{ "generation": 2, this is not json';

function nonLoopbackAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/**
 * Spec: the control channel gives "the same guarantees as the signals", refuses "a request without
 * the right token" and "changes nothing", and "listens on loopback only"; application-level requests
 * need no OS signal (BUS.APP_REQUESTS). This is also the Windows stop path.
 */
export default defineCase({
  id: 'control.channel',
  title: 'The control channel: authenticated, loopback only, reload and stop with the same guarantees',
  description: `A request with no token and one with a wrong token get 401 and change nothing; an authenticated reload of an invalid file answers 409 with the error and changes nothing; an authenticated reload answers 200 with generation 2 once it has loaded it, after which GET /control/state says STARTED; with a ${HOLD_MS} ms request held, an authenticated stop drains it (Connection: close) and exits gracefully, and GET /control/state during that drain, when the channel still answers, says STOPPING or EXITING.`,
  requirements: [
    'CONTROL.AUTH',
    'CONTROL.EQUIVALENT',
    'CONTROL.LOOPBACK',
    'BUS.APP_REQUESTS',
    'BUS.STATES',
    'PLATFORM.WINDOWS',
  ],
  edgeCases: ['E36', 'E25'],
  applies: { capabilities: ['controlChannel'], needs: ['config', 'hold'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    const admin = s.ports.admin!;
    const ctl = (p: string, token: string | null, label: string) =>
      request(admin, {
        method: 'POST',
        path: `/control/${p}`,
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        label,
        history: ctx.history,
        timeoutMs: ctx.ms(5000),
      });
    const state = (label: string) =>
      request(admin, {
        path: '/control/state',
        headers: { authorization: `Bearer ${s.token}` },
        label,
        history: ctx.history,
        timeoutMs: ctx.ms(5000),
      });
    s.writeConfig({ generation: 2 });
    recordResult(ctx, await ctl('stop', null, 'no-token'), { phase: 'no-token' });
    const badTok = await ctl('reload', 'wrong-token', 'bad-token');
    recordResult(ctx, badTok, { phase: 'bad-token' });
    const noTok = ctx.history.events.findLast(
      (e) => e.source === 'case' && e.kind === 'result' && e.data.phase === 'no-token',
    );
    if (noTok?.data.status !== 401 || badTok.status !== 401) {
      // an unauthenticated request was obeyed (a stop, a reload): the rest of the case would judge its aftermath
      ctx.note('auth-broken', {});
      await waitExit(ctx, s, stopBudget(ctx));
      return;
    }
    recordResult(ctx, await http(ctx, s, { path: '/config', label: 'config-after-bad' }), {
      phase: 'config-after-bad',
    });
    // a reload that fails answers once it has failed: 409 with the error, and generation 1 stays
    s.writeConfig(INVALID_CONFIG);
    recordResult(ctx, await ctl('reload', s.token, 'reload-invalid'), { phase: 'reload-invalid' });
    recordResult(ctx, await http(ctx, s, { path: '/config', label: 'config-after-invalid' }), {
      phase: 'config-after-invalid',
    });
    s.writeConfig({ generation: 2 });
    recordResult(ctx, await ctl('reload', s.token, 'reload'), { phase: 'reload' });
    recordResult(ctx, await http(ctx, s, { path: '/config', label: 'config-after-reload' }), {
      phase: 'config-after-reload',
    });
    recordResult(ctx, await state('state-started'), { phase: 'state-started' });
    const other = nonLoopbackAddress();
    if (other) {
      const r = await connectProbe(admin, { history: ctx.history, timeoutMs: 1000, label: 'non-loopback' }).catch(
        () => null,
      );
      // connect to the machine's non-loopback address on the admin port
      const net = await import('node:net');
      const outcome = await new Promise<string>((resolve) => {
        const sock = net.connect({ host: other, port: admin });
        sock.once('connect', () => {
          sock.destroy();
          resolve('accepted');
        });
        sock.once('error', (e: NodeJS.ErrnoException) =>
          resolve(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)),
        );
        setTimeout(() => {
          sock.destroy();
          resolve('timeout');
        }, ctx.ms(1000));
      });
      ctx.note('non-loopback', { address: other, outcome, loopback: r?.outcome });
    } else {
      ctx.note('non-loopback', { address: null });
    }
    const held = await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' });
    recordResult(ctx, await ctl('stop', s.token, 'stop'), { phase: 'stop' });
    // The held request keeps the drain going: a channel still answering must say the stop began. The
    // 202 may leave before the state changes; with a probe, ask once it reported STOPPING, without one,
    // ask again (for a second at most) while the answer is still STARTED.
    if (ctx.manifest.capabilities.probe) {
      await s
        .waitProbe((e) => e.ev === 'state' && e.state === 'STOPPING', ctx.ms(1000), 'state STOPPING')
        .catch(() => undefined);
    }
    let during = await state('state-stopping');
    const until = Date.now() + ctx.ms(1000);
    while (during.ok && /"STARTED"/.test(during.body.toString()) && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 50)); // bounded poll of the state
      during = await state('state-stopping');
    }
    recordResult(ctx, during, { phase: 'state-stopping' });
    recordResult(ctx, await held.done, { phase: 'held', expectBody: `held ${HOLD_MS}\n` });
    await noteClosedAfter(ctx, held.conn, 'held');
    await waitExit(ctx, s, stopBudget(ctx));
  },
  grade({ events, manifest }) {
    const rs = results(events);
    const get = (p: string) => rs.find((r) => r.phase === p);
    const gen = (r: Record<string, unknown> | undefined) => {
      try {
        return (JSON.parse(String(r?.body)) as { generation: number }).generation;
      } catch {
        return null;
      }
    };
    const noTok = get('no-token');
    const badTok = get('bad-token');
    const afterBad = get('config-after-bad');
    const reload = get('reload');
    const afterReload = get('config-after-reload');
    const invalid = get('reload-invalid');
    const afterInvalid = get('config-after-invalid');
    const errorOf = (r: Record<string, unknown> | undefined): string | null => {
      try {
        const e = (JSON.parse(String(r?.body)) as { error?: unknown }).error;
        return typeof e === 'string' && e.trim() !== '' ? e : null;
      } catch {
        return null;
      }
    };
    // spec: "a reload request MUST answer only once the reload has finished: 200 with the new
    // generation, or 409 with the error"
    const reloadAnswers =
      reload?.status === 200 && gen(reload) === 2 && invalid?.status === 409 && errorOf(invalid) !== null;
    const stop = get('stop');
    const held = get('held');
    const nl = notes(events, 'non-loopback')[0];
    const reported = (r: Record<string, unknown> | undefined): string | null => {
      try {
        return r?.status === 200 ? String((JSON.parse(String(r.body)) as { state: unknown }).state) : null;
      } catch {
        return null;
      }
    };
    const describeState = (r: Record<string, unknown> | undefined) =>
      r === undefined
        ? 'not asked'
        : r.ok
          ? `${String(r.status)} ${reported(r) ?? String(r.body).trim().slice(0, 60)}`
          : `no answer (${String(r.error)})`;
    const started = get('state-started');
    const stopping = get('state-stopping');
    if (notes(events, 'auth-broken').length > 0) {
      return [
        verdict(
          'CONTROL.AUTH',
          false,
          'no token and a wrong token get 401 and change nothing',
          `no token: ${noTok?.status ?? noTok?.error}; wrong token: ${badTok?.status ?? badTok?.error}; the rest of the case was not run`,
        ),
      ];
    }
    const exit = gracefulExitVerdicts(events, manifest);
    const stoppedBeforeGood = probe(events, 'state').some(
      (e) => e.data.state === 'STOPPING' && stop?.sentNs !== undefined && BigInt(e.ns) < BigInt(String(stop.sentNs)),
    );
    const equivalent =
      gen(afterReload) === 2 &&
      reloadAnswers &&
      gen(afterInvalid) === 1 &&
      held?.ok === true &&
      held.body === held.expectBody &&
      notes(events, 'conn-after')[0]?.how !== 'timeout' &&
      exit[0]?.status === 'pass';
    return [
      verdict(
        'CONTROL.AUTH',
        noTok?.status === 401 && badTok?.status === 401 && gen(afterBad) === 1 && !stoppedBeforeGood,
        'no token and a wrong token get 401; the configuration stays at generation 1 and no stop begins',
        `no token: ${noTok?.status ?? noTok?.error}; wrong token: ${badTok?.status ?? badTok?.error}; generation after: ${gen(afterBad)}; stopped early: ${stoppedBeforeGood}`,
      ),
      verdict(
        'CONTROL.EQUIVALENT',
        equivalent,
        'an authenticated reload of an invalid file answers 409 with the error and keeps generation 1; of generation 2, answers 200 with generation 2 once loaded; an authenticated stop drains the held request, closes its connection and exits gracefully',
        `invalid reload: ${invalid?.status ?? invalid?.error} ${String(invalid?.body ?? '')
          .trim()
          .slice(0, 80)} → generation ${gen(afterInvalid)}; reload: ${reload?.status} ${String(reload?.body ?? '')
          .trim()
          .slice(
            0,
            40,
          )} → generation ${gen(afterReload)}; held: ${held?.ok ? `${held.status}, connection afterwards: ${String(notes(events, 'conn-after')[0]?.how)}` : `failed (${held?.error})`}; ${exit[0]?.actual}`,
      ),
      verdict(
        'BUS.APP_REQUESTS',
        gen(afterReload) === 2 &&
          stop?.status !== undefined &&
          Number(stop.status) < 300 &&
          exitOf(events) !== null &&
          exitOf(events)?.signal === null,
        'reload and stop can be requested without any OS signal',
        `reload ${reload?.status}, stop ${stop?.status}`,
      ),
      nl?.address
        ? verdict(
            'CONTROL.LOOPBACK',
            nl.outcome !== 'accepted',
            `the admin port is not reachable on a non-loopback address (${String(nl.address)})`,
            String(nl.outcome),
          )
        : {
            requirement: 'CONTROL.LOOPBACK',
            status: 'info',
            expected: 'not reachable off loopback',
            actual: 'this machine has no non-loopback IPv4 address to try',
          },
      verdict(
        'BUS.STATES',
        reported(started) === 'STARTED' &&
          (stopping?.ok !== true || ['STOPPING', 'EXITING'].includes(reported(stopping) ?? '')),
        'GET /control/state reports the current state: STARTED after the reload; STOPPING or EXITING once the stop was accepted (when the channel still answers during the drain)',
        `after the reload: ${describeState(started)}; during the drain: ${describeState(stopping)}`,
      ),
      verdict(
        'PLATFORM.WINDOWS',
        equivalent,
        'the control channel (the Windows stop path) stops the subject gracefully',
        exit[0]?.actual ?? '',
      ),
    ];
  },
});
