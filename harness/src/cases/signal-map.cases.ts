/**
 * The declared map, case by case: one case for every (signal, action) pair a manifest declares, for
 * every entry of its repeat map, and for every action of its control channel. Spec: SIG.MAP.DECLARED,
 * "for every signal in its declared signal map the subject MUST carry out exactly the declared action,
 * and for every signal in its repeat map the declared repeat action when that signal arrives during a
 * stop"; STOP.PERSIST_ALL_PATHS, "on every stop path"; CONTROL.EQUIVALENT, "the same guarantees as
 * the signal mapped to that action".
 *
 * Every stop path (each stop and fast-stop signal, each repeat entry, the control channel) is checked
 * against every guarantee that applies to it (grade/paths.ts): exit status, drain and Connection: close
 * (graceful paths, with /hold), the in-flight request cut (fast paths), persist (probe), pidfile removed
 * (pidfile), listener closed, and no orphans (every case). The deadline path is `stop.deadline`.
 */
import path from 'node:path';
import { type CaseDef, defineCase, signalFor } from '../case.js';
import { request } from '../clients/http.js';
import { mapActionVerdicts, type PathKind, type RequirementId, stopPathVerdicts } from '../grade/index.js';
import type { Subject } from '../launch/index.js';
import type { Action, Manifest } from '../types.js';
import {
  noteClosedAfter,
  recordResult,
  startConnectProber,
  startHeld,
  stopBudget,
  waitAck,
  waitExit,
  waitRefused,
  waitReloadOutcome,
} from '../workload.js';

const HOLD_MS = 500;
const POSIX = ['linux', 'darwin'] as const;

function hasHold(m: Manifest): boolean {
  return m.capabilities.conformanceEndpoints === true || m.upstream !== undefined;
}

/** Requirements a stop path may judge, depending on what the subject makes observable. */
const STOP_GUARANTEES: RequirementId[] = [
  'SIG.HUP.NEVER_FATAL',
  'STOP.DRAIN.IN_FLIGHT',
  'STOP.CONNECTION_CLOSE',
  'STOP.PERSIST_ALL_PATHS',
  'PIDFILE.REMOVED',
  'SIG.TERM.GRACEFUL',
  'SIG.INT.GRACEFUL',
  'SIG.QUIT.FAST',
  'SIG.INT.SECOND_FAST',
];

async function controlRequest(ctx: Parameters<CaseDef['run']>[0], s: Subject, action: Action): Promise<void> {
  ctx.note('control-sent', { action });
  const r = await request(s.ports.admin!, {
    method: 'POST',
    path: `/control/${action}`,
    headers: { authorization: `Bearer ${s.token}` },
    label: `control-${action}`,
    timeoutMs: ctx.ms(5000),
    history: ctx.history,
  });
  recordResult(ctx, r, { control: action });
}

/** One stop path: a held request, connect attempts at a cadence, the stop, then what is left after exit. */
function stopPathCase(m: Manifest, kind: PathKind, via: string, action: 'stop' | 'fast-stop'): CaseDef {
  const control = via === 'control';
  const graceful = kind === 'repeat' ? m.signalsRepeat[via] === 'stop' : action === 'stop';
  const id = kind === 'repeat' ? `map.repeat.${via}` : `map.${action}.${via}`;
  // a repeat entry is first exercised as the map's users know it: the same signal twice (SIGINT, SIGINT)
  // when that signal is itself a stop signal, else after the map's first stop signal
  const first = kind === 'repeat' ? (m.signals[via] === 'stop' ? via : (signalFor(m, 'stop') as string)) : undefined;
  return defineCase({
    id,
    title:
      kind === 'repeat'
        ? `${via} during a graceful stop (repeat map: ${m.signalsRepeat[via]}) keeps every stop guarantee`
        : `The ${action} path through ${control ? 'the control channel' : via} keeps every stop guarantee`,
    description: `${hasHold(m) ? `Hold a ${HOLD_MS} ms request, ` : ''}start a connect attempt every 10 ms, then ${
      kind === 'repeat'
        ? `send ${first}, wait for its acknowledgement (probe; black box: the listener refuses) and send ${via}`
        : control
          ? `request ${action} on the control channel`
          : `send ${via}`
    }. Judged: the declared action (${graceful ? 'graceful stop' : 'fast stop'}), exit status, ${
      graceful ? 'drain and Connection: close, ' : 'the held request not waited for, '
    }persist, pidfile, listener and orphans.`,
    requirements: [
      ...(control ? (['CONTROL.EQUIVALENT'] as const) : (['SIG.MAP.DECLARED'] as const)),
      ...(kind === 'repeat' ? ([graceful ? 'REPEAT.IDEMPOTENT' : 'REPEAT.ESCALATION'] as const) : []),
      ...(graceful ? (['STOP.EXIT_ZERO'] as const) : []),
      'STOP.LISTENER_CLOSED',
    ],
    alsoJudges: STOP_GUARANTEES,
    edgeCases: kind === 'repeat' ? ['E13', 'E14'] : ['E34', 'E38'],
    applies: control
      ? { capabilities: ['controlChannel'] }
      : { platforms: [...POSIX], ...(kind === 'repeat' ? { actions: ['stop'] } : {}) },
    sends: control ? [] : kind === 'repeat' ? [[first!, 'stop']] : [[via, action]],
    sendsRepeat: kind === 'repeat' ? [[via, m.signalsRepeat[via]!]] : [],
    timeout: 'short',
    async run(ctx) {
      const s = await ctx.launch();
      const held = hasHold(m) ? await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' }) : undefined;
      const prober = startConnectProber(ctx, s, { maxMs: HOLD_MS + m.preDrainDelayMs + m.gracePeriodMs + 1000 });
      if (control) await controlRequest(ctx, s, action);
      else if (kind === 'repeat') {
        const t = s.signal(first as NodeJS.Signals);
        const acked = await waitAck(ctx, s, first!, t, 2000);
        if (!acked && !m.capabilities.probe) await waitRefused(ctx, s, 2000);
        if (!s.exited) s.signal(via as NodeJS.Signals);
      } else s.signal(via as NodeJS.Signals);
      if (held) {
        recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
        await noteClosedAfter(ctx, held.conn, 'held');
      }
      await waitExit(ctx, s, stopBudget(ctx));
      await prober.stop();
      if (m.capabilities.pidfile) {
        const { existsSync } = await import('node:fs');
        ctx.note('pidfile-after', { exists: existsSync(path.join(s.stateDir, 'server.pid')) });
      }
    },
    grade({ events, manifest }) {
      return stopPathVerdicts(events, manifest, { kind, via, graceful, first });
    },
  });
}

