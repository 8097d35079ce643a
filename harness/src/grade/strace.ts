/**
 * Reading `strace -f -yy` output for START.HANDLERS_BEFORE_READY: in which order the subject opened its
 * first listener and had each mapped signal handled. Pure: text in, facts out (the case records the
 * facts in the history, so `analyze` re-grades without the trace).
 *
 * The trace is taken with `-f -qq -yy -e trace=execve,clone,clone3,fork,vfork,bind,listen,rt_sigaction,
 * rt_sigprocmask -e signal=none`: one line per syscall, `PID  name(args) = ret`, split into
 * `<unfinished ...>` / `<... name resumed>` when another task interleaves. The rules:
 *
 * - the main process is the first task in the trace (strace's own child, the process the harness
 *   signals); a task belongs to the process that cloned it with CLONE_THREAD, any other clone is a
 *   process of its own;
 * - signal dispositions are per process: an `rt_sigaction` by any thread of the main process counts;
 *   a successful `execve` resets caught signals to the default (ignored ones stay ignored, the mask
 *   stays); a one-shot handler (SA_RESETHAND) counts, unless the process replaces it with a lasting
 *   handler later in the trace: then it was the runtime's way to end the process on the signal (Node
 *   installs one for SIGINT and SIGTERM at start-up, resets the terminal and re-raises the signal),
 *   and the lasting one is the handler that carries out the stop (glibc's signal() in strict C mode
 *   installs a one-shot handler that is the server's own); a signal is blocked by `rt_sigprocmask` of the main thread (the one that takes a
 *   process-directed signal when the others block it too is not tracked: a block counts);
 * - a listener is a successful `listen()` on a socket bound to one of the subject's ports, by any
 *   process of the subject: the port comes from the socket as strace decodes it
 *   (`3<TCP:[127.0.0.1:4242]>`, kernels whose sock_diag reports bound sockets) or from the `bind()`
 *   of that descriptor (`sin_port=htons(4242)`, every kernel; a forked process inherits its parent's
 *   descriptors); internal sockets (a UNIX socket for the workers) are not the listener clients
 *   connect to.
 *
 * What a trace cannot show: a runtime that installs its own handler for every signal at start-up (Go,
 * the JVM) looks handled from the first instruction; the timed cases judge those.
 */

/** What a mapped signal needs before the first listener: a handler, or for `ignore` also SIG_IGN; a block always does. */
export type Disposition = 'default' | 'handler' | 'one-shot' | 'ignore';

export interface SignalAtListen {
  sig: string;
  /** the declared action */
  action: string;
  disposition: Disposition;
  blocked: boolean;
  /** handled, ignored (for `ignore`) or blocked in time */
  ok: boolean;
  /** the trace line of the listen when it was in time; else where its handler came later, or null */
  handledAtLine: number | null;
  /** only a one-shot handler (SA_RESETHAND) at the listen, replaced later by a lasting one */
  replacedOneShot?: boolean;
}

export interface TraceFacts {
  mainPid: number | null;
  /** the first listen() on a subject port: its line, the process and the socket as strace decoded it */
  listen: { line: number; pid: number; socket: string } | null;
  /** each mapped signal at that first listen (empty when there was none) */
  signals: SignalAtListen[];
  /** listen() calls on sockets that are not the subject's ports or not decoded (for the evidence) */
  otherListens: number;
  lines: number;
}

interface Line {
  n: number;
  tid: number;
  name: string;
  args: string;
  ret: string | null;
}

const START = /^(\d+)\s+([a-z_0-9]+)\((.*)$/;
const RESUMED = /^(\d+)\s+<\.\.\. ([a-z_0-9]+) resumed>(.*)$/;
const RET = /\)\s+=\s+(-?\d+|\?)(?:\s.*)?$/;

/** Whole syscalls: unfinished/resumed pairs joined, numbered by the line where each started. */
function syscalls(text: string): Line[] {
  const out: Line[] = [];
  const open = new Map<string, Line>();
  const rows = text.split('\n');
  rows.forEach((raw, i) => {
    const row = raw.trimEnd();
    const res = RESUMED.exec(row);
    if (res) {
      const key = `${res[1]} ${res[2]}`;
      const first = open.get(key);
      if (!first) return;
      open.delete(key);
      first.args += res[3] ?? '';
      first.ret = RET.exec(first.args)?.[1] ?? null;
      return;
    }
    const m = START.exec(row);
    if (!m) return;
    const line: Line = { n: i + 1, tid: Number(m[1]), name: m[2]!, args: m[3] ?? '', ret: null };
    if (line.args.endsWith('<unfinished ...>')) {
      line.args = line.args.slice(0, -'<unfinished ...>'.length);
      open.set(`${line.tid} ${line.name}`, line);
    } else {
      line.ret = RET.exec(line.args)?.[1] ?? null;
    }
    out.push(line);
  });
  return out;
}

/** `[HUP INT TERM]` or `~[RTMIN RT_1]` (every signal but those) as a test on a signal name. */
function maskHas(mask: string): (sig: string) => boolean {
  const m = /^(~?)\[([^\]]*)\]/.exec(mask.trim());
  if (!m) return () => false;
  const names = new Set((m[2] ?? '').split(/\s+/).filter(Boolean));
  const inList = (sig: string) => names.has(sig.replace(/^SIG/, '')) || names.has(sig);
  return m[1] === '~' ? (sig) => !inList(sig) : inList;
}

/**
 * The facts of a trace. `signals` maps each declared signal to its action; `ports` are the subject's
 * allocated ports.
 */
