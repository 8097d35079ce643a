/**
 * The floor of a Node server's stop, for `npm run bench` (not a subject of the matrix): a node:http
 * server that does nothing but answer `GET /live`, on SIGCERT_PORT_HTTP. With `exit`, SIGTERM closes
 * the listener and calls `process.exit(0)` at once: no drain, no persist, no log, so its time to exit is
 * the least any Node server that exits 0 can take here (Node's own exit plus the kernel's teardown).
 * With `kill`, no handler is installed: the kernel ends the process by the signal's default action,
 * the least any Node process takes to disappear at all. With `close`, SIGTERM's first and only step
 * is `server.close()`, and the process exits once it has closed: the refusal of a Node server that
 * does nothing before closing its listener, with the code on that path compiled only when it first
 * runs (as in any Node server that does not compile ahead, unlike the reference: `eager.ts`).
 */
import http from 'node:http';

const mode = process.argv[2];
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/live' ? 200 : 404, { 'content-type': 'text/plain', 'content-length': '3' });
  res.end('ok\n');
});
if (mode === 'exit') {
  process.on('SIGTERM', () => {
    server.close();
    process.exit(0);
  });
} else if (mode === 'close') {
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
  });
} else if (mode !== 'kill') {
  console.error(`usage: server.mjs exit|kill (got ${mode ?? 'nothing'})`);
  process.exit(2);
}
server.listen(Number(process.env.SIGCERT_PORT_HTTP), process.env.SIGCERT_HOST ?? '127.0.0.1');
