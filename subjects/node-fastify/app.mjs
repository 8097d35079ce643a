/**
 * Fastify 5 with its own close and nothing else: Fastify installs no signal handler, so the
 * application calls `fastify.close()` (https://fastify.dev/docs/latest/Reference/Server/#close) from
 * its own SIGTERM and SIGINT listeners and lets the process end on its own. Every server option keeps
 * its default (forceCloseConnections "idle", return503OnClosing true, keepAliveTimeout 72 s); Fastify
 * has no option that bounds a close, so SIGCERT_GRACE_MS has nothing to configure.
 *
 * Endpoints: GET /live (200) and GET /hold?ms=N: the reply is hijacked (reply.hijack(), the documented
 * way to write to the raw response) so that the status and headers go out at once and the body
 * `held N\n` after N ms (spec/subject-protocol.md section 9).
 */
import Fastify from 'fastify';

const port = Number(process.env.SIGCERT_PORT_HTTP);
const host = process.env.SIGCERT_HOST ?? '127.0.0.1';

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

async function stop(signal) {
  console.error(`${signal}: closing fastify`);
  await app.close();
  console.error('fastify closed');
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ port, host });
console.error(`listening on ${host}:${port}`);
