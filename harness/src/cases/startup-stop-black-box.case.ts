import { readFileSync } from 'node:fs';
import os from 'node:os';
import { defineCase, signalFor } from '../case.js';
import { connectProbe } from '../clients/probe-connect.js';
import { describeExit, exitMatches, exitOf, notes, sent, unknown, verdict } from '../grade/index.js';
import type { Subject } from '../launch/index.js';
import { stopBudget, waitExit } from '../workload.js';
import { bindHold } from './bind-hold.js';

const DELAY_MS = 1500;
/** Bounded poll interval of the waits below (/proc reads, connect probes). */
const POLL_MS = 5;

/**
 * Whether `pid` catches or blocks `sig`, read from outside: the SigCgt and SigBlk masks of
 * /proc/<pid>/status (Linux). Null when the process is gone.
 */
function handlesSignal(pid: number, sig: NodeJS.Signals): boolean | null {
  const num = os.constants.signals[sig];
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const mask = (name: string): bigint => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m?.[1] ? BigInt(`0x${m[1]}`) : 0n;
  };
  const bit = 1n << BigInt(num - 1);
  return ((mask('SigCgt') | mask('SigBlk')) & bit) !== 0n;
}

async function waitHandled(s: Subject, sig: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !s.exited) {
    if (handlesSignal(s.pid, sig) === true) return true;
    await new Promise((r) => setTimeout(r, POLL_MS)); // bounded poll interval inside a deadline wait
  }
  return false;
}

/**
 * Spec: "After a stop request that arrived during STARTING, the subject MUST NOT open a listener or
 * announce readiness" (START.STOP_NO_LISTENER) and "MUST run the exit sequence for everything already
 * initialised ... and MUST end with the status of a completed stop" (START.STOP_PERSISTS), seen from
 * outside (E02: uvicorn finishes its lifespan startup after a TERM, binds, and exits 0 without running
 * the lifespan shutdown).
 *
 * The black-box twin of startup.stop-while-starting, for subjects that declare slowStartup but have no
 * probe. STARTING is observed from outside: the kernel's view of the main process says it catches (or
 * blocks) the stop signal (/proc/<pid>/status SigCgt, SigBlk) while its port still refuses connections.
 * The stop is sent then; the port is probed until the exit; after the exit no process the subject
 * started may be left. A subject whose initialisation started a process and whose exit sequence never
 * ran leaves that process behind: the skipped exit sequence, visible without a probe. The persist step
 * itself is not observable here, so START.STOP_PERSISTS passes only through the probe case; here it can
 * only fail. The processes left behind are also PROC.NO_ORPHANS, which the runner grades for every case
 * from the teardown. A listener opened and closed between two probes (a few ms) is not seen: a pass of
 * START.STOP_NO_LISTENER says no probe was accepted.
 */
