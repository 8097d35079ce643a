/**
 * Compile the server's own code when it loads, not when it first runs.
 *
 * V8 compiles a function the first time it is called (lazy compilation). For most code that is
 * the right trade, but the stop sequence is code that runs exactly once, at the moment it matters:
 * every function on the path from the signal listener to `process.exit` would be compiled right
 * then, between the signal and the listener close. Measured with `bench/stop-breakdown.ts` (a busy
 * 2-core machine, medians of 7 stops), that compilation was half the main thread's CPU time from
 * the signal to `process.exit` (1.9 ms with it, 0.9 ms without) and put the listener close 4.5 ms
 * after the signal instead of 0.8 ms.
 *
 * So `loadCompiled()` turns lazy compilation off while it imports our modules and turns it back
 * on afterwards. The Node builtins our modules import are loaded first, with the default flags:
 * they come with a code cache that V8 accepts only under the flags it was made with, and compiling
 * them from source instead would cost far more startup time than our own code does (a few
 * milliseconds, about 1 MB of bytecode).
 */
import { setFlagsFromString } from 'node:v8';

/** Every builtin `reference/src` imports (load order does not matter; they are cached once loaded). */
const BUILTINS = [
  'node:cluster',
  'node:crypto',
  'node:fs',
  'node:fs/promises',
  'node:http',
  'node:https',
  'node:net',
  'node:os',
  'node:path',
  'node:tls',
  'node:url',
  'node:util',
  'node:worker_threads',
  'node:zlib',
];

/** Runs `load` (dynamic imports of our modules) with V8's lazy compilation off. */
export async function loadCompiled<T>(load: () => Promise<T>): Promise<T> {
  await Promise.all(BUILTINS.map((name) => import(name)));
  setFlagsFromString('--no-lazy');
  try {
    return await load();
  } finally {
    setFlagsFromString('--lazy');
  }
}
