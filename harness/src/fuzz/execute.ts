/**
 * Carrying out the fuzzer's operations (`operations.ts`) against a real subject: `execute()` drives
 * the process for one command and updates the model with what the command did; `FuzzCommand` is the
 * fast-check face of a command. A command that needs a signal to have arrived waits for its
 * acknowledgement (probe `signal`), so standard signals sent back to back never merge; every wait has
 * a deadline. A broken expectation is thrown as a `Violation`.
 */
import type fc from 'fast-check';
import { openFifoWriter } from '../clients/fifo.js';
import { HttpConnection, type HttpResult, request } from '../clients/http.js';
import { connectProbe } from '../clients/probe-connect.js';
import { type ProbeEvent, WaitTimeoutError } from '../launch/index.js';
import {
  applyRequest,
  type FuzzModel,
  lastState,
  type ModelSpec,
  settleReloads,
  signalOf,
  writeConfigModel,
} from './model.js';
import {
  type ArbitraryOptions,
  applicable,
  type CmdSpec,
  type ControlAction,
  commandArbitrary,
  describeCmd,
} from './operations.js';
import { type RealRun, stampOf } from './real.js';
import { Violation } from './violations.js';

const now = (): bigint => process.hrtime.bigint();
const MS = 1_000_000n;

function failureText(r: HttpResult): string {
  return r.ok ? `status ${r.status}` : `${r.error}${r.errorMessage ? ` (${r.errorMessage})` : ''}`;
}

/** Open a connection the model says must be served. */
async function openServed(r: RealRun, label: string): Promise<HttpConnection> {
  try {
    return await HttpConnection.open(r.port, { history: r.history, label, timeoutMs: r.timings.ackMs });
  } catch (e) {
    throw new Violation(
      'request-failed',
      `a new connection (${label}) is accepted while the subject runs`,
      `connect failed: ${(e as { kind?: string }).kind ?? (e as Error).message}`,
      'SIG.MAP.DECLARED',
    );
  }
}

/** GET /hold or /cpu: in flight once the response headers arrived. */
async function startEarly(m: FuzzModel, r: RealRun, kind: 'hold' | 'cpu', ms: number): Promise<void> {
  const label = `${kind}(${ms})#${r.newId()}`;
  const conn = await openServed(r, label);
  let onHeaders!: (ns: bigint) => void;
  const headers = new Promise<bigint>((res) => {
    onHeaders = res;
  });
  const done = conn.request({
    path: `/${kind}?ms=${ms}`,
    headers: { connection: 'close' },
    label,
    timeoutMs: ms + r.timings.requestSlackMs,
    onHeaders: () => onHeaders(now()),
  });
  const first = await Promise.race([headers, done]);
  const headersNs = typeof first === 'bigint' ? first : now();
  if (typeof first !== 'bigint' && !(first.ok && first.status === 200)) {
    conn.close();
    throw new Violation(
      'request-failed',
      `${label} is served while the subject runs`,
      failureText(first),
      'SIG.MAP.DECLARED',
    );
  }
  r.track({
    id: r.newId(),
    kind,
    label,
    expectStatus: 200,
    expectBody: `${kind === 'hold' ? 'held' : 'cpu'} ${ms}\n`,
    inFlightNs: headersNs,
    needNs: headersNs + BigInt(ms) * MS,
    conn,
    done,
  });
  m.inFlight[kind]++;
}

/** PUT /kv/k<n>: in flight once a request sent after it, on another connection, was served. */
async function startPut(m: FuzzModel, r: RealRun): Promise<void> {
  const key = `k${m.nextKey++}`;
  const value = `${key}-${r.tag}`;
  const label = `put(${key})`;
  const conn = await openServed(r, label);
  const done = conn.request({
    method: 'PUT',
    path: `/kv/${key}`,
    headers: { connection: 'close', 'content-type': 'text/plain' },
    body: value,
    label,
    timeoutMs: r.timings.requestSlackMs * 2,
  });
  // The barrier: the PUT's bytes were written before this connection opened, and a subject accepts
  // and reads in order, so once the barrier is served the PUT is inside the subject.
  const barrier = await request(r.port, {
    path: '/live',
    label: `barrier(${key})`,
    timeoutMs: r.timings.ackMs,
    history: r.history,
  });
  if (!(barrier.ok && barrier.status === 200)) {
    conn.close();
    throw new Violation(
      'request-failed',
      'GET /live is served while the subject runs',
      failureText(barrier),
      'SIG.MAP.DECLARED',
    );
  }
  r.track({
    id: r.newId(),
    kind: 'put',
    label,
    expectStatus: 201,
    expectBody: '',
    key,
    value,
    inFlightNs: now(),
    needNs: now(),
    conn,
    done,
  });
  m.inFlight.put++;
}

