/**
 * A plain node:http server with Lightship 7.3, set up as in the README's "Using with Express.js"
 * example (https://github.com/gajus/lightship#using-with-expressjs): createLightship(configuration),
 * registerShutdownHandler(() => { server.close(); }), signalReady() once the server listens, shutdown()
 * when it fails to listen. Lightship traps the signals itself (configuration `signals`; left at its
 * default) and ends the process: its probe service answers /health, /live and /ready on its own port.
 *
 * Configuration, all documented options: detectKubernetes false (outside Kubernetes Lightship runs in
 * "local mode", which installs no signal handler at all; a supervised production process is what is
 * certified), port = the harness's `lightship` port, shutdownDelay 0 (the README's recommended delay
 * before closing would be a pre-drain delay this black-box subject does not declare),
 * gracefulShutdownTimeout and shutdownHandlerTimeout = SIGCERT_GRACE_MS.
 *
 * Lightship 7.3.0 as published on npm ships only its TypeScript sources (package.json exports
 * ./dist/index.js, which the tarball lacks), so the manifest runs this file with `node --import tsx`
 * and it imports the package's own src/index.ts, as the package's own test script does.
 *
 * Endpoints on the http port: GET /hold?ms=N (status and headers flushed at once, the body `held N\n`
 * after N ms; spec/subject-protocol.md section 9).
 */
import http from 'node:http';
import { createLightship } from '../../node_modules/lightship/src/index.ts';

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

const lightship = await createLightship({
  detectKubernetes: false,
  port: Number(process.env.SIGCERT_PORT_LIGHTSHIP),
  shutdownDelay: 0,
  gracefulShutdownTimeout: grace,
  shutdownHandlerTimeout: grace,
});

const server = http
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url.startsWith('/hold')) return hold(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  })
  .listen(port, host, () => {
    lightship.signalReady();
  })
  .on('error', () => {
    lightship.shutdown();
  });

lightship.registerShutdownHandler(() => {
  server.close();
});
