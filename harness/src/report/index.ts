/** Reporting: the canonical report model and its console / JSON / JUnit / HTML renderers. */
export * from './build.js';
export * from './console.js';
export * from './html.js';
export * from './json.js';
export * from './junit.js';
export { verdictLine } from './labels.js';
export * from './model.js';
export { stripInvalidXmlChars } from './text.js';
