/**
 * The floor of a Node server's signal acknowledgement, for bench/reference-latency.ts (scenario
 * `node-floor`): a node:http server whose SIGTERM listener's first statement stamps
 * `process.hrtime.bigint()` and writes the probe's `signal` event to fd 3, then exits 0. Everything
 * between the kill and that stamp is Node's and the machine's own (libuv's signal pipe, the event
 * loop's wake-up, the call into JavaScript); a server written in Node cannot acknowledge sooner.
 */
import { writeSync } from 'node:fs';
import http from 'node:http';

const emit = (event) => writeSync(Number(process.env.SIGCERT_PROBE_FD ?? 3), `${JSON.stringify(event)}\n`);
process.on('SIGTERM', () => {
  const t = process.hrtime.bigint();
  emit({ ev: 'signal', sig: 'SIGTERM', t: String(t) });
  process.exit(0);
});
http
  .createServer((_req, res) => res.end('ok\n'))
  .listen(Number(process.env.SIGCERT_PORT_HTTP), '127.0.0.1', () =>
    emit({ ev: 'ready', t: String(process.hrtime.bigint()) }),
  );
