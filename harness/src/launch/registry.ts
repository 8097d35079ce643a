/**
 * Every subject launched by this process and not yet torn down, so an interrupted harness
 * (Ctrl-C, SIGTERM, an uncaught error) leaves nothing running.
 *
 * - `teardownAll()`: the orderly way (SIGTERM, grace, SIGKILL, orphan sweep) for every live subject.
 * - `installInterruptHandler()`: SIGINT/SIGTERM to the harness -> teardownAll -> exit 130/143.
 *   A second interrupt during that kills everything at once and exits.
 * - A `process.on('exit')` hook (installed with the first launch) SIGKILLs what is still live,
 *   synchronously. Nothing helps if the harness itself is SIGKILLed.
 */

export interface Tracked {
  teardown(): Promise<unknown>;
  /** last resort, synchronous: SIGKILL the group (if not reaped) and every marked process */
  killNowSync(): void;
}

const live = new Set<Tracked>();
let exitHookInstalled = false;

/** SIGKILL every live subject's group and marked processes now, synchronously (a second interrupt). */
export function killAllSync(): void {
  for (const s of live) {
    try {
      s.killNowSync();
    } catch {
      // keep going: the others still need it
    }
  }
}

export function register(s: Tracked): void {
  live.add(s);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllSync);
  }
}

export function unregister(s: Tracked): void {
  live.delete(s);
}

/** Number of subjects launched and not yet torn down. */
export function liveCount(): number {
  return live.size;
}

/** Tear down every live subject (in parallel). Never rejects. */
export async function teardownAll(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.teardown()));
}

function interruptExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : 143;
}

/**
 * On SIGINT or SIGTERM to the harness: tear every subject down, then call `onInterrupted(sig)`
 * (default: exit 130 for SIGINT, 143 for SIGTERM). A second interrupt while tearing down kills at once
 * and exits. Returns a function that removes the handlers.
 */
export function installInterruptHandler(onInterrupted?: (sig: NodeJS.Signals) => void): () => void {
  let interrupting = false;
  const handler = (sig: NodeJS.Signals) => {
    if (interrupting) {
      killAllSync();
      process.exit(interruptExitCode(sig));
    }
    interrupting = true;
    void teardownAll().finally(() => {
      if (onInterrupted) onInterrupted(sig);
      else process.exit(interruptExitCode(sig));
    });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
