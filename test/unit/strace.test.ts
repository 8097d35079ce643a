import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrace } from '../../harness/src/grade/strace.js';

const NGINX_MAP = {
  SIGQUIT: 'stop',
  SIGTERM: 'fast-stop',
  SIGINT: 'fast-stop',
  SIGHUP: 'reload',
  SIGUSR1: 'reopen-logs',
  SIGPIPE: 'ignore',
};
const MAP = { SIGTERM: 'stop', SIGHUP: 'reload', SIGPIPE: 'ignore' };

describe('readTrace: the order of the first listener and the signal handlers', () => {
  it('nginx 1.22 as traced here: listen() comes before every handler (ngx_init_cycle, then ngx_init_signals)', () => {
    const text = readFileSync(path.join(import.meta.dirname, '../fixtures/strace/nginx-listen-first.txt'), 'utf8');
    const f = readTrace(text, NGINX_MAP, [21999]);
    expect(f.mainPid).toBe(5339);
    expect(f.listen).toEqual({ line: 2, pid: 5339, socket: 'TCP:[127.0.0.1:21999]' });
    expect(f.signals.filter((s) => !s.ok).map((s) => s.sig)).toEqual(Object.keys(NGINX_MAP));
    // each was handled a few lines later: the window is real and short
    for (const s of f.signals) expect(s.handledAtLine).toBeGreaterThan(2);
  });

  it('handlers (or SIG_IGN for an ignore entry) before the listener pass; another port does not count', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  listen(7<TCP:[127.0.0.1:9999]>, 5) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x55aa, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigaction(SIGHUP, {sa_handler=0x55aa, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  listen(3<TCPv6:[[::1]:4242]>, 511) = 0',
    ].join('\n');
    const f = readTrace(text, MAP, [4242]);
    expect(f.listen).toMatchObject({ line: 6, socket: 'TCPv6:[[::1]:4242]' });
    expect(f.otherListens).toBe(1);
    expect(f.signals.every((s) => s.ok)).toBe(true);
  });

  it('SIG_IGN is enough only for an ignore entry; SIG_DFL undoes a handler; a block by the main thread counts', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigaction(SIGHUP, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigaction(SIGPIPE, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigaction(SIGPIPE, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigprocmask(SIG_BLOCK, [TERM], NULL, 8) = 0',
      '100  listen(3<TCP:[127.0.0.1:4242]>, 511) = 0',
    ].join('\n');
    const f = readTrace(text, MAP, [4242]);
    const of = (sig: string) => f.signals.find((s) => s.sig === sig)!;
    expect(of('SIGTERM')).toMatchObject({ ok: true, blocked: true, disposition: 'default' });
    expect(of('SIGHUP')).toMatchObject({ ok: false, disposition: 'ignore', handledAtLine: null });
    expect(of('SIGPIPE')).toMatchObject({ ok: false, disposition: 'default' });
  });

  it('execve resets caught signals (a wrapper that installed handlers and then exec-ed the server)', () => {
    const text = [
      '100  execve("/bin/sh", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  listen(3<TCP:[127.0.0.1:4242]>, 511) = 0',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop', SIGPIPE: 'ignore' }, [4242]);
    expect(f.signals.map((s) => [s.sig, s.ok])).toEqual([
      ['SIGTERM', false],
      ['SIGPIPE', true],
    ]);
  });

  it('a thread of the main process may install the handlers; a child process may not; a worker may listen', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x1}, 88 <unfinished ...>',
      '101  rt_sigaction(SIGTERM, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '100  <... clone3 resumed>) = 101',
      '100  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1) = 102',
      '102  rt_sigaction(SIGHUP, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '102  listen(5<TCP:[127.0.0.1:4242]>, 511 <unfinished ...>',
      '100  rt_sigaction(SIGHUP, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
      '102  <... listen resumed>) = 0',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop', SIGHUP: 'reload' }, [4242]);
    expect(f.listen).toMatchObject({ line: 7, pid: 102 });
    const of = (sig: string) => f.signals.find((s) => s.sig === sig)!;
    expect(of('SIGTERM').ok).toBe(true);
    // the child's handler is not the main process's: SIGHUP came one line after the worker's listen
    expect(of('SIGHUP')).toMatchObject({ ok: false, handledAtLine: 8 });
  });

  it('a failed call changes nothing; no listener on a subject port gives no verdict material', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = -1 EINVAL (Invalid argument)',
      '100  listen(3<UNIX:[12345,"/tmp/x.sock"]>, 5) = 0',
      '100  listen(4<TCP:[127.0.0.1:4242]>, 5) = -1 EADDRINUSE (Address already in use)',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop' }, [4242]);
    expect(f.listen).toBeNull();
    expect(f.signals).toEqual([]);
    expect(f.otherListens).toBe(1);
  });

  it("a one-shot handler replaced later by a lasting one (Node's own exit handler for SIGINT and SIGTERM) was not the handler", () => {
    const text = [
      '100  execve("/usr/bin/node", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0xc61ac0, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER|SA_RESETHAND|0xffffffff00000000, sa_restorer=0x1}, NULL, 8) = 0',
      '100  listen(18<TCP:[127.0.0.1:4242]>, 511) = 0',
      '100  rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1], [], 8) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x18b68a0, sa_mask=~[RTMIN RT_1], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x1}, NULL, 8) = 0',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop' }, [4242]);
    expect(f.signals).toEqual([
      {
        sig: 'SIGTERM',
        action: 'stop',
        disposition: 'one-shot',
        blocked: false,
        ok: false,
        handledAtLine: 5,
        replacedOneShot: true,
      },
    ]);
  });

  it("a one-shot handler never replaced is the server's own (glibc signal() in strict C mode): in time", () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x4011, sa_mask=[], sa_flags=SA_RESTORER|SA_INTERRUPT|SA_NODEFER|SA_RESETHAND, sa_restorer=0x1}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0',
      '100  listen(3<TCP:[127.0.0.1:4242]>, 511) = 0',
    ].join('\n');
    expect(readTrace(text, { SIGTERM: 'stop' }, [4242]).signals[0]).toMatchObject({
      ok: true,
      disposition: 'one-shot',
    });
  });

  it('the port of a listener strace could not decode (older kernels) comes from its bind, inherited across fork', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  bind(3<TCP:[991]>, {sa_family=AF_INET, sin_port=htons(4242), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
      '100  bind(4<TCPv6:[992]>, {sa_family=AF_INET6, sin6_port=htons(5151), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
      '100  listen(4<TCPv6:[992]>, 511) = 0',
      '100  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x1) = 101',
      '101  listen(3<TCP:[991]>, 511) = 0',
      '100  rt_sigaction(SIGTERM, {sa_handler=0x1, sa_mask=[], sa_flags=SA_RESTORER}, NULL, 8) = 0',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop' }, [4242]);
    expect(f.otherListens).toBe(1); // 5151 is not a subject port
    expect(f.listen).toEqual({ line: 6, pid: 101, socket: 'port 4242' });
    expect(f.signals[0]).toMatchObject({ ok: false, handledAtLine: 7 });
  });

  it('SIG_SETMASK with a complement (~[...]) blocks every signal it does not list', () => {
    const text = [
      '100  execve("/srv", [...], 0x1 /* 3 vars */) = 0',
      '100  rt_sigprocmask(SIG_SETMASK, ~[KILL STOP RTMIN RT_1], NULL, 8) = 0',
      '100  listen(3<TCP:[127.0.0.1:4242]>, 511) = 0',
    ].join('\n');
    const f = readTrace(text, { SIGTERM: 'stop', SIGHUP: 'reload' }, [4242]);
    expect(f.signals.every((s) => s.ok && s.blocked)).toBe(true);
  });
});
