import net from 'node:net';
import { defineCase } from '../case.js';
import { notes, unknown, verdict } from '../grade/index.js';
import { http, recordResult } from '../workload.js';

/**
 * Spec: "a client that vanishes mid-response never kills the subject" (E37) and "SIGPIPE never
 * terminates the subject". Five clients reset their connections mid-download, then SIGPIPE itself
 * is sent; the subject must keep serving. SIGPIPE is sent only to a subject still serving after the
 * clients vanished: one they brought down fails IO.EPIPE, and SIG.PIPE.IGNORED is then not judged.
 */
export default defineCase({
  id: 'io.client-vanishes',
  title: 'Clients that vanish mid-response, and SIGPIPE itself, never kill the subject',
  description:
    'Five clients start a large download and reset their sockets after the first bytes; then SIGPIPE is sent to the subject. It must stay alive and keep serving.',
  requirements: ['IO.EPIPE', 'SIG.PIPE.IGNORED'],
  edgeCases: ['E37'],
  applies: { platforms: ['linux', 'darwin'], needs: ['download', 'live'] },
  timeout: 'short',
  async run(ctx) {
    const s = await ctx.launch();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const sock = net.connect({ port: s.ports.http!, host: '127.0.0.1' }, () => {
          sock.write(`GET /download?bytes=${16 * 1024 * 1024} HTTP/1.1\r\nhost: x\r\n\r\n`);
        });
        sock.once('data', () => {
          sock.resetAndDestroy();
          resolve();
        });
        sock.once('error', () => resolve());
        sock.once('close', () => resolve());
      });
    }
    const afterVanish = await http(ctx, s, { path: '/live', label: 'after-vanish' });
    recordResult(ctx, afterVanish, { phase: 'vanish' });
    // a subject the vanished clients already brought down is IO.EPIPE's failure: a SIGPIPE sent to it
    // then would take the blame for a death it did not cause
    if (!afterVanish.ok || s.exited) {
      ctx.note('alive', { alive: !s.exited, sigpipeSent: false });
      return;
    }
    s.signal('SIGPIPE');
    const died = await s
      .waitExit(ctx.ms(300))
      .then(() => true)
      .catch(() => false);
    if (!died) recordResult(ctx, await http(ctx, s, { path: '/live', label: 'after-sigpipe' }), { phase: 'sigpipe' });
    ctx.note('alive', { alive: !s.exited, sigpipeSent: true });
  },
  grade({ events }) {
    const rs = notes(events, 'result');
    const v = rs.find((r) => r.phase === 'vanish');
    const p = rs.find((r) => r.phase === 'sigpipe');
    return [
      verdict(
        'IO.EPIPE',
        v?.ok === true && v.status === 200,
        'the subject serves after clients reset mid-response',
        v?.ok ? `served ${v.status}` : `not serving (${v?.error})`,
      ),
      notes(events, 'alive')[0]?.sigpipeSent === false
        ? unknown(
            'SIG.PIPE.IGNORED',
            'SIGPIPE changes nothing: the subject stays up and serving',
            'not sent: the subject no longer served after the clients vanished (IO.EPIPE)',
          )
        : verdict(
            'SIG.PIPE.IGNORED',
            p?.ok === true && notes(events, 'alive')[0]?.alive === true,
            'SIGPIPE changes nothing: the subject stays up and serving',
            p?.ok ? `served ${p.status}` : 'it died or stopped serving after SIGPIPE',
          ),
    ];
  },
});
