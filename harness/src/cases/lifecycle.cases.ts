/**
 * Every state x request cell of the lifecycle table (spec/lifecycle.json), generated: one case per
 * (held state, request), delivering the request through each path the subject declares for it in that
 * state (each signal whose action there is the request, the repeat map applying during a stop, and the
 * control channel when declared). A terminal delivery (a stop that ends the subject) gets a launch of its
 * own; the others share one. The grader is grade/lifecycle.ts.
 *
 * How each state is held, by something the case releases or observes, never by a timer of its own:
 *  - starting:        SIGCERT_STARTUP_DELAY_MS (slowStartup); deliveries from the `handlers` event, each
 *                     acknowledged before the listener is bound (probe);
 *  - starting-bound:  the moment the listener accepts connections, before readiness (probe `listening`;
 *                     black box: the first accepted TCP connect). The row that applies is the state the
 *                     subject acknowledged the request in (STARTING, or STARTED when its window is short);
 *                     START.HANDLERS_BEFORE_READY is judged on every delivery;
 *  - started:         readiness;
 *  - reloading:       a FIFO renamed over the configuration file: the running reload blocks reading it
 *                     until the case writes it (probe `state RELOADING`, FIFO opened by the subject);
 *  - stopping:        a GET /fifo in flight, blocked on the harness's FIFO until the case writes a line;
 *  - fast-stopping:   the fast stop is short: every other declared signal is sent right behind the
 *                     fast-stop signal, and only those acknowledged during the stop are judged.
 * Black box (no probe), only starting-bound and started are observable: the others are not-applicable
 * with the reason. The control channel cannot be reached during a fast stop (its listener closes with it).
 */
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import {
  type CaseContext,
  type CaseDef,
  defineCase,
  hasEndpoint,
  type NotApplicable,
  SubjectFaultError,
} from '../case.js';
import { openFifoWriter } from '../clients/fifo.js';
import { request as httpRequest } from '../clients/http.js';
import { actionIn, type HeldState, ROW_OF, verifyLifecycleCells } from '../grade/lifecycle.js';
import type { RequirementId } from '../grade/requirement-ids.js';
import { nowNs } from '../history.js';
import { LOOPBACK, type Subject, WaitTimeoutError } from '../launch/index.js';
import { BUS_REQUESTS, type BusRequest, type LifecycleState, lifecycleCell, loadLifecycle } from '../spec-lifecycle.js';
import type { Capability, Manifest } from '../types.js';
import { http, stopBudget, waitAck } from '../workload.js';

/** The slow initialisation asked for in `starting`: long enough to deliver every path before binding. */
const STARTUP_DELAY_MS = 400;
/** Deadline of an acknowledgement (probe `signal` / `request`). */
const ACK_MS = 2000;

const HELD: readonly HeldState[] = ['starting', 'starting-bound', 'started', 'reloading', 'stopping'];

/** Requirements the generated cases cannot judge, and why (RESTART.ZERO_DOWNTIME needs a load). */
const NOT_JUDGED_HERE: ReadonlySet<string> = new Set(['RESTART.ZERO_DOWNTIME']);

const CONTROL_REQUESTS: ReadonlySet<BusRequest> = new Set(['stop', 'fast-stop', 'reload', 'restart', 'reopen-logs']);

/** The paths of `request` in a table row: declared signals (repeat map during a stop), then `control`. */
function pathsFor(m: Manifest, request: BusRequest, row: LifecycleState, held?: HeldState): string[] {
  const sigs = Object.keys(m.signals).filter((sig) => actionIn(m, sig, row) === request);
  if (m.capabilities.controlChannel && CONTROL_REQUESTS.has(request) && held !== 'fast-stopping') sigs.push('control');
  return sigs;
}

/** Whether a delivery ends the subject (it then needs a launch of its own). */
function terminal(held: HeldState, request: BusRequest): boolean {
  if (held === 'stopping') return request === 'fast-stop';
  return request === 'stop' || request === 'fast-stop';
}

function capabilityOf(request: BusRequest): Capability | undefined {
  return loadLifecycle().requests.find((r) => r.name === request)?.capability;
}

