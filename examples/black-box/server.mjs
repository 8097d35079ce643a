// A small HTTP server with clean signal handling and nothing sigcert-specific: the README's example of
// black-box certification. SIGTERM and SIGINT stop it gracefully (a second SIGINT stops it at once),
// SIGHUP re-reads its configuration. Usage: node server.mjs --port N [--grace-ms N]
import http from 'node:http';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg('port', '8080'));
const graceMs = Number(arg('grace-ms', '5000'));
let stopping = false;
let generation = 1;

const server = http.createServer((req, res) => {
  // once the stop has begun, every response closes its connection; a response already under way when
  // the stop came closes it when it ends (server.close() alone would wait for the busy keep-alive)
  if (stopping) res.setHeader('connection', 'close');
  res.on('finish', () => {
    if (stopping) req.socket.end();
  });
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') return res.end('ok\n');
  if (url.pathname === '/hold') {
    // a slow request: headers at once, the body after ms milliseconds
    const ms = Math.min(Number(url.searchParams.get('ms') ?? '0'), 60_000);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    const t = setTimeout(() => res.end(`held ${ms}\n`), ms);
    res.on('close', () => clearTimeout(t));
    return;
  }
  res.end(`generation ${generation}\n`);
});

function stop() {
  if (stopping) return;
  stopping = true;
  // stop accepting; idle keep-alive connections are closed now, busy ones after their response
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // the deadline: what is still open then is cut, and the exit status (3) says so
  setTimeout(() => {
    server.closeAllConnections();
    process.exit(3);
  }, graceMs).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', () => (stopping ? process.exit(4) : stop())); // a second SIGINT: fast stop
process.on('SIGHUP', () => {
  generation += 1;
});

server.listen(port, '127.0.0.1');
