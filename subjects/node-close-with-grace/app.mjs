/**
 * Fastify 5 closed by close-with-grace 2.5, as in the README's "Example with Fastify"
 * (https://github.com/mcollina/close-with-grace#example-with-fastify): closeWithGrace(opts, fn) installs
 * the process listeners (SIGHUP, SIGINT, SIGQUIT, SIGUSR2, SIGTERM, ... uncaughtException,
 * unhandledRejection, beforeExit) and calls fn, which awaits `app.close()`; close-with-grace then exits
 * 0, or 1 when fn fails, when `delay` ("the numbers of milliseconds before abruptly close the
 * process", default 10000) expires, or on a second signal. delay is SIGCERT_GRACE_MS.
 *
 * Endpoints: GET /live (200) and GET /hold?ms=N: the reply is hijacked (reply.hijack()) so that the
 * status and headers go out at once and the body `held N\n` after N ms (spec/subject-protocol.md
 * section 9).
 */
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';

const port = Number(process.env.SIGCERT_PORT_HTTP);
const host = process.env.SIGCERT_HOST ?? '127.0.0.1';
const grace = Number(process.env.SIGCERT_GRACE_MS ?? 1000);

const app = Fastify({ logger: false });

app.get('/live', async () => 'live\n');

app.get('/hold', (request, reply) => {
  const ms = Math.max(0, Number.parseInt(request.query.ms ?? '0', 10) || 0);
  const body = `held ${ms}\n`;
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  reply.raw.flushHeaders();
  setTimeout(() => reply.raw.end(body), ms);
});

closeWithGrace({ delay: grace }, async ({ signal, err }) => {
  if (err) console.error('server closing with error', err);
  else console.error(`${signal} received, server closing`);
  await app.close();
});

await app.listen({ port, host });
console.error(`listening on ${host}:${port}`);