export default defineCase({
  id: 'startup.stop-while-starting-black-box',
  title: 'A stop during STARTING, seen from outside: no listener afterwards, the exit sequence runs',
  description: `Launch with SIGCERT_STARTUP_DELAY_MS=${DELAY_MS} (and the SIGCERT_BIND_HOLD_MS hold with slowBind); once /proc shows the main process catching the stop signal and the port still refuses, send the stop signal, probe the port until the exit, then look for processes of the subject left behind. It must exit with the graceful status, accept no connection, and leave nothing running.`,
  requirements: ['START.STOP_NO_LISTENER', 'START.STOP_PERSISTS', 'START.SIGNALS_RECORDED'],
  edgeCases: ['E02', 'E34'],
  applies: { platforms: ['linux'], actions: ['stop'], capabilities: ['slowStartup'] },
  notApplicable: (m) =>
    m.capabilities.probe ? 'the subject has a probe: startup.stop-while-starting observes STARTING through it' : null,
  timeout: 'normal',
  async run(ctx) {
    const sig = signalFor(ctx.manifest, 'stop')!;
    const s = await ctx.launch({
      waitReady: false,
      env: { SIGCERT_STARTUP_DELAY_MS: String(DELAY_MS), ...bindHold(ctx.manifest) },
    });
    if (!(await waitHandled(s, sig, ctx.ms(DELAY_MS + 5000)))) {
      ctx.note('starting', { handled: false });
      await waitExit(ctx, s, 1000);
      return;
    }
    const first = await connectProbe(s.ports.http!, { history: ctx.history, timeoutMs: 500, label: 'before-stop' });
    ctx.note('starting', { handled: true, port: first.outcome });
    if (first.outcome !== 'refused' || s.exited) {
      await waitExit(ctx, s, 1000);
      return;
    }
    const initialised = await s.descendants();
    ctx.note('at-stop', { processes: initialised.length });
    s.signal(sig);
    const deadline = Date.now() + ctx.ms(DELAY_MS + stopBudget(ctx));
    for (let i = 0; Date.now() < deadline && !s.exited; i++) {
      const r = await connectProbe(s.ports.http!, { history: ctx.history, timeoutMs: 500, label: `after-stop-${i}` });
      ctx.note('port', { outcome: r.outcome });
      if (r.outcome === 'refused') await new Promise((res) => setTimeout(res, POLL_MS)); // bounded poll interval
    }
    await waitExit(ctx, s, DELAY_MS + stopBudget(ctx));
    const exited = s.exited !== null;
    const left = exited ? await s.descendants() : [];
    ctx.note('after', { exited, left: left.map((p) => ({ pid: p.pid, cmdline: p.cmdline })) });
  },
  grade({ events, manifest }) {
    const starting = notes(events, 'starting')[0];
    const stop = sent(events)[0];
    if (!starting?.handled || starting.port !== 'refused' || !stop) {
      const why = !starting?.handled
        ? 'the main process never caught or blocked the stop signal while starting'
        : `the port was not refusing before the stop (${String(starting.port)}): STARTING was not observed`;
      return [
        unknown('START.STOP_NO_LISTENER', 'a stop sent during STARTING', why),
        unknown('START.STOP_PERSISTS', 'a stop sent during STARTING', why),
        unknown('START.SIGNALS_RECORDED', 'a stop sent during STARTING', why),
      ];
    }
    const probes = notes(events, 'port');
    const accepted = probes.filter((p) => p.outcome !== 'refused');
    const x = exitOf(events);
    const after = notes(events, 'after')[0];
    const left = (after?.left ?? []) as { pid: number; cmdline: string }[];
    const leftText = left.map((p) => `${p.pid} ${p.cmdline}`).join('; ');
    const graceful = exitMatches(x, manifest.exitCodes.graceful, stop.data.sig as string | undefined);
    const verdicts = [
      verdict(
        'START.STOP_NO_LISTENER',
        accepted.length === 0,
        'no connect probe after the stop request is accepted (probes back to back until the exit)',
        `${accepted.length} of ${probes.length} connect probe(s) accepted (${[...new Set(accepted.map((p) => String(p.outcome)))].join(', ') || 'none'})`,
      ),
      verdict(
        'START.SIGNALS_RECORDED',
        graceful,
        'the stop received during STARTING is honoured: the graceful exit status',
        describeExit(x),
      ),
    ];
    if (left.length > 0 || !graceful) {
      verdicts.push(
        verdict(
          'START.STOP_PERSISTS',
          false,
          'the exit sequence runs for what initialisation started, and the stop ends with the graceful status',
          left.length > 0
            ? `${left.length} process(es) the subject started outlived it (its exit sequence did not stop them): ${leftText}; ${describeExit(x)}`
            : describeExit(x),
        ),
      );
    } else {
      verdicts.push(
        unknown(
          'START.STOP_PERSISTS',
          'the exit sequence runs for what initialisation started',
          `graceful exit and nothing left behind; the persist step is not observable without a probe (${describeExit(x)})`,
        ),
      );
    }
    return verdicts;
  },
});
