/** Reporting: the canonical report model, grading rollups, and the JSON / JUnit / console renderers. */
export * from './build.js';
export * from './console.js';
export * from './html.js';
export * from './json.js';
export * from './junit.js';
export { complianceCounts, countsLine, outcomeLabel, outcomeSymbol, shortReason, verdictLine } from './labels.js';
export * from './model.js';
export { stripInvalidXmlChars } from './text.js';
