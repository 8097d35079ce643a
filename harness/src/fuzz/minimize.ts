/**
 * A last shrinking pass over fast-check's counterexample, by direct replay.
 *
 * fast-check's command shrinker always keeps the last command that ran (it expects the failing
 * command to be the last one; elsewhere the run stops there). Here many violations surface only in
 * the end-of-sequence checks (a lost write is read back, an exit code judged), after every command
 * ran, so a harmless last command would stay in the counterexample. This pass removes one command at
 * a time, last first, keeping a removal whenever the same kind of violation still appears, until no
 * single removal does (1-minimal) or the time budget runs out.
 */
import { join } from 'node:path';
import type { Manifest } from '../types.js';
import type { CmdSpec } from './operations.js';
import type { FuzzTimings } from './real.js';
import { runSpecs } from './sequence.js';
import type { ViolationKind } from './violations.js';

export interface MinimizeOptions {
  manifest: Manifest;
  timings: FuzzTimings;
  workDir: string;
  /** give up (keeping the best list so far) at this Date.now() */
  deadline: number;
  /** called once per replayed sequence */
  onSequence?: () => void;
  out?: (line: string) => void;
}

export async function minimize(
  specs: readonly CmdSpec[],
  kind: ViolationKind,
  o: MinimizeOptions,
): Promise<{ commands: CmdSpec[]; tries: number }> {
  let current = [...specs];
  let tries = 0;
  let changed = true;
  for (let pass = 0; changed && pass < 4; pass++) {
    changed = false;
    for (let i = current.length - 1; i >= 0 && current.length > 1; i--) {
      if (Date.now() >= o.deadline) return { commands: current, tries };
      const candidate = current.filter((_, j) => j !== i);
      tries++;
      o.onSequence?.();
      const r = await runSpecs(
        { manifest: o.manifest, runDir: join(o.workDir, `min-${tries}`), timings: o.timings },
        candidate,
      );
      if (r.violation?.kind === kind) {
        current = r.executed;
        changed = true;
        o.out?.(`  minimized to ${current.length} command(s)`);
        i = Math.min(i, current.length);
      }
    }
  }
  return { commands: current, tries };
}
