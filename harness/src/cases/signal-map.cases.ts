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
 * (pidfile), listener closed, the probe's `drained` report (STOP.OBSERVABLE, probe), and no orphans
 * (every case). The deadline path is `stop.deadline`.
 *
 * Every other declared action is carried out with the subject still serving; reopen-logs (each declared
 * signal, and the control channel's request) is also checked on the log file the harness hands over
 * (LOGS.REOPEN, grade/logs.ts): renamed first, then new lines must land in a new file at the old path.
 */
import { renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { type CaseDef, defineCase, hasEndpoint, signalFor } from '../case.js';
import { request } from '../clients/http.js';
import {
  mapActionVerdicts,
  type PathKind,
  type RequirementId,
  reportsStates,
  stopPathVerdicts,
} from '../grade/index.js';
import { subjectLogPath } from '../launch/handover.js';
import type { Subject } from '../launch/index.js';
import type { Action, Manifest } from '../types.js';
import {
  noteClosedAfter,
  pollUntil,
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
  return hasEndpoint(m, 'hold');
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
  'STOP.READINESS_FIRST',
  'STOP.OBSERVABLE',
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
    }persist, pidfile, listener, the probe's drain report and orphans.`,
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

// --- reopen-logs: the handed-over log file (SIGCERT_LOG_FILE), renamed as logrotate does -------------

/** Bounds of the log file's polls: a first line before the rename, the file's return, a new line. */
const LOG_FIRST_LINE_MS = 1000;
const LOG_REAPPEAR_MS = 1000;
const LOG_NEW_LINE_MS = 1000;
const LOG_POLL_MS = 10;

function fileInfo(file: string): { exists: boolean; bytes: number; ino: number } {
  try {
    const st = statSync(file);
    return { exists: true, bytes: st.size, ino: st.ino };
  } catch {
    return { exists: false, bytes: 0, ino: 0 };
  }
}

/** A bounded poll of an observed condition; true when it held before the deadline. */
async function pollFor(cond: () => boolean, withinMs: number): Promise<boolean> {
  return (await pollUntil(() => cond() || null, withinMs, LOG_POLL_MS)) === true;
}

interface RotatedLog {
  file: string;
  to: string;
  ino: number;
}

/**
 * Before the request: the subject has written the handed-over log file (else one request and a bounded
 * wait for a first line); it is then renamed to `<file>.1`. Null when the subject writes nothing there.
 */
async function rotateLog(ctx: Parameters<CaseDef['run']>[0], s: Subject): Promise<RotatedLog | null> {
  const file = subjectLogPath(s.runDir, s.launchIndex);
  if (fileInfo(file).bytes === 0) {
    await request(s.ports.http!, { path: '/', label: 'log-first-line', timeoutMs: ctx.ms(2000), history: ctx.history });
    await pollFor(() => fileInfo(file).bytes > 0, ctx.ms(LOG_FIRST_LINE_MS));
  }
  const before = fileInfo(file);
  if (before.bytes === 0) {
    ctx.note('log-not-written', { file });
    return null;
  }
  const to = `${file}.1`;
  renameSync(file, to);
  ctx.note('log-rotated', { file, to, bytes: fileInfo(to).bytes, ino: before.ino });
  return { file, to, ino: before.ino };
}

function noteLogs(ctx: Parameters<CaseDef['run']>[0], kind: string, log: RotatedLog, extra: Record<string, unknown>) {
  const now = fileInfo(log.file);
  ctx.note(kind, {
    ...extra,
    rotatedBytes: fileInfo(log.to).bytes,
    newExists: now.exists,
    newBytes: now.bytes,
    newIno: now.ino,
  });
}

/** The reopen's outcome: the probe's `reopen-logs` (bounded), else (black box) the file back at its path. */
async function waitReopen(ctx: Parameters<CaseDef['run']>[0], s: Subject, afterNs: bigint, log: RotatedLog) {
  let how = 'none within the bound';
  if (ctx.manifest.capabilities.probe) {
    const seen = await s
      .waitProbe((e) => e.ev === 'reopen-logs' && BigInt(e.t) >= afterNs, ctx.ms(2000), 'reopen-logs')
      .then(() => true)
      .catch(() => false);
    if (seen) how = 'probe reopen-logs';
  }
  if (how !== 'probe reopen-logs' && (await pollFor(() => fileInfo(log.file).exists, ctx.ms(LOG_REAPPEAR_MS))))
    how = 'the file is back at its path';
  noteLogs(ctx, 'log-at-outcome', log, { how });
}

/**
 * A declared action other than a stop, through its signal (or, `control`, the control channel): it must
 * be carried out and the subject keep serving. reopen-logs is also checked on the handed-over log file.
 */
function actionCase(m: Manifest, sig: string, action: Action): CaseDef {
  const control = sig === 'control';
  const judges: RequirementId[] = [control ? 'CONTROL.EQUIVALENT' : 'SIG.MAP.DECLARED'];
  const also: RequirementId[] =
    action === 'reopen-logs'
      ? control
        ? ['LOGS.REOPEN']
        : ['LOGS.REOPEN', ...(sig === 'SIGUSR1' ? (['SIG.USR1.REOPEN_LOGS'] as const) : [])]
      : ['SIG.HUP.RELOAD', 'SIG.HUP.NEVER_FATAL', 'SIG.PIPE.IGNORED', 'SIG.USR2.RESTART', 'RELOAD.OBSERVABLE'];
  if (sig === 'SIGHUP' && action === 'reopen-logs') also.push('SIG.HUP.NEVER_FATAL');
  const reopen = action === 'reopen-logs';
  return defineCase({
    id: `map.${action}.${sig}`,
    title: control
      ? `POST /control/${action} does what the ${action} signal does and the subject keeps serving`
      : `${sig} (declared: ${action}) does what the map says and the subject keeps serving`,
    description: `${hasHold(m) ? `Hold a ${HOLD_MS} ms request, ` : ''}${
      action === 'reload' ? 'write configuration generation 2, ' : ''
    }${reopen ? 'rename the handed-over log file (SIGCERT_LOG_FILE) to <file>.1 once it has a line, ' : ''}${
      control ? `request ${action} on the control channel` : `send ${sig}`
    }, wait for its outcome (probe${reopen ? '; black box: the file back at its path' : ''}) or for a bounded while, then check that the subject still runs and serves${
      action === 'reload' && hasEndpoint(m, 'config') ? ' generation 2' : ''
    }, that the held request completed, and that no stop began${
      reopen
        ? '; after one more request, new lines must be in a new file at the old path and none in the renamed one (not observable when the subject writes nothing to the file)'
        : ''
    }.`,
    requirements: judges,
    alsoJudges: also,
    edgeCases: ['E38'],
    // no capability needed: a declared signal is always sent; what can be observed of its effect is judged
    applies: control ? { capabilities: ['controlChannel'] } : { platforms: [...POSIX] },
    sends: control ? [] : [[sig, action]],
    timeout: 'short',
    async run(ctx) {
      const s = await ctx.launch();
      const held = hasHold(m) ? await startHeld(ctx, s, { path: `/hold?ms=${HOLD_MS}`, label: 'held' }) : undefined;
      if (action === 'reload') s.writeConfig({ generation: 2 });
      const log = reopen ? await rotateLog(ctx, s) : null;
      let t: bigint;
      if (control) {
        t = process.hrtime.bigint();
        await controlRequest(ctx, s, action);
      } else {
        t = s.signal(sig as NodeJS.Signals);
        await waitAck(ctx, s, sig, t, 2000);
      }
      if (log) await waitReopen(ctx, s, t, log);
      if (action === 'reload' && reportsStates(m)) await waitReloadOutcome(ctx, s, t, `reload by ${sig}`);
      if (action === 'restart' && m.capabilities.probe) {
        await s
          .waitProbe((e) => e.ev === 'restart-done' && BigInt(e.t) >= t, ctx.ms(15_000), 'restart-done')
          .catch(() => ctx.note('no-restart-outcome', {}));
      }
      if (held) recordResult(ctx, await held.done, { expectBody: `held ${HOLD_MS}\n` });
      // black box: the served configuration is polled (bounded) until it shows generation 2
      const wantGen = action === 'reload' && hasEndpoint(m, 'config');
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
      if (log) {
        // the request above (and the reopen itself) should each have written a line by now
        await pollFor(() => fileInfo(log.file).bytes > 0, ctx.ms(LOG_NEW_LINE_MS));
        noteLogs(ctx, 'log-final', log, {});
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
    out.push(actionCase(m, 'control', 'reopen-logs'));
  }
  return out;
}
