import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineCase, signalFor } from '../case.js';
import { info, notes, verdict } from '../grade/index.js';
import { readTrace, type SignalAtListen, type TraceFacts } from '../grade/strace.js';
import { stopBudget } from '../workload.js';

/** The syscalls the verdict needs, and the process tree (threads vs processes). */
const TRACED = 'execve,clone,clone3,fork,vfork,bind,listen,rt_sigaction,rt_sigprocmask';

let straceWorks: string | null | undefined;

/** Why strace cannot trace a child here, or null when it can (asked once per harness process). */
function whyNoStrace(): string | null {
  if (straceWorks !== undefined) return straceWorks;
  try {
    execFileSync('strace', ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=listen', '-o', '/dev/null', '--', 'true'], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    straceWorks = null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    straceWorks =
      code === 'ENOENT'
        ? 'strace is not installed (apt-get install strace): the order of listen() and the handlers cannot be read'
        : 'strace cannot trace a child process here (ptrace not permitted, or a strace older than 5.3 without --seccomp-bpf): the order of listen() and the handlers cannot be read';
  }
  return straceWorks;
}

function describe(s: SignalAtListen): string {
  const state = s.blocked
    ? 'blocked'
    : s.disposition === 'default'
      ? 'its default action'
      : s.disposition === 'one-shot'
        ? 'only a one-shot handler that restores the default (SA_RESETHAND), replaced later by the lasting one'
        : s.disposition;
  return `${s.sig} (${s.action}) had ${state}${s.handledAtLine !== null ? `, handled at trace line ${s.handledAtLine}` : ', never handled'}`;
}

/**
 * Spec: "The subject MUST install a handler for every signal its map gives an action, or block those
 * signals, before it opens a listener, writes its pidfile or announces readiness" (START.HANDLERS_BEFORE_READY,
 * E01).
 *
 * The timing cases (startup.reload-at-ready, lifecycle.starting-bound.*) see a violation only when their
 * signal lands inside the window between the listener and the handlers. nginx 1.22 opens its listeners
 * in ngx_init_cycle and installs its handlers in ngx_init_signals afterwards: a window of a fraction of
 * a millisecond, which lifecycle.starting-bound.fast-stop hit once in six runs. This case reads the
 * order itself, for any subject on Linux: it runs under `strace -f -yy`, which records every listen(),
 * rt_sigaction() and rt_sigprocmask() of every process of the subject, and the verdict compares the
 * first listen() on one of the subject's ports with the main process's disposition of each mapped
 * signal at that moment (grade/strace.ts). Nothing is sent during start-up; the subject is stopped
 * with its declared stop signal once ready. Not applicable without strace or where ptrace is not
 * permitted.
 */
export default defineCase({
  id: 'startup.handlers-before-listen',
  title: 'Every mapped signal is handled before the first listener opens (read from a trace)',
  description: `Run the subject under strace -f -yy (${TRACED}); once ready, stop it with the declared stop signal. Every signal of the declared map must have a handler (SIG_IGN or a handler for an ignore entry), or be blocked, in the main process when the first listen() on one of its ports succeeds (a fast stop declared as death by the signal needs none).`,
  requirements: ['START.HANDLERS_BEFORE_READY'],
  edgeCases: ['E01'],
  applies: { platforms: ['linux'], actions: ['stop'] },
  notApplicable: () => whyNoStrace(),
  timeout: 'long',
  async run(ctx) {
    const m = ctx.manifest;
    const file = path.join(ctx.runDir, 'strace.txt');
    const wrap = ['strace', '-f', '-qq', '-yy', '--seccomp-bpf', '-e', `trace=${TRACED}`];
    let s: Awaited<ReturnType<typeof ctx.launch>>;
    try {
      s = await ctx.launch({
        wrap: [...wrap, '-e', 'signal=none', '-o', file, '--'],
        // tracing slows the start-up (each traced syscall stops the subject); the case's budget is 120 s
        readyTimeoutMs: ctx.ms(Math.min(m.readiness.timeoutMs * 3, 60_000)),
      });
    } catch (e) {
      // it started without the trace (the preflight): a start that fails under strace says nothing of the subject
      ctx.note('trace-launch-failed', { error: e instanceof Error ? e.message : String(e) });
      return;
    }
    // the subject is strace's child: the stop goes to it (strace -o blocks the stop signals itself)
    const inner = (await s.descendants()).find((p) => p.ppid === s.pid);
    if (inner) {
      const sig = signalFor(m, 'stop')!;
      const ns = process.hrtime.bigint();
      try {
        process.kill(inner.pid, sig);
        ctx.history.add(
          'harness',
          'signal-sent',
          { sig, pid: inner.pid, group: false, traced: true },
          ns,
          s.launchIndex,
        );
      } catch {
        // already gone: strace is exiting with it
      }
      // strace exits with its last tracee; the exit itself is not judged here (stop.* cases do)
      await s.waitExit(stopBudget(ctx)).catch(() => undefined);
    }
    // a fast stop declared as death by the signal needs no handler for its signals
    const needed = Object.fromEntries(
      Object.entries(m.signals).filter(([, a]) => !(a === 'fast-stop' && m.exitCodes.fastStop === 'signal')),
    );
    let facts: TraceFacts | null = null;
    try {
      facts = readTrace(readFileSync(file, 'utf8'), needed, Object.values(s.ports));
    } catch {
      facts = null;
    }
    ctx.note('trace', { file: 'strace.txt', ...(facts ?? { unreadable: true }) });
  },
  grade({ events }) {
    const failed = notes(events, 'trace-launch-failed')[0];
    const t = notes(events, 'trace')[0] as (TraceFacts & { unreadable?: boolean }) | undefined;
    if (failed !== undefined || t === undefined || t.unreadable || t.listen === null || t.listen === undefined) {
      // information, never a vote against the timed cases' verdicts: the trace did not show the order
      return [
        info(
          'START.HANDLERS_BEFORE_READY',
          'the trace shows the first listen() on a subject port and the handlers at that moment',
          failed !== undefined
            ? `the subject did not start under strace: ${String(failed.error)}`
            : t === undefined || t.unreadable
              ? 'no trace could be read'
              : `no listen() on a subject port in ${t.lines} trace lines (${t.otherListens} other listen() calls): inherited sockets, or neither the socket nor its bind() could be decoded`,
        ),
      ];
    }
    const late = t.signals.filter((x) => !x.ok);
    return [
      verdict(
        'START.HANDLERS_BEFORE_READY',
        late.length === 0,
        'every mapped signal is handled (or blocked) in the main process before the first listener opens',
        late.length === 0
          ? `all ${t.signals.length} mapped signals handled before listen() on ${t.listen.socket} (trace line ${t.listen.line}, pid ${t.listen.pid})`
          : `listen() on ${t.listen.socket} (trace line ${t.listen.line}, pid ${t.listen.pid}) came first: ${late.map(describe).join('; ')}`,
      ),
    ];
  },
});