/**
 * Why `held` cannot be brought about for this subject, or null. What the subject does not do (no reload,
 * no stop path) makes the cells not applicable; what it does not show (a probe, GET /fifo, the slowStartup
 * hook) makes them not observable, with what would make them testable.
 */
function heldNotApplicable(m: Manifest, held: HeldState): NotApplicable | null {
  const probe = m.capabilities.probe === true;
  const cells = (row: string) => `the ${row} cells are not tested`;
  const needing = (row: string, needs: string[], why: string): NotApplicable | null =>
    needs.length === 0 ? null : { reason: `${cells(row)}: ${why}`, needs };
  switch (held) {
    case 'starting':
      return needing(
        'STARTING (before the listener is bound)',
        [...(probe ? [] : ['probe']), ...(m.capabilities.slowStartup ? [] : ['slowStartup'])],
        'holding STARTING needs the slowStartup hook, and only a probe shows that a request arrived before the listener was bound',
      );
    case 'reloading':
      if (!m.capabilities.reload) return { reason: `${cells('RELOADING')}: the subject declares no reload capability` };
      if (pathsFor(m, 'reload', 'STARTED').length === 0)
        return { reason: `${cells('RELOADING')}: no declared path asks for a reload` };
      return needing('RELOADING', probe ? [] : ['probe'], 'in black-box mode a reload cannot be seen to be running');
    case 'stopping':
      if (pathsFor(m, 'stop', 'STARTED').length === 0)
        return { reason: `${cells('STOPPING')}: no declared path asks for a graceful stop` };
      return needing(
        'STOPPING',
        [...(probe ? [] : ['probe']), ...(hasEndpoint(m, 'fifo') ? [] : ['fifo'])],
        'a stop is held open by a request blocked on GET /fifo, and only a probe shows when the stop has begun',
      );
    case 'fast-stopping':
      if (Object.keys(m.signals).every((s) => m.signals[s] !== 'fast-stop'))
        return { reason: `${cells('STOPPING (fast)')}: no signal is declared for fast-stop` };
      return needing(
        'STOPPING (fast)',
        probe ? [] : ['probe'],
        'in black-box mode the harness cannot tell which signals arrived during the fast stop',
      );
    default:
      return null;
  }
}

/** The requirements a case may judge: the cells it can land in, plus the generic ones of every path. */
function judged(held: HeldState, request: BusRequest): { requirements: RequirementId[]; alsoJudges: RequirementId[] } {
  const rows: LifecycleState[] = held === 'starting-bound' ? ['STARTING', 'STARTED'] : [ROW_OF[held]];
  const ids = new Set<RequirementId>();
  for (const row of rows) {
    for (const id of lifecycleCell(row, request).requirements)
      if (!NOT_JUDGED_HERE.has(id)) ids.add(id as RequirementId);
    if (row === 'STARTED' || row === 'STOPPING') {
      ids.add('SIG.MAP.DECLARED');
      ids.add('CONTROL.EQUIVALENT');
    }
  }
  const requirements: RequirementId[] = held === 'starting-bound' ? ['START.HANDLERS_BEFORE_READY'] : [];
  if (held !== 'starting-bound' && held !== 'started') requirements.push('BUS.STATES');
  else ids.add('BUS.STATES');
  // STOPPING is held by a request blocked in a FIFO read: a subject whose handlers wait for that read
  // never gets there (SubjectFaultError below)
  if (held === 'stopping') ids.add('LATENCY.BLOCKING_IO');
  return { requirements, alsoJudges: [...ids].filter((id) => !requirements.includes(id)).sort() };
}

const HOW: Record<HeldState, string> = {
  starting: `launched with SIGCERT_STARTUP_DELAY_MS=${STARTUP_DELAY_MS}, from the probe's \`handlers\` event, before the listener is bound`,
  'starting-bound':
    'the moment the listener accepts connections (probe `listening`, or the first accepted connect), before readiness',
  started: 'once ready',
  reloading: 'while a reload blocks reading its configuration file (a FIFO the case writes to release it)',
  stopping: 'during a graceful stop held by a GET /fifo in flight (released by writing the FIFO)',
  'fast-stopping': 'right behind the fast-stop signal',
};

