/**
 * `POST /cert` on the main thread: start a certificate thread (`cert-worker.ts`) for one pair, bridge
 * its bus request to the bus (with the TLS material it carries), and answer once the thread has
 * either asked for the reload or rejected the pair. The thread then exits; none is kept around.
 *
 * Answering means "the reload was asked for", not "the reload is done": the reload itself is the
 * bus's (it may be coalesced with one already running). Its end is the probe `reload-done`.
 */
import { isAbsolute, resolve } from 'node:path';
import { siblingScript, startWorker } from '../cpu/pool.js';
import { type BridgeOptions, type BusRequester, bridgeWorkerToBus } from '../worker-bus-bridge.js';
import type { CertJob, CertResultMessage } from './cert-worker.js';

export interface CertRequest {
  cert: string;
  key: string;
}

export type CertOutcome = { ok: true; subject: string } | { ok: false; error: string };

/** Paths of a `POST /cert` body: relative ones are taken from the configuration file's folder. */
export function resolveCertPaths(req: CertRequest, baseDir: string): CertJob {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return { certPath: abs(req.cert), keyPath: abs(req.key) };
}

/** Runs one certificate thread; resolves with its verdict (never rejects). */
export function installFromThread(
  job: CertJob,
  bus: BusRequester,
  bridge: Required<Pick<BridgeOptions, 'installCertificate'>> & BridgeOptions,
  timeoutMs = 10_000,
): Promise<CertOutcome> {
  return new Promise((done) => {
    const worker = startWorker(siblingScript('cert-worker', import.meta.url), { workerData: job });
    let settled = false;
    const settle = (outcome: CertOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(outcome);
    };
    const timer = setTimeout(() => {
      settle({ ok: false, error: `the certificate thread did not answer within ${timeoutMs} ms` });
      void worker.terminate();
    }, timeoutMs);
    bridgeWorkerToBus(worker, bus, bridge);
    worker.on('message', (msg: CertResultMessage) => {
      if (msg?.type !== 'cert-result') return;
      settle(msg.ok ? { ok: true, subject: msg.subject } : { ok: false, error: msg.error });
    });
    worker.on('error', (err) => settle({ ok: false, error: `the certificate thread failed: ${err.message}` }));
    worker.on('exit', () => settle({ ok: false, error: 'the certificate thread exited without an answer' }));
  });
}
