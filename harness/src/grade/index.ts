/** The only place that judges: verifiers per requirement family, outcome rules, roll-up. */
export * from './case.js';
export * from './deadline.js';
export * from './durable.js';
export * from './exit.js';
export * from './facts.js';
export * from './latency.js';
export * from './lifecycle.js';
export * from './listener.js';
export * from './load.js';
export * from './paths.js';
export * from './process.js';
export * from './requirement-ids.js';
export * from './result.js';
export * from './rules.js';
export * from './signals.js';
export * from './stop.js';
export * from './verdict.js';