function cellCase(held: HeldState, request: BusRequest): CaseDef {
  const row = ROW_OF[held];
  const cell = lifecycleCell(row, request);
  const capability = capabilityOf(request);
  const { requirements, alsoJudges } = judged(held, request);
  const all = new Set<string>([...requirements, ...alsoJudges]);
  const expects =
    held === 'starting-bound'
      ? `never fatal; judged against the row the subject acknowledged it in (STARTING: ${cell.prose}; STARTED: ${lifecycleCell('STARTED', request).prose})`
      : cell.prose;
  return defineCase({
    id: `lifecycle.${held}.${request}`,
    title: `Lifecycle ${row}${held === 'starting-bound' ? ' (listener bound, not ready)' : ''} x ${request}: ${expects.replaceAll('`', '')}`,
    description: `Deliver ${request} ${HOW[held]}, through each declared path in turn (${terminal(held, request) ? 'a launch per path' : 'one launch'}); expected: ${expects}.`,
    requirements,
    alsoJudges,
    applies: {
      platforms: ['linux', 'darwin'],
      ...(capability ? { capabilities: [capability] } : {}),
    },
    notApplicable(m) {
      const why = heldNotApplicable(m, held);
      if (why && !why.needs) return why;
      if (pathsFor(m, request, row, held).length === 0) {
        return `no declared signal${m.capabilities.controlChannel ? '' : ' (and no control channel)'} asks for ${request} in ${row}: the ${row} x ${request} cell is not tested`;
      }
      return why;
    },
    timeout: 'normal',
    async run(ctx) {
      const paths = pathsFor(ctx.manifest, request, row, held);
      if (terminal(held, request)) {
        for (const p of paths) await runLaunch(ctx, held, request, [p]);
      } else {
        await runLaunch(ctx, held, request, paths);
      }
    },
    grade({ events, manifest }) {
      return verifyLifecycleCells(events, manifest, all);
    },
  });
}

