/**
 * systemd's notify protocol (sd_notify(3)) beside the probe: when the supervisor hands over
 * NOTIFY_SOCKET, the reference tells it READY=1 once it serves, RELOADING=1 (with MONOTONIC_USEC) when a
 * reload begins and READY=1 again when it is complete, and STOPPING=1 as soon as a stop is requested
 * (readiness fails first, STOP.READINESS_FIRST). Under systemd that is `Type=notify-reload`; under
 * sigcert it is readiness kind `notify`.
 *
 * The messages are derived from the probe events the reference already emits, so the two channels can
 * never disagree. Node has no AF_UNIX datagram sockets of its own: `node-unix-socket` (N-API, prebuilt
 * for Linux and macOS) sends them. Without NOTIFY_SOCKET, or where the module cannot load, the probe is
 * returned unchanged and nothing is sent.
 */
import type { Probe, ProbeFields } from './probe.js';

interface DgramSender {
  sendTo(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
}

/** The notify message a probe event stands for, or null. */
export function notifyMessage(ev: string, fields: ProbeFields | undefined, t: bigint): string | null {
  if (ev === 'ready') return `READY=1\nMAINPID=${process.pid}`;
  if (ev === 'reload-done') return 'READY=1';
  if (ev === 'state' && fields?.state === 'RELOADING') return `RELOADING=1\nMONOTONIC_USEC=${t / 1000n}`;
  if (ev === 'state' && fields?.state === 'STOPPING') return 'STOPPING=1';
  return null;
}

/** `probe`, also speaking sd_notify to NOTIFY_SOCKET when there is one. */
export async function withSdNotify(probe: Probe, env: NodeJS.ProcessEnv = process.env): Promise<Probe> {
  const target = env.NOTIFY_SOCKET;
  // an abstract socket (leading @) or a relative path is not what a harness or systemd hands over here
  if (target === undefined || !target.startsWith('/')) return probe;
  let socket: DgramSender;
  try {
    const { DgramSocket } = (await import('node-unix-socket')) as unknown as { DgramSocket: new () => DgramSender };
    socket = new DgramSocket();
  } catch {
    return probe; // no datagram sockets on this platform: the probe alone
  }
  const send = (msg: string) => {
    const buf = Buffer.from(msg);
    try {
      socket.sendTo(buf, 0, buf.length, target, () => {
        // a supervisor that stopped listening is not our failure
      });
    } catch {
      // same
    }
  };
  const tee = (t: bigint, ev: string, fields?: ProbeFields) => {
    const msg = notifyMessage(ev, fields, t);
    if (msg !== null) send(msg);
  };
  return {
    get enabled() {
      return probe.enabled;
    },
    emit(ev, fields) {
      const t = process.hrtime.bigint();
      probe.emitAt(t, ev, fields);
      tee(t, ev, fields);
    },
    emitAt(t, ev, fields) {
      probe.emitAt(t, ev, fields);
      tee(t, ev, fields);
    },
    flushSync() {
      probe.flushSync();
    },
  };
}
