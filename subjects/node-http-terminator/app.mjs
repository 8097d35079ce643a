/**
 * A plain node:http server stopped by http-terminator 3.2, used the way its README shows
 * (https://github.com/gajus/http-terminator#usage): createHttpTerminator({ server }) and, instead of
 * server.close(), `await httpTerminator.terminate()`. http-terminator handles no signal and "does not
 * terminate the Node.js process", so the application calls terminate() from its own SIGTERM and SIGINT
 * listeners and then lets the process end on its own. gracefulTerminationTimeout (README: "Number of
 * milliseconds to allow for the active sockets to complete serving the response") is SIGCERT_GRACE_MS.
 *
 * Endpoints: GET /live (200) and GET /hold?ms=N (status and headers flushed at once, the body
 * `held N\n` after N ms; spec/subject-protocol.md section 9).
 */
import http from 'node:http';
import { createHttpTerminator } from 'http-terminator';

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
  if (req.method === 'GET' && req.url === '/live') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('live\n');
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
});

const httpTerminator = createHttpTerminator({ server, gracefulTerminationTimeout: grace });

async function stop(signal) {
  console.error(`${signal}: terminating the HTTP server`);
  await httpTerminator.terminate();
  console.error('HTTP server terminated');
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, host, () => console.error(`listening on ${host}:${port}`));
