/**
 * What the fuzzer can find wrong. A violation is thrown by a command or by the end-of-sequence
 * checks; fast-check then shrinks the sequence that produced it. Each kind names the requirement it
 * breaks, so a saved case reads like a verdict: expected vs actual.
 */

export type ViolationKind =
  /** a signal of the declared map was never acknowledged (probe `signal` event) */
  | 'no-ack'
  /** a stop signal was acknowledged but the subject never entered STOPPING */
  | 'stop-lost'
  /** a probe `state` transition the lifecycle does not allow, or one nothing asked for */
  | 'state'
  /** a reload began after the stop was requested */
  | 'reload-after-stop'
  /** GET /config does not serve the generation the model allows */
  | 'config'
  /** an acknowledged write (201) is missing or different when read back */
  | 'write-lost'
  /** a request in flight was reset, cut short or answered wrongly where it had to complete */
  | 'in-flight-failed'
  /** a request sent while the subject had to be serving was refused, reset or failed */
  | 'request-failed'
  /** after the listeners closed, a new connection was accepted (and reset or served) instead of refused */
  | 'not-refused'
  /** the subject exited while nothing had asked it to stop */
  | 'unexpected-exit'
  /** death by a signal the subject must handle */
  | 'killed-by-signal'
  /** the exit status is not the one the model expects */
  | 'exit-code'
  /** the subject did not exit after the stop (deadline plus slack) */
  | 'no-exit'
  /** a descendant outlived the subject */
  | 'orphans'
  /** more than one stop sequence (two `persisted` or `exiting` events) */
  | 'repeat';

/** The requirement each kind breaks (spec/requirements.json). */
export const REQUIREMENT_OF: Record<ViolationKind, string> = {
  'no-ack': 'REPEAT.NO_LOSS',
  'stop-lost': 'REPEAT.NO_LOSS',
  state: 'BUS.STATES',
  'reload-after-stop': 'REPEAT.STOP_DOMINATES',
  config: 'RELOAD.VALIDATE_SWAP',
  'write-lost': 'DURABLE.ACK_AFTER_SYNC',
  'in-flight-failed': 'STOP.DRAIN.IN_FLIGHT',
  'request-failed': 'RELOAD.LISTENER_KEPT',
  'not-refused': 'STOP.LISTENER_CLOSED',
  'unexpected-exit': 'SIG.MAP.DECLARED',
  'killed-by-signal': 'PROC.NO_CRASH_SIGNAL',
  'exit-code': 'SIG.MAP.DECLARED',
  'no-exit': 'STOP.DEADLINE',
  orphans: 'PROC.NO_ORPHANS',
  repeat: 'REPEAT.IDEMPOTENT',
};

export interface ViolationJSON {
  kind: ViolationKind;
  requirement: string;
  expected: string;
  actual: string;
}

export class Violation extends Error {
  override readonly name = 'Violation';
  readonly requirement: string;
  constructor(
    readonly kind: ViolationKind,
    readonly expected: string,
    readonly actual: string,
    requirement?: string,
  ) {
    super(`${kind} [${requirement ?? REQUIREMENT_OF[kind]}]: expected ${expected}; actual ${actual}`);
    this.requirement = requirement ?? REQUIREMENT_OF[kind];
  }

  toJSON(): ViolationJSON {
    return { kind: this.kind, requirement: this.requirement, expected: this.expected, actual: this.actual };
  }
}

export function isViolation(e: unknown): e is Violation {
  return e instanceof Violation;
}
