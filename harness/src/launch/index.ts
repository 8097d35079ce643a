/** The launcher: manifests in, running subjects out, nothing left behind. */
export {
  ADDRESS_IN_USE,
  describeExit,
  LaunchError,
  type LaunchErrorKind,
  ManifestError,
  SignalRefusedError,
  SignalUnsupportedError,
  SubjectExitedError,
  WaitTimeoutError,
} from './errors.js';
export type { LaunchOptions } from './handover.js';
export { launch, launchRetryingPortRace } from './launch.js';
export { LOG_KEEP_BYTES } from './logs.js';
export {
  ALL_PLATFORMS,
  DEFAULT_EXIT_CODES,
  DEFAULT_GRACE_PERIOD_MS,
  DEFAULT_READINESS_PATH,
  DEFAULT_READINESS_TIMEOUT_MS,
  DEFAULT_UPSTREAM_HOLD_MS,
  loadManifest,
  parseManifest,
} from './manifest.js';
export { manifestSchemaPath, repoRoot } from './paths.js';
export { PLACEHOLDER_NAMES, type PlaceholderName, substitute } from './placeholders.js';
export { allocatePorts, LOOPBACK } from './ports.js';
export { type ProbeEvent, parseProbeLine } from './probe.js';
export {
  descendantScanSupported,
  findMarkedProcesses,
  findMarkedProcessesSync,
  markerOf,
  type ProcInfo,
  stillMarked,
} from './processes.js';
export { installInterruptHandler, killAllSync, liveCount, teardownAll } from './registry.js';
export {
  canDeliver,
  canSignalGroup,
  type DeliverableSignal,
  listDeliverableSignals,
  undeliverableReason,
} from './signals.js';
export { Subject, type TeardownReport } from './subject.js';
export { availableTracking, type TrackingInfo, type TrackingMechanism, type TrackingMode } from './tracking.js';
