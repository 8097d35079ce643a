// StrykerJS, second configuration: the supervised mode's worker pool, certified through the supervised
// manifest (one supervisor, two worker processes per generation). Everything else as stryker.config.mjs.
import { certificationConfig } from './stryker.config.mjs';

export const SUPERVISED_FILES = ['reference/src/supervised/pool.ts'];

export default certificationConfig('subjects/reference-supervised/manifest.json', SUPERVISED_FILES);
