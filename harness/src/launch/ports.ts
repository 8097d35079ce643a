/** Free loopback TCP ports for a subject (subject-protocol.md section 2). */
import { createServer, type Server } from 'node:net';

export const LOOPBACK = '127.0.0.1';

function listenEphemeral(): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => resolvePromise(server));
  });
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
    }
  } finally {
    await Promise.all(servers.map(close));
  }
  return out;
}