/** GET /fifo: in flight once the subject opened the FIFO for reading (our writer's open succeeds). */
async function startFifo(m: FuzzModel, r: RealRun): Promise<void> {
  const fifoPath = r.subject.fifoPath;
  if (fifoPath === null) return;
  const id = r.newId();
  const label = `fifo#${id}`;
  const conn = await openServed(r, label);
  const done = conn.request({
    path: '/fifo',
    headers: { connection: 'close' },
    label,
    timeoutMs: r.manifest.gracePeriodMs + r.timings.requestSlackMs * 4,
  });
  const opened = openFifoWriter(fifoPath, r.timings.ackMs);
  const fh = await opened;
  if (fh === null) {
    conn.close();
    const res = await Promise.race([done, Promise.resolve(null)]);
    throw new Violation(
      'request-failed',
      'GET /fifo blocks reading the FIFO while the subject runs',
      res === null ? `the FIFO was not opened for reading within ${r.timings.ackMs} ms` : failureText(res),
      'SIG.MAP.DECLARED',
    );
  }
  const line = `line-${r.tag}-${id}`;
  r.track({
    id,
    kind: 'fifo',
    label,
    expectStatus: 200,
    expectBody: `${line}\n`,
    inFlightNs: now(),
    needNs: -1n,
    conn,
    done,
    fifo: { fh, line },
  });
  m.inFlight.fifoReading = true;
  m.inFlight.fifoUnwritten = true;
}