export function readTrace(
  text: string,
  signals: Readonly<Record<string, string>>,
  ports: readonly number[],
): TraceFacts {
  const calls = syscalls(text);
  const mainPid = calls[0]?.tid ?? null;
  // tasks -> process (thread group), from every clone's result (a child may appear before its clone returns)
  const tgid = new Map<number, number>();
  const processOf = (tid: number): number => tgid.get(tid) ?? tid;
  for (const c of calls) {
    if (!/^(clone|clone3|fork|vfork)$/.test(c.name) || c.ret === null || Number(c.ret) <= 0) continue;
    const child = Number(c.ret);
    tgid.set(child, /CLONE_THREAD/.test(c.args) ? processOf(c.tid) : child);
  }
  const names = Object.keys(signals);
  const state = new Map<string, { disposition: Disposition; blocked: boolean }>(
    names.map((s) => [s, { disposition: 'default', blocked: false }]),
  );
  const inTime = (sig: string): boolean => {
    const st = state.get(sig)!;
    return (
      st.blocked ||
      st.disposition === 'handler' ||
      st.disposition === 'one-shot' ||
      (signals[sig] === 'ignore' && st.disposition === 'ignore')
    );
  };
  const handledNow = (sig: string): boolean => {
    const d = state.get(sig)!.disposition;
    return d === 'handler' || d === 'one-shot' || (signals[sig] === 'ignore' && d === 'ignore');
  };
  const lasting = (sig: string): boolean => state.get(sig)!.disposition === 'handler';
  const portSet = new Set(ports);
  // bound ports per process and descriptor; a forked process starts with a copy of its parent's
  const bound = new Map<number, Map<string, number>>();
  const boundOf = (pid: number): Map<string, number> => {
    const b = bound.get(pid) ?? new Map<string, number>();
    bound.set(pid, b);
    return b;
  };
  let listen: TraceFacts['listen'] = null;
  let atListen: SignalAtListen[] = [];
  let otherListens = 0;
  for (const c of calls) {
    const ok = c.ret !== null && c.ret !== '?' && Number(c.ret) >= 0;
    if (!ok) continue;
    const mine = mainPid !== null && processOf(c.tid) === mainPid;
    const pid = processOf(c.tid);
    if (/^(clone|clone3|fork|vfork)$/.test(c.name)) {
      const child = Number(c.ret);
      if (child > 0 && processOf(child) === child) bound.set(child, new Map(boundOf(pid)));
    } else if (c.name === 'bind') {
      const m = /^(\d+)<[^>]*>.*?sin6?_port=htons\((\d+)\)/.exec(c.args);
      if (m) boundOf(pid).set(m[1]!, Number(m[2]));
    } else if (c.name === 'execve' && mine) {
      for (const st of state.values()) if (st.disposition !== 'ignore') st.disposition = 'default';
    } else if (c.name === 'rt_sigaction' && mine) {
      const m = /^(SIG[A-Z0-9_+]+),\s*\{sa_handler=([^,}]+)/.exec(c.args);
      const st = m ? state.get(m[1]!) : undefined;
      const flags = /sa_flags=([^,}]*)/.exec(c.args)?.[1] ?? '';
      if (m && st) {
        st.disposition =
          m[2] === 'SIG_DFL'
            ? 'default'
            : m[2] === 'SIG_IGN'
              ? 'ignore'
              : /SA_RESETHAND/.test(flags)
                ? 'one-shot'
                : 'handler';
      }
    } else if (c.name === 'rt_sigprocmask' && c.tid === mainPid) {
      const m = /^(SIG_BLOCK|SIG_UNBLOCK|SIG_SETMASK),\s*(~?\[[^\]]*\])/.exec(c.args);
      if (m) {
        const has = maskHas(m[2]!);
        for (const [sig, st] of state) {
          if (m[1] === 'SIG_SETMASK') st.blocked = has(sig);
          else if (has(sig)) st.blocked = m[1] === 'SIG_BLOCK';
        }
      }
    } else if (c.name === 'listen') {
      const fd = /^(\d+)</.exec(c.args)?.[1];
      const sock = /^\d+<(TCP|TCPv6):\[(.*)\]>/.exec(c.args);
      const decoded = sock ? Number(/:(\d+)$/.exec(sock[2] ?? '')?.[1]) : Number.NaN;
      const port = portSet.has(decoded) ? decoded : fd !== undefined ? boundOf(pid).get(fd) : undefined;
      if (port === undefined || !portSet.has(port)) {
        otherListens++;
        continue;
      }
      if (listen === null) {
        listen = { line: c.n, pid, socket: sock && portSet.has(decoded) ? `${sock[1]}:[${sock[2]}]` : `port ${port}` };
        atListen = names.map((sig) => {
          const st = state.get(sig)!;
          return {
            sig,
            action: signals[sig]!,
            disposition: st.disposition,
            blocked: st.blocked,
            ok: inTime(sig),
            handledAtLine: inTime(sig) ? c.n : null,
          };
        });
      }
    }
    // a signal not in time at the listen: note where its handler came after all (the width of the window;
    // a block does not count here: libuv blocks every signal for an instant around each sigaction)
    if (listen !== null) {
      for (const s of atListen) {
        if (s.handledAtLine === null && handledNow(s.sig)) s.handledAtLine = c.n;
        // a one-shot handler at the listen replaced by a lasting one: the lasting one is the stop's handler
        if (s.disposition === 'one-shot' && !s.blocked && s.replacedOneShot === undefined && lasting(s.sig)) {
          s.replacedOneShot = true;
          s.ok = false;
          s.handledAtLine = c.n;
        }
      }
    }
  }
  return { mainPid, listen, signals: atListen, otherListens, lines: text.split('\n').length };
}
