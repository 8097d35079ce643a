/**
 * Headless Chromium for the HTML report's browser test and the documentation screenshot.
 * The flags are the ones this project's CI machines need: no background networking, no QUIC,
 * a fresh profile per run (the network is closed; Chromium must not try to reach anything).
 * Every run is bounded by a timeout and the browser's process group is killed in `finally`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type SystemTool, systemTool } from '../harness/system-tools.js';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** Path of a Chromium binary ($CHROMIUM, then the PATH), or null. */
export function findChromium(): string | null {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of CANDIDATES) {
      const p = path.join(dir, name);
      if (dir && existsSync(p)) return p;
    }
  }
  return null;
}

/** How to get Chromium (Debian); .ci/run installs it. */
export const CHROMIUM_INSTALL = 'apt-get install -y chromium';

/** Chromium as a program a test needs: `needTool(ctx, chromiumTool())` skips or fails without it. */
export function chromiumTool(): SystemTool {
  return systemTool('chromium', findChromium() !== null, CHROMIUM_INSTALL);
}

export interface ChromiumResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** the throw-away profile folder (removed afterwards); its path is in the browser's command line */
  profile: string;
}

function baseFlags(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    '--disable-crash-reporter',
    '--disable-breakpad',
    `--user-data-dir=${profile}`,
  ];
}

/** Run Chromium with the base flags plus `args`; never leaves it running. */
export async function runChromium(args: string[], timeoutMs = 30_000): Promise<ChromiumResult> {
  const bin = findChromium();
  if (!bin) throw new Error(`chromium not found on PATH (Debian: ${CHROMIUM_INSTALL}; CI installs it in .ci/run)`);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'sigcert-chromium-'));
  // Its own process group, so the renderers and the GPU process go with it. The crash handler
  // (crashpad) starts its own session; its database lives under XDG_CONFIG_HOME, so pointing that
  // into the profile puts the profile's path on its command line, which is how we find it.
  const child = spawn(bin, [...baseFlags(profile), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(profile, 'config'), XDG_CACHE_HOME: path.join(profile, 'cache') },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 200_000) stderr += d;
  });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve({ code: null, signal: null });
      }, timeoutMs);
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return { ...exit, stdout, stderr, timedOut, profile };
  } finally {
    clearTimeout(timer);
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    }
    for (const pid of processesMentioning(profile)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended meanwhile
      }
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Linux: pids of processes whose command line mentions `needle` (e.g. a run's profile folder). */
export function processesMentioning(needle: string): number[] {
  if (process.platform !== 'linux') return [];
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) out.push(Number(pid));
    } catch {
      // it ended while we looked
    }
  }
  return out;
}

/** The DOM of `file` after load (scripts run), as serialised by Chromium. */
export async function dumpDom(file: string, timeoutMs = 30_000): Promise<ChromiumResult> {
  return runChromium(['--dump-dom', pathToFileURL(file).href], timeoutMs);
}

/** A PNG screenshot of `file` at the given window size. */
export async function screenshot(
  file: string,
  png: string,
  size: { width: number; height: number } = { width: 1400, height: 2000 },
  timeoutMs = 30_000,
): Promise<ChromiumResult> {
  return runChromium(
    [`--screenshot=${png}`, `--window-size=${size.width},${size.height}`, pathToFileURL(file).href],
    timeoutMs,
  );
}
