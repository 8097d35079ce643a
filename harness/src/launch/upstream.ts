/**
 * The slow upstream the harness starts for black-box subjects that proxy (nginx, Caddy): the
 * manifest's `upstream.port` names the port; the subject is configured to proxy to it. It serves the
 * few conformance endpoints a proxy can pass through, so in-flight and keep-alive cases run against
 * servers that have no endpoints of their own:
 *   GET /hold?ms=N       headers at once, body `held N\n` after N ms
 *   GET /download?bytes=N  the protocol's byte pattern
 *   anything else        200 `upstream\n`
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from './ports.js';

export interface Upstream {
  port: number;
  close(): Promise<void>;
}

export async function startUpstream(port: number): Promise<Upstream> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/hold') {
      const ms = Math.max(0, Math.min(600_000, Number(url.searchParams.get('ms') ?? 0)));
      const body = `held ${ms}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.flushHeaders();
      const t = setTimeout(() => {
        timers.delete(t);
        res.end(body);
      }, ms);
      timers.add(t);
      res.on('close', () => {
        clearTimeout(t);
        timers.delete(t);
      });
      return;
    }
    if (url.pathname === '/download') {
      const n = Math.max(0, Math.min(1 << 30, Number(url.searchParams.get('bytes') ?? 0)));
      const pat = Buffer.from('0123456789abcdef');
      const chunk = Buffer.alloc(64 * 1024);
      for (let i = 0; i < chunk.length; i++) chunk[i] = pat[i % 16]!;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      let sent = 0;
      const pump = () => {
        while (sent < n) {
          const len = Math.min(chunk.length, n - sent);
          sent += len;
          if (!res.write(len === chunk.length ? chunk : chunk.subarray(0, len))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('upstream\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