/** Write the line the blocked FIFO read waits for. */
export async function writeFifo(m: FuzzModel, r: RealRun): Promise<void> {
  const q = r.requests.find((x) => x.kind === 'fifo' && x.fifo !== undefined && x.fifo.writtenNs === undefined);
  m.inFlight.fifoUnwritten = false;
  if (q?.fifo === undefined) return;
  const f = q.fifo;
  f.writtenNs = now();
  q.needNs = f.writtenNs;
  const fh = f.fh;
  f.fh = null;
  if (fh === null) return;
  try {
    await fh.write(`${f.line}\n`);
  } catch {
    // EPIPE: the read was cancelled (the request's own outcome is what gets judged)
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Wait for every request in flight (a FIFO read whose line is not written yet excepted). */
export async function awaitRequests(m: FuzzModel, r: RealRun): Promise<void> {
  const waiting = r.requests.filter((q) => q.result === undefined && !(q.kind === 'fifo' && q.needNs === -1n));
  await Promise.all(waiting.map((q) => q.done));
  // let the `track` continuations record the results
  await Promise.resolve();
  r.checkStep(m);
  m.inFlight.hold = 0;
  m.inFlight.cpu = 0;
  m.inFlight.put = 0;
  if (!m.inFlight.fifoUnwritten) m.inFlight.fifoReading = false;
  if (!r.subject.exited && m.stop === null) await readBack(r);
}

/** While the subject runs, every acknowledged write is readable. */
export async function readBack(r: RealRun, port = r.port, when = 'while the subject runs'): Promise<void> {
  for (const [key, value] of r.acked) {
    const got = await request(port, { path: `/kv/${key}`, label: `get(${key})`, timeoutMs: r.timings.ackMs });
    if (!(got.ok && got.status === 200 && got.body.toString('utf8') === value)) {
      throw new Violation(
        'write-lost',
        `the acknowledged write ${key}=${JSON.stringify(value)} is readable ${when}`,
        got.ok
          ? `GET /kv/${key} → ${got.status} ${JSON.stringify(got.body.toString('utf8').slice(0, 60))}`
          : failureText(got),
      );
    }
  }
}

/**
 * Wait until the reloads requested up to `since` (the last acknowledgement) are over. A reload run
 * that began after `since` certainly covers that request: wait for its outcome and for STARTED
 * after it. When every run began before `since` (a request during a run), a subject either runs
 * one follow-up (which begins at once when that run ends) or lets the running reload cover it (it
 * had not read the file yet): after STARTED, wait briefly for a follow-up to begin, and if none
 * does the reloads are over.
 */
async function reloadsSettled(m: FuzzModel, r: RealRun, since: bigint): Promise<void> {
  const s = r.subject;
  const t = r.timings;
  const fail = (what: string) => {
    r.checkStep(m);
    return new Violation(
      'state',
      `the reloads finish (${what}) within ${t.reloadMs} ms`,
      `still ${lastState(s.probeEvents)}`,
      'RELOAD.SERIALISED',
    );
  };
  const started = (after: bigint) => (e: ProbeEvent) =>
    e.ev === 'state' && e.state === 'STARTED' && stampOf(e) >= after;
  const begin = (e: ProbeEvent) => e.ev === 'reload-begin' && stampOf(e) >= since;
  const deadline = Date.now() + t.reloadMs;
  const left = () => Math.max(1, deadline - Date.now());
  try {
    await s.waitProbe(started(since), left(), 'STARTED after the reloads');
  } catch (e) {
    if (e instanceof WaitTimeoutError) throw fail('STARTED again');
    throw e;
  }
  let covering = s.probeEvents.find(begin);
  if (covering === undefined) {
    // a follow-up begins right after the run that ended; absence can only be observed over a moment
    covering = await s.waitProbe(begin, Math.min(left(), FOLLOW_UP_MS), 'a follow-up reload').catch(() => undefined);
    if (covering === undefined) return;
  }
  const beganAt = stampOf(covering);
  try {
    const outcome = await s.waitProbe(
      (e) => (e.ev === 'reload-done' || e.ev === 'reload-failed') && stampOf(e) >= beganAt,
      left(),
      'the outcome of the covering reload',
    );
    await s.waitProbe(started(stampOf(outcome)), left(), 'STARTED after the covering reload');
  } catch (e) {
    if (e instanceof WaitTimeoutError) throw fail('the covering reload ends, STARTED again');
    throw e;
  }
}

/** A listener reported closed this soon after we saw our connection reset closed it as we connected. */
const CLOSE_RACE_NS = 50n * MS;

/** How long a follow-up reload may take to begin after the run before it ended. */
const FOLLOW_UP_MS = 250;

/** Wait until every reload requested so far has finished, then check the generation served. */
export async function awaitReload(m: FuzzModel, r: RealRun): Promise<void> {
  const since = r.lastReloadAck;
  if (since !== undefined && m.spec.probe) await reloadsSettled(m, r, since);
  r.checkStep(m);
  const allowed = settleReloads(m);
  if (!m.spec.endpoints || m.stop !== null) return;
  const got = await request(r.port, { path: '/config', label: 'config', timeoutMs: r.timings.ackMs });
  let generation: unknown = null;
  try {
    generation = (JSON.parse(got.body.toString('utf8')) as { generation?: unknown }).generation;
  } catch {
    // reported below
  }
  if (!(got.ok && got.status === 200) || typeof generation !== 'number' || !allowed.includes(generation)) {
    throw new Violation(
      'config',
      `GET /config serves generation ${allowed.join(' or ')} (the last valid file loaded; invalid files keep the old one)`,
      got.ok ? `status ${got.status}, generation ${String(generation)}` : failureText(got),
      allowed.length === 1 ? 'RELOAD.SERIALISED' : 'RELOAD.VALIDATE_SWAP',
    );
  }
}

/**
 * A new connection during the stop. If the subject had reported its listeners closed
 * (`stop-accepting`) before we connected, it must be refused; otherwise (a pre-drain delay) it may
 * be refused or served, never accepted and then reset or closed unanswered, unless the listeners
 * were reported closed just as we connected (a connection still in the accept queue is reset when a
 * listener closes: the race is the kernel's, not the subject's).
 */
async function connectAfterStop(m: FuzzModel, r: RealRun): Promise<void> {
  const s = r.subject;
  const since = r.stopNs ?? 0n;
  const sentNs = now();
  const res = await connectProbe(r.port, { path: '/live', timeoutMs: r.timings.ackMs, label: 'after-stop' });
  const seenNs = now();
  const accepting = (e: ProbeEvent) => e.ev === 'stop-accepting' && stampOf(e) >= since;
  let closedAt = s.probeEvents.find(accepting);
  const how = res.outcome === 'served' ? `accepted and served (${res.status})` : `accepted then ${res.outcome}`;
  if (closedAt !== undefined && stampOf(closedAt) < sentNs && res.outcome !== 'refused') {
    throw new Violation('not-refused', 'after stop-accepting a new connection is refused', `the connection was ${how}`);
  }
  if (res.outcome === 'reset' || res.outcome === 'eof') {
    // the probe may lag the socket: give the report of a listener closing as we connected a moment
    closedAt ??= await s.waitProbe(accepting, r.timings.stopStateMs, 'stop-accepting').catch(() => undefined);
    const race = closedAt !== undefined && stampOf(closedAt) <= seenNs + CLOSE_RACE_NS;
    if (!race) {
      throw new Violation(
        'not-refused',
        'during the stop a new connection is refused or served, never accepted then reset',
        `the connection was ${how}; ${closedAt === undefined ? 'no stop-accepting reported' : 'the listeners were reported closed only later'}`,
      );
    }
  }
  r.checkStep(m);
}

async function restart(m: FuzzModel, r: RealRun): Promise<void> {
  const sig = signalOf(m.spec, 'restart');
  if (sig === null) return;
  await r.deliver(m, sig);
  const deadline = Date.now() + r.timings.reloadMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline && !r.subject.exited; i++) {
    const res = await request(r.port, { path: '/ready', label: 'ready-after-restart', timeoutMs: r.timings.ackMs });
    if (res.ok && res.status === 200) return;
    await new Promise((ok) => setTimeout(ok, 10)); // bounded poll of /ready (the observation itself)
  }
  throw new Violation(
    'request-failed',
    `ready again within ${r.timings.reloadMs} ms of the restart`,
    r.subject.exited ? 'the subject exited' : 'GET /ready never answered 200',
    'RESTART.ZERO_DOWNTIME',
  );
}

/**
 * A bus request through the control channel. While the subject runs it must answer as section 10
 * says (stop/fast-stop 202; reload 200 with the new generation, or 409 for an invalid file;
 * reopen-logs 200) and then behave exactly as for the signal (CONTROL.EQUIVALENT). While it stops,
 * a refused connection or any answer will do, except a reload that succeeds.
 */
async function control(m: FuzzModel, r: RealRun, action: ControlAction, valid?: boolean): Promise<void> {
  const port = r.subject.ports.admin;
  if (port === undefined) return;
  const stoppedBefore = m.stop !== null;
  const wasReloading = m.lifecycle === 'RELOADING';
  let file: { valid: boolean; generation: number } | null = null;
  if (action === 'reload') {
    file = writeConfigModel(m, valid === true);
    r.subject.writeConfig(
      file.valid ? { generation: file.generation } : `{ "generation": ${file.generation}, this is not JSON`,
    );
  }
  const sentNs = now();
  const res = await request(port, {
    method: 'POST',
    path: `/control/${action}`,
    headers: { authorization: `Bearer ${r.subject.token}` },
    label: `control(${action})`,
    timeoutMs: action === 'reload' ? r.timings.reloadMs : r.ackDeadline,
  });
  const o = applyRequest(m, action);
  const status = res.ok ? res.status : undefined;
  const expected = action === 'reload' ? (file?.valid ? 200 : 409) : action === 'reopen-logs' ? 200 : 202;
  if (!stoppedBefore && status !== expected) {
    throw new Violation(
      'request-failed',
      `POST /control/${action} → ${expected} while the subject runs${action === 'reload' ? ` (the file is ${file?.valid ? 'valid' : 'invalid'})` : ''}`,
      failureText(res) + r.blockedNote(),
      'CONTROL.EQUIVALENT',
    );
  }
  if (stoppedBefore && action === 'reload' && status === 200) {
    throw new Violation(
      'reload-after-stop',
      'a reload asked for through the control channel during a stop is refused (the stop dominates)',
      '200: the reload ran',
    );
  }
  if (action === 'reload' && status === 200 && file?.valid) {
    let generation: unknown = null;
    try {
      generation = (JSON.parse(res.body.toString('utf8')) as { generation?: unknown }).generation;
    } catch {
      // reported below
    }
    if (generation !== file.generation) {
      throw new Violation(
        'config',
        `POST /control/reload answers with the generation it loaded (${file.generation})`,
        `generation ${String(generation)}`,
        'CONTROL.EQUIVALENT',
      );
    }
  }
  // The bus announces an accepted request (probe `request`, source control): the instant it took
  // effect. Our send time is no substitute: the subject may read the request much later.
  const announced = r.subject.probeEvents.find(
    (e) => e.ev === 'request' && e.source === 'control' && e.action === action && stampOf(e) >= sentNs,
  );
  switch (o.effect) {
    case 'stop':
    case 'fast-stop': {
      const at = announced === undefined ? sentNs : stampOf(announced);
      r.stopAcks.push(at);
      const stopping = await r.waitStopping(`control ${action}`, at, wasReloading);
      r.stopNs = announced === undefined ? (stopping ?? at) : at;
      break;
    }
    case 'escalate':
      // accepted (announced): it took effect then; answered but not announced: when is unknown
      if (announced !== undefined) r.escalationNs = stampOf(announced);
      else if (status === 202) r.escalationUncertain = true;
      break;
    case 'reload':
      r.reloadAcks.push(announced === undefined ? sentNs : stampOf(announced));
      await awaitReload(m, r);
      break;
    default:
      break;
  }
}

/** Run one command against the real subject (its precondition held). Throws a Violation. */
export async function execute(m: FuzzModel, r: RealRun, c: CmdSpec): Promise<void> {
  switch (c.op) {
    case 'signal':
      await r.deliver(m, c.sig);
      break;
    case 'hold':
    case 'cpu':
      await startEarly(m, r, c.op, c.ms);
      break;
    case 'put':
      await startPut(m, r);
      break;
    case 'fifo-read':
      await startFifo(m, r);
      break;
    case 'fifo-write':
      await writeFifo(m, r);
      break;
    case 'reload': {
      const sig = signalOf(m.spec, 'reload');
      if (sig === null) return;
      const file = writeConfigModel(m, c.valid);
      r.subject.writeConfig(
        c.valid ? { generation: file.generation } : `{ "generation": ${file.generation}, this is not JSON`,
      );
      await r.deliver(m, sig);
      break;
    }
    case 'restart':
      await restart(m, r);
      break;
    case 'await-requests':
      await awaitRequests(m, r);
      break;
    case 'await-reload':
      await awaitReload(m, r);
      break;
    case 'connect-after-stop':
      await connectAfterStop(m, r);
      break;
    case 'control':
      await control(m, r, c.action, c.valid);
      break;
  }
  r.checkStep(m);
}

/** The fast-check face of a command. */
export class FuzzCommand implements fc.AsyncCommand<FuzzModel, RealRun> {
  constructor(readonly spec: CmdSpec) {}
  check(m: Readonly<FuzzModel>): boolean {
    return applicable(m as FuzzModel, this.spec);
  }
  async run(m: FuzzModel, r: RealRun): Promise<void> {
    r.executed.push(this.spec);
    await execute(m, r, this.spec);
  }
  toString(): string {
    return describeCmd(this.spec);
  }
}

export function fuzzCommandArbitrary(s: ModelSpec, opts: ArbitraryOptions = {}): fc.Arbitrary<FuzzCommand> {
  return commandArbitrary(s, opts).map(
    (spec) => new FuzzCommand(spec),
    (v) => {
      if (v instanceof FuzzCommand) return v.spec;
      throw new Error('not a FuzzCommand');
    },
  );
}
