/**
 * Preloaded with `node --import`: keeps every listener of this process on loopback. Lightship 7.3
 * binds its probe service to host 0.0.0.0 with no option to change it (createLightship.ts:
 * `app.listen({ host: '0.0.0.0', ... })`), and sigcert subjects MUST bind loopback only
 * (spec/subject-protocol.md section 2). A listen on the wildcard address becomes a listen on
 * 127.0.0.1; nothing else changes (the same port, the same callbacks), and no signal is involved.
 */
import net from 'node:net';

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object' && !Array.isArray(first) && WILDCARD.has(first.host ?? '')) {
    if (first.port !== undefined || first.path === undefined) args[0] = { ...first, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
