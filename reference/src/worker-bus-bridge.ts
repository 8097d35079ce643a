/**
 * Worker threads never see OS signals ("Signals are not delivered through process.on in a
 * Worker"), and they must not own the process exit either. A worker that needs an action (say,
 * it noticed a renewed certificate and wants a reload) posts a message to the main thread:
 *
 * ```ts
 * parentPort.postMessage({ type: 'bus-request', action: 'reload' }); // or requestFromThread('reload')
 * ```
 *
 * and the main thread forwards it to the bus with source `thread` (edge case E25).
 */
import { type MessagePort, parentPort, type Worker } from 'node:worker_threads';
import { type Action, isAction } from './bus.js';

export interface BusRequestMessage {
  type: 'bus-request';
  action: Action;
}

export function isBusRequestMessage(msg: unknown): msg is BusRequestMessage {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as { type?: unknown }).type === 'bus-request' &&
    isAction((msg as { action?: unknown }).action)
  );
}

/** The part of the bus the bridge needs. */
export interface BusRequester {
  request(action: Action, source: 'thread'): unknown;
}

/** Main thread: forward `bus-request` messages from `worker` to the bus. */
export function bridgeWorkerToBus(worker: Worker, bus: BusRequester, warn: (msg: string) => void = () => {}): void {
  worker.on('message', (msg: unknown) => {
    if (isBusRequestMessage(msg)) {
      void bus.request(msg.action, 'thread');
    } else if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'bus-request') {
      warn(`worker ${worker.threadId} sent an invalid bus request: ${JSON.stringify(msg)}`);
    }
  });
}

/** Worker thread: ask the main thread's bus for `action`. */
export function requestFromThread(action: Action, port: MessagePort | null = parentPort): void {
  if (port === null) throw new Error('requestFromThread() must be called in a worker thread');
  const msg: BusRequestMessage = { type: 'bus-request', action };
  port.postMessage(msg);
}
