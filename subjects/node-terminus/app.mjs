/**
 * A plain node:http server made stoppable by @godaddy/terminus 4.12, set up the way its README shows
 * (https://github.com/godaddy/terminus#usage and "How to set Terminus up with Kubernetes?"):
 * createTerminus(server, options) before server.listen(), a health check at /healthcheck, the signals
 * to trap, `timeout` (milliseconds before the forced close), `useExit0` as the README recommends for
 * Kubernetes, and the onSignal / onShutdown callbacks. Nothing else handles a signal.
 *
 * Endpoints: GET /healthcheck (terminus: 200, 503 once the shutdown began) and GET /hold?ms=N (status
 * and headers flushed at once, the body `held N\n` after N ms; spec/subject-protocol.md section 9).
 */
import http from 'node:http';
import { createTerminus } from '@godaddy/terminus';

const port = Number(process.env.SIGCERT_PORT_HTTP);
const host = process.env.SIGCERT_HOST ?? '127.0.0.1';
const grace = Number(process.env.SIGCERT_GRACE_MS ?? 1000);

function hold(req, res) {
  const ms = Math.max(0, Number.parseInt(new URL(req.url, 'http://x').searchParams.get('ms') ?? '0', 10) || 0);
  const body = `held ${ms}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.flushHeaders();
  setTimeout(() => res.end(body), ms);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/hold')) return hold(req, res);
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

createTerminus(server, {
  healthChecks: { '/healthcheck': async () => {} },
  signals: ['SIGTERM', 'SIGINT'],
  timeout: grace,
  useExit0: true,
  onSignal: async () => {
    console.error('terminus: server is starting cleanup');
  },
  onShutdown: async () => {
    console.error('terminus: cleanup finished, server is shutting down');
  },
  logger: (msg, err) => console.error(msg, err),
});

server.listen(port, host, () => console.error(`listening on ${host}:${port}`));
