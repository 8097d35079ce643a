/**
 * vitest global setup: the whole test run gets one private temporary folder, removed when the run ends.
 *
 * Tests make scratch folders (reports, manifests, workspaces) with `mkdtempSync(os.tmpdir() ...)`, and
 * the subjects and CLIs they start inherit the environment. Pointing TMPDIR (TMP and TEMP on Windows)
 * at a folder of this run before any test file is forked keeps all of it in one place, so nothing the
 * suite writes outlives it, whether a test cleans up after itself or fails half-way. Each test file
 * still removes what it can; this is the guarantee behind that.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  // a short name: Unix socket paths made under it (the harness's sd_notify socket) must stay within
  // sun_path's 104 bytes under macOS's long per-user TMPDIR
  const root = mkdtempSync(path.join(os.tmpdir(), 'sct-'));
  const saved = { TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP };
  process.env.TMPDIR = root;
  process.env.TMP = root;
  process.env.TEMP = root;
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
