/** Free loopback TCP ports for a subject (subject-protocol.md section 2). */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

export const LOOPBACK = '127.0.0.1';

function listenOn(port: number): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => resolvePromise(server));
  });
}

/**
 * Ports below the kernel's ephemeral range: client sockets (the harness's own, by the hundred under
 * load) take their source ports from that range, so a port chosen there may be taken by a connection
 * before the subject binds it. Null where the range is unknown (then the kernel picks: port 0).
 */
function portPool(): [number, number] | null {
  let first = 49152; // IANA dynamic range: macOS and Windows
  if (process.platform === 'linux') {
    try {
      first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    } catch {
      return null;
    }
  }
  return Number.isInteger(first) && first > 12_000 ? [10_000, first - 1] : null;
}

/**
 * Ports handed out recently by this harness. A port is free when drawn, but its subject binds it only
 * some 100 ms later; a concurrent launch must not draw it in that window. Entries expire after
 * RECENT_MS, by which time the subject holds the port (or has given it up).
 */
const recent = new Map<number, number>();
const RECENT_MS = 120_000;

function recentlyHandedOut(port: number): boolean {
  const now = Date.now();
  for (const [p, at] of recent) if (now - at > RECENT_MS) recent.delete(p);
  return recent.has(port);
}

async function listenEphemeral(): Promise<Server> {
  const pool = portPool();
  for (let i = 0; pool !== null && i < 50; i++) {
    const port = pool[0] + Math.floor(Math.random() * (pool[1] - pool[0] + 1));
    if (recentlyHandedOut(port)) continue;
    try {
      return await listenOn(port);
    } catch {
      // taken: draw again
    }
  }
  return listenOn(0);
}

function close(server: Server): Promise<void> {
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}

/**
 * One free port on 127.0.0.1 per name, all distinct. The kernel picks them (listen on port 0);
 * every listener stays open until all are chosen, so no two names get the same port.
 * The usual caveat of port-0 allocation holds: another process may take a port before the subject binds it.
 */
export async function allocatePorts(names: readonly string[]): Promise<Record<string, number>> {
  const servers: Server[] = [];
  const out: Record<string, number> = {};
  try {
    for (const name of names) {
      if (Object.hasOwn(out, name)) continue;
      const server = await listenEphemeral();
      servers.push(server);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('listening socket has no port');
      out[name] = addr.port;
      recent.set(addr.port, Date.now());
    }
  } finally {
    await Promise.all(servers.map(close));
  }
  return out;
}
