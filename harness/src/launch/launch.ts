/**
 * `launch()`: prepare the hand-over (handover.ts), start the slow upstream of a black-box proxy, run the
 * setup commands (setup.ts), spawn the subject (spawn.ts) and wait until it is ready (section 3).
 * Records `tracking` (harness) and `spawn` (process) in the history.
 */

import type { ChildProcess } from 'node:child_process';
import { LaunchError } from './errors.js';
import { buildEnv, discardHandover, type LaunchOptions, prepareHandover, substituteOrThrow } from './handover.js';
import { type NotifyEvent, type NotifySocket, openNotifySocket } from './notify.js';
import type { ProbeEvent } from './probe.js';
import { runSetup } from './setup.js';
import { spawnSubject } from './spawn.js';
import { Subject } from './subject.js';
import { KILL_WAIT_MS } from './tracking.js';
import { startUpstream } from './upstream.js';

/**
 * Prepare the hand-over, spawn the subject, and (unless `waitReady: false`) wait until it is ready.
 * On any failure after the spawn, the subject is torn down before the LaunchError is thrown.
 */
export async function launch(opts: LaunchOptions): Promise<Subject> {
  const m = opts.manifest;
  const { p, values } = await prepareHandover(opts);
  const { runId, launchIndex, ports } = p;

  // black-box proxies: the harness's own slow upstream on the manifest's upstream port
  const upstream = m.upstream
    ? await startUpstream(ports[m.upstream.port]!).catch(async (e: Error) => {
        await discardHandover(p, KILL_WAIT_MS);
        throw new LaunchError('harness', `${m.name}: cannot start the slow upstream: ${e.message}`, { runId });
      })
    : null;

  // readiness `notify`: the server's sd_notify messages become probe events (notify.ts); until the
  // Subject exists they wait in a queue
  let notify: NotifySocket | null = null;
  let sink: ((e: NotifyEvent) => void) | null = null;
  const early: NotifyEvent[] = [];
  if (m.readiness.kind === 'notify') {
    notify = await openNotifySocket((e) => (sink ? sink(e) : early.push(e))).catch(async (e: Error) => {
      await discardHandover(p, KILL_WAIT_MS);
      await upstream?.close();
      throw new LaunchError('harness', `${m.name}: cannot open the notify socket: ${e.message}`, { runId });
    });
  }

  let child: ChildProcess;
  let handedOverPreDrain = '0';
  let args: string[] = [];
  const wrap = opts.wrap ?? [];
  try {
    args = m.args.map((a, i) => substituteOrThrow(a, values, m.name, `args[${i}]`, runId));
    const env = buildEnv(p, values, opts.env);
    if (notify) env.NOTIFY_SOCKET = notify.path;
    handedOverPreDrain = env.SIGCERT_PREDRAIN_MS ?? '0';
    if (m.setup !== undefined && m.setup.length > 0) await runSetup(p, m.setup, env, values);
    child = await spawnSubject(p, args, env, wrap);
  } catch (err) {
    notify?.close();
    await discardHandover(p, KILL_WAIT_MS);
    await upstream?.close();
    throw err;
  }

  const subject = new Subject(p, child);
  if (upstream) subject.addCleanup(() => upstream.close());
  if (notify) {
    const socket = notify;
    subject.addCleanup(async () => socket.close());
    sink = (e) => subject.deliverProbeEvent(e.event as ProbeEvent, e.ns);
    for (const e of early.splice(0)) sink(e);
  }
  p.history.add('harness', 'tracking', { ...p.tracker.info }, undefined, launchIndex);
  p.history.add(
    'process',
    'spawn',
    {
      pid: subject.pid,
      command: m.command,
      args,
      ...(wrap.length > 0 ? { wrap } : {}),
      cwd: m.cwd,
      runId,
      ports,
      name: m.name,
      // the pre-drain delay this launch was told to keep (a subject with preDrainDelay honours it)
      ...(m.capabilities.preDrainDelay === true ? { preDrainMs: Number(handedOverPreDrain) } : {}),
    },
    undefined,
    launchIndex,
  );

  if (opts.waitReady === false) return subject;
  try {
    await subject.waitReady(opts.readyTimeoutMs ?? m.readiness.timeoutMs);
  } catch (err) {
    await subject.teardown();
    throw err;
  }
  return subject;
}

/**
 * `start()` again when it failed because the subject lost a race for a port the harness allocated
 * (EADDRINUSE: another process bound it between the allocation and the subject's listen), twice at most;
 * every other launch error is thrown. The race is the harness's, never the subject's fault.
 */
export async function launchRetryingPortRace<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      const portRace = e instanceof LaunchError && e.addressInUse;
      if (!portRace || attempt >= 2) throw e;
    }
  }
}