/** A signal whose declared action is not a stop: it must be carried out and the subject keep serving. */
function actionCase(m: Manifest, sig: string, action: Action): CaseDef {
  const judges: RequirementId[] = ['SIG.MAP.DECLARED'];
  const also: RequirementId[] = ['SIG.HUP.RELOAD', 'SIG.HUP.NEVER_FATAL', 'SIG.PIPE.IGNORED', 'SIG.USR2.RESTART'];
  return defineCase({
    id: `map.${action}.${sig}`,
    title: `${sig} (declared: ${action}) does what the map says and the subject keeps serving`,
    description: `${hasHold(m) ? `Hold a ${HOLD_MS} ms request, ` : ''}${
      action === 'reload' ? 'write configuration generation 2, ' : ''
    }send ${sig}, wait for its outcome (probe) or for a bounded while, then check that the subject still runs and serves${
      action === 'reload' && m.capabilities.conformanceEndpoints ? ' generation 2' : ''
    }, that the held request completed, and that no stop began.`,
    requirements: judges,
    alsoJudges: also,
    edgeCases: ['E38'],
    // no capability needed: a declared signal is always sent; what can be observed of its effect is judged
    applies: { platforms: [...POSIX] },
    sends: [[sig, action]],
    timeout: 'short',
    async run(ctx) {
      const s = await ctx.launch();
      const held = hasHold(m) ? await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' }) : undefined;
      if (action === 'reload') s.writeConfig({ generation: 2 });
      const t = s.signal(sig as NodeJS.Signals);
      await waitAck(ctx, s, sig, t, 2000);
      if (action === 'reload' && m.capabilities.probe) await waitReloadOutcome(ctx, s, t, `reload by ${sig}`);
      if (action === 'restart' && m.capabilities.probe) {
        await s
          .waitProbe((e) => e.ev === 'restart-done' && BigInt(e.t) >= t, ctx.ms(15_000), 'restart-done')
          .catch(() => ctx.note('no-restart-outcome', {}));
      }
      if (held) recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
      // black box: the served configuration is polled (bounded) until it shows generation 2
      const wantGen = action === 'reload' && m.capabilities.conformanceEndpoints === true;
      const deadline = Date.now() + ctx.ms(3000);
      for (let i = 0; !s.exited; i++) {
        const r = await request(s.ports.http!, {
          path: wantGen ? '/config' : '/',
          label: `after-${i}`,
          timeoutMs: ctx.ms(2000),
          history: ctx.history,
        });
        recordResult(ctx, r, { after: true });
        const gen = wantGen && r.ok ? /"generation":\s*(\d+)/.exec(r.body.toString())?.[1] : undefined;
        if (!wantGen || gen === '2' || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 20)); // poll interval of a bounded check
      }
      ctx.note('alive-after', { alive: !s.exited });
    },
    grade({ events, manifest }) {
      return mapActionVerdicts(events, manifest, sig, action);
    },
  });
}

export default function signalMapCases(m: Manifest): CaseDef[] {
  const out: CaseDef[] = [];
  for (const [sig, action] of Object.entries(m.signals)) {
    if (action === 'stop' || action === 'fast-stop') out.push(stopPathCase(m, 'signal', sig, action));
    else out.push(actionCase(m, sig, action));
  }
  for (const sig of Object.keys(m.signalsRepeat)) {
    if (signalFor(m, 'stop')) out.push(stopPathCase(m, 'repeat', sig, 'stop'));
  }
  if (m.capabilities.controlChannel) {
    out.push(stopPathCase(m, 'control', 'control', 'stop'));
    out.push(stopPathCase(m, 'control', 'control', 'fast-stop'));
  }
  return out;
}
