/**
 * The certificate thread: reads a certificate and key, checks that they load as a pair, and asks the
 * process bus for a reload that installs them. It is the application-level request of edge case
 * E25: a thread that renewed a certificate cannot send itself a signal (signals reach the main
 * thread only), and needs none. The thread posts one message,
 *
 * ```json
 * { "type": "bus-request", "action": "reload", "tls": { "certPath", "keyPath", "cert", "key" } }
 * ```
 *
 * which the main thread's bridge turns into `installCertificate()` and `bus.request('reload',
 * 'thread')` (`../worker-bus-bridge.ts`), then reports to the main thread with `cert-result`.
 * An invalid pair is reported and asks for nothing: the pair in use stays.
 *
 * Input (`workerData`): `{ certPath, keyPath }`, absolute paths.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { requestFromThread } from '../worker-bus-bridge.js';

export interface CertJob {
  certPath: string;
  keyPath: string;
}

export type CertResultMessage =
  | { type: 'cert-result'; ok: true; subject: string }
  | { type: 'cert-result'; ok: false; error: string };

async function run(port: MessagePort, job: CertJob): Promise<CertResultMessage> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(job.certPath), readFile(job.keyPath)]);
  } catch (err) {
    return { type: 'cert-result', ok: false, error: `cannot read the pair: ${(err as Error).message}` };
  }
  let subject: string;
  try {
    createSecureContext({ cert, key }); // throws unless the key belongs to the certificate
    subject = new X509Certificate(cert).subject.replace(/\n/g, ', ');
  } catch (err) {
    return { type: 'cert-result', ok: false, error: `not a certificate/key pair: ${(err as Error).message}` };
  }
  requestFromThread('reload', port, { tls: { certPath: job.certPath, keyPath: job.keyPath, cert, key } });
  return { type: 'cert-result', ok: true, subject };
}

const port = parentPort;
if (port !== null) {
  const job = workerData as CertJob;
  void run(port, job).then((result) => port.postMessage(result));
}