function fastStoppingCase(): CaseDef {
  const alsoJudges: RequirementId[] = [
    'REPEAT.IDEMPOTENT',
    'REPEAT.STOP_DOMINATES',
    'REPEAT.ESCALATION',
    'SIG.MAP.DECLARED',
  ];
  return defineCase({
    id: 'lifecycle.fast-stopping.any',
    title: 'Lifecycle STOPPING (fast) x every request: nothing undoes or restarts a fast stop',
    description:
      'Send the fast-stop signal and, right behind it, every other declared signal. Those the subject acknowledges during the stop must change nothing: no reload, no second stop sequence, the fast stop ends with its declared status.',
    requirements: ['BUS.STATES'],
    alsoJudges,
    applies: { platforms: ['linux', 'darwin'] },
    notApplicable: (m) => heldNotApplicable(m, 'fast-stopping'),
    timeout: 'normal',
    async run(ctx) {
      const m = ctx.manifest;
      const s = await ctx.launch();
      const fast = Object.keys(m.signals).find((sig) => m.signals[sig] === 'fast-stop')!;
      const others = Object.keys(m.signals).filter((sig) => sig !== fast);
      const hold = s.signal(fast as NodeJS.Signals);
      ctx.note('hold', { launch: s.launchIndex, path: fast, request: 'fast-stop', ns: hold.toString() });
      // the fast stop is short and cannot be held: the others go out as soon as it is acknowledged (sent
      // with it, the kernel would deliver the lower-numbered ones first)
      await waitAck(ctx, s, fast, hold, ACK_MS);
      for (const sig of others) {
        const request = actionIn(m, sig, 'STOPPING');
        if (request === undefined || request === 'ignore' || s.exited) continue;
        const ns = s.signal(sig as NodeJS.Signals);
        ctx.note('cell-send', { launch: s.launchIndex, held: 'fast-stopping', request, path: sig, ns: ns.toString() });
      }
      await s.waitExit(ctx.ms(stopBudget(ctx))).catch(() => ctx.note('no-exit', { launch: s.launchIndex }));
    },
    grade({ events, manifest }) {
      return verifyLifecycleCells(events, manifest, new Set(['BUS.STATES', ...alsoJudges]));
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Bringing a subject into a state, delivering, releasing

interface Held {
  s: Subject;
  /** ends the hold (writes the FIFO); resolves once the held operation could go on */
  release(): Promise<void>;
}

const none = async () => {};

/** Accepts a TCP connection on `port` (one attempt). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: LOOPBACK, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls `port` until it accepts, the subject exits or the deadline passes (bounded, 5 ms apart). */
async function untilAccepting(ctx: CaseContext, s: Subject, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + ctx.ms(timeoutMs);
  while (Date.now() < deadline && !s.exited) {
    if (await accepts(port)) return true;
    await new Promise((r) => setTimeout(r, 5)); // poll interval of a bounded check
  }
  return false;
}

/** The control channel request of `action`; the answer is recorded with the send. */
function control(s: Subject, action: BusRequest, timeoutMs: number) {
  return httpRequest(s.ports.admin!, {
    method: 'POST',
    path: `/control/${action}`,
    headers: { authorization: `Bearer ${s.token}` },
    label: `control-${action}`,
    timeoutMs,
  });
}

async function bring(ctx: CaseContext, held: HeldState, first: string): Promise<Held> {
  const m = ctx.manifest;
  switch (held) {
    case 'starting': {
      const s = await ctx.launch({
        waitReady: false,
        env: { SIGCERT_STARTUP_DELAY_MS: String(ctx.ms(STARTUP_DELAY_MS)) },
      });
      await s.waitProbe((e) => e.ev === 'handlers', ctx.ms(5000), 'handlers installed');
      if (first === 'control') await untilAccepting(ctx, s, s.ports.admin!, 2000);
      return { s, release: none };
    }
    case 'starting-bound': {
      const s = await ctx.launch({ waitReady: false });
      const port = s.ports[m.readiness.port] ?? s.ports.http!;
      if (m.capabilities.probe) {
        await s.waitProbe(
          (e) => e.ev === 'listening' && Number(e.port) === port,
          ctx.ms(m.readiness.timeoutMs),
          'listening',
        );
      } else if (!(await untilAccepting(ctx, s, port, m.readiness.timeoutMs))) {
        throw new Error(`the ${m.readiness.port} port never accepted a connection`);
      }
      if (first === 'control') await untilAccepting(ctx, s, s.ports.admin!, 2000);
      return { s, release: none };
    }
    case 'started':
      return { s: await ctx.launch(), release: none };
    case 'reloading': {
      const s = await ctx.launch();
      const fifo = path.join(s.runDir, 'config.fifo');
      execFileSync('mkfifo', ['-m', '600', fifo]);
      renameSync(fifo, s.configPath);
      const [hold] = pathsFor(m, 'reload', 'STARTED');
      const ns = nowNs();
      const answer = hold === 'control' ? control(s, 'reload', ctx.ms(15_000)) : null;
      if (hold !== 'control') s.signal(hold as NodeJS.Signals);
      const reloading = await s.waitProbe(
        (e) => e.ev === 'state' && e.state === 'RELOADING' && BigInt(e.t) >= ns,
        ctx.ms(ACK_MS),
        'RELOADING',
      );
      ctx.note('hold', { launch: s.launchIndex, path: hold, request: 'reload', ns: ns.toString(), ackNs: reloading.t });
      const fh = await openFifoWriter(s.configPath, ctx.ms(ACK_MS));
      if (fh === null) throw new Error('RELOADING could not be held: the reload never opened its configuration file');
      s.writeConfig({ generation: 3 }); // later reloads read a plain file again
      newest.set(s, 3);
      return {
        s,
        async release() {
          try {
            await fh.write(JSON.stringify({ generation: 2 }));
          } catch {
            // EPIPE: the reader is gone (the stop abandoned the reload)
          } finally {
            await fh.close().catch(() => {});
          }
          await answer;
        },
      };
    }
    case 'stopping': {
      const s = await ctx.launch();
      if (s.fifoPath === null) throw new Error('no FIFO on this platform');
      const response = http(ctx, s, { path: '/fifo', label: 'held-fifo', timeoutMs: ctx.ms(15_000) });
      const fh = await openFifoWriter(s.fifoPath, ctx.ms(ACK_MS));
      if (fh === null) throw new Error('STOPPING could not be held: GET /fifo never opened the FIFO');
      const [hold] = pathsFor(m, 'stop', 'STARTED');
      const ns = nowNs();
      const answer = hold === 'control' ? control(s, 'stop', ctx.ms(5000)) : null;
      if (hold !== 'control') s.signal(hold as NodeJS.Signals);
      const stopping = await s
        .waitProbe((e) => e.ev === 'state' && e.state === 'STOPPING' && BigInt(e.t) >= ns, ctx.ms(ACK_MS), 'STOPPING')
        .catch(async (e: unknown) => {
          await fh.close().catch(() => {}); // no release will follow: no descriptor left to the GC
          if (!(e instanceof WaitTimeoutError)) throw e;
          throw new SubjectFaultError(
            `never reported STOPPING within ${ctx.ms(ACK_MS)} ms of ${hold} while a request was blocked in a FIFO read (its signal handling waits for the read)`,
            'LATENCY.BLOCKING_IO',
          );
        });
      ctx.note('hold', { launch: s.launchIndex, path: hold, request: 'stop', ns: ns.toString(), ackNs: stopping.t });
      return {
        s,
        async release() {
          try {
            await fh.write('line\n');
          } catch {
            // EPIPE: a fast stop cut the read short
          } finally {
            await fh.close().catch(() => {});
          }
          await Promise.all([response, answer]);
        },
      };
    }
    default:
      throw new Error(`no way to hold ${held}`);
  }
}

/** The newest configuration generation written to each launch. */
const newest = new WeakMap<Subject, number>();

/** Deliver `request` through `p`, note it, and wait (bounded) for the acknowledgement. */
async function deliver(
  ctx: CaseContext,
  s: Subject,
  held: HeldState,
  request: BusRequest,
  p: string,
): Promise<{ answer: Promise<void> }> {
  const note: Record<string, unknown> = { launch: s.launchIndex, held, request, path: p };
  if (request === 'reload') {
    const g = (newest.get(s) ?? 1) + 1;
    newest.set(s, g);
    s.writeConfig({ generation: g });
    note.newest = g;
  }
  if (s.exited) return { answer: none() };
  if (p === 'control') {
    if (held === 'starting' || held === 'starting-bound') await untilAccepting(ctx, s, s.ports.admin!, 2000);
    const ns = nowNs();
    note.ns = ns.toString();
    const answer = control(s, request, ctx.ms(15_000)).then((r) => {
      ctx.note('cell-send', { ...note, status: r.status, answeredNs: r.headersNs, error: r.error });
    });
    if (ctx.manifest.capabilities.probe) {
      // acknowledged by its `request` event, or (an ignored request) by its answer, whichever comes first
      const ack = s.waitProbe(
        (e) => e.ev === 'request' && e.source === 'control' && e.action === request && BigInt(e.t) >= ns,
        ctx.ms(ACK_MS),
        `control ${request} acknowledged`,
      );
      await Promise.race([ack.catch(() => undefined), answer]);
    } else {
      await answer;
    }
    return { answer };
  }
  const ns = s.signal(p as NodeJS.Signals);
  ctx.note('cell-send', { ...note, ns: ns.toString() });
  await waitAck(ctx, s, p, ns, ACK_MS);
  return { answer: none() };
}

/** One launch: hold, deliver every path, release, then wait for what the cell predicts. */
async function runLaunch(ctx: CaseContext, held: HeldState, request: BusRequest, paths: string[]): Promise<void> {
  const m = ctx.manifest;
  const { s, release } = await bring(ctx, held, paths[0]!);
  const since = nowNs();
  const answers: Promise<void>[] = [];
  try {
    for (const p of paths) {
      if (s.exited) break;
      answers.push((await deliver(ctx, s, held, request, p)).answer);
      if (held === 'started' && request === 'reload' && m.capabilities.probe) {
        // one reload at a time here: the next path must find STARTED again
        await s
          .waitProbe(
            (e) => (e.ev === 'reload-done' || e.ev === 'reload-failed') && e.generation === newest.get(s),
            ctx.ms(3000),
            'reload outcome',
          )
          .catch(() => ctx.note('no-reload-outcome', { launch: s.launchIndex }));
        await Promise.all(answers);
      }
    }
  } catch (e) {
    await release().catch(() => {}); // the held FIFO is closed however the delivery failed
    throw e;
  }
  await release();
  const ends = terminal(held, request) || held === 'stopping';
  if (request === 'restart' && !ends && m.capabilities.probe && !s.exited) {
    // a restart starts new code: its end is the probe `restart-done` (or `restart-failed`)
    if (held === 'starting' || held === 'starting-bound')
      await s.waitReady(ctx.ms(m.readiness.timeoutMs)).catch(() => undefined);
    await s
      .waitProbe(
        (e) => (e.ev === 'restart-done' || e.ev === 'restart-failed') && BigInt(e.t) >= since,
        ctx.ms(10_000),
        'restart-done',
      )
      .catch(() => ctx.note('no-restart-outcome', { launch: s.launchIndex }));
  }
  if (ends) {
    await s.waitExit(ctx.ms(stopBudget(ctx))).catch(() => ctx.note('no-exit', { launch: s.launchIndex }));
  } else if (held === 'starting' || held === 'starting-bound') {
    if (!s.exited)
      await s.waitReady(ctx.ms(m.readiness.timeoutMs)).catch(() => ctx.note('not-ready', { launch: s.launchIndex }));
    if (request === 'reload') await noteServed(ctx, s);
    if (request === 'reopen-logs' && m.capabilities.probe && !s.exited) {
      await s.waitProbe((e) => e.ev === 'reopen-logs', ctx.ms(ACK_MS), 'reopen-logs').catch(() => undefined);
    }
  } else if (held === 'reloading' && request !== 'stop' && request !== 'fast-stop') {
    // a reload request: its follow-up loads the newest configuration; otherwise the held reload ends
    const last = request === 'reload' ? newest.get(s) : 2;
    const done = await s
      .waitProbe(
        (e) => (e.ev === 'reload-done' && e.generation === last) || (request !== 'reload' && e.ev === 'reload-failed'),
        ctx.ms(3000),
        `generation ${last}`,
      )
      .catch(() => ctx.note('no-reload-outcome', { launch: s.launchIndex }));
    // back in STARTED: a further (wrong) reload would begin before this
    if (done) {
      await s
        .waitProbe(
          (e) => e.ev === 'state' && e.state === 'STARTED' && BigInt(e.t) >= BigInt(done.t),
          ctx.ms(ACK_MS),
          'STARTED',
        )
        .catch(() => undefined);
    }
  } else if (held === 'started' && !s.exited) {
    if (request === 'reopen-logs' && m.capabilities.probe) {
      await s.waitProbe((e) => e.ev === 'reopen-logs', ctx.ms(ACK_MS), 'reopen-logs').catch(() => undefined);
    }
    if (request === 'reload' && !m.capabilities.probe) await noteServed(ctx, s);
  }
  await Promise.all(answers);
}

/** The generation the subject serves once started (GET /config, else the last probe `reload-done`). */
async function noteServed(ctx: CaseContext, s: Subject): Promise<void> {
  if (s.exited) return;
  const want = newest.get(s);
  const read = async (): Promise<number | null> => {
    if (!hasEndpoint(ctx.manifest, 'config')) {
      const done = s.probeEvents.filter((e) => e.ev === 'reload-done').at(-1);
      return done ? Number(done.generation) : null;
    }
    const r = await http(ctx, s, { path: '/config', label: 'config' });
    try {
      return r.ok ? Number((JSON.parse(r.body.toString()) as { generation: number }).generation) : null;
    } catch {
      return null;
    }
  };
  let g = await read();
  if (g !== want && ctx.manifest.capabilities.probe) {
    // the recorded reload runs once STARTED: wait (bounded) for it to load the newest configuration
    await s
      .waitProbe((e) => e.ev === 'reload-done' && Number(e.generation) === want, ctx.ms(3000), `generation ${want}`)
      .catch(() => undefined);
    g = await read();
  }
  ctx.note('served', { launch: s.launchIndex, generation: g });
}

const cases: CaseDef[] = [];
for (const held of HELD) for (const request of BUS_REQUESTS) cases.push(cellCase(held, request));
cases.push(fastStoppingCase());

export default cases;
