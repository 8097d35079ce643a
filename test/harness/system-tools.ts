/**
 * Tests that need a program npm cannot provide (a real browser, the real servers of the matrix).
 *
 * On a machine with only Node and git such a test is skipped with a one-line reason that names the
 * install command, and says so on stderr. With SIGCERT_REQUIRE_TOOLS=1 (what .ci/run exports) the
 * same missing program is a failure, so CI never skips silently.
 *
 *   const chromium = systemTool('chromium', findChromium() !== null, 'apt-get install -y chromium');
 *   it('renders in a browser', (ctx) => {
 *     needTool(ctx, chromium);
 *     ...
 *   });
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The environment variable that turns a skip for a missing program into a failure. */
export const REQUIRE_TOOLS_VAR = 'SIGCERT_REQUIRE_TOOLS';

export interface SystemTool {
  /** what is missing, as a person names it */
  name: string;
  found: boolean;
  /** the command that installs it (Debian) */
  install: string;
}

export type ToolDecision = 'run' | 'skip' | 'fail';

export function systemTool(name: string, found: boolean, install: string): SystemTool {
  return { name, found, install };
}

/** True when SIGCERT_REQUIRE_TOOLS is set to anything but "", "0" or "false". */
export function toolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[REQUIRE_TOOLS_VAR] ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

/** The one-line reason for a missing program. */
export function missingReason(tool: SystemTool): string {
  return `${tool.name} is not installed (install: ${tool.install})`;
}

export function decide(tool: SystemTool, env: NodeJS.ProcessEnv = process.env): ToolDecision {
  if (tool.found) return 'run';
  return toolsRequired(env) ? 'fail' : 'skip';
}

/** The part of vitest's test context this needs. */
export interface SkippableContext {
  skip: (note?: string) => never;
  task: { name: string };
}

/**
 * Call first in a test body: returns when the program is there; otherwise skips the test with the reason
 * (printed on stderr too, so a plain log shows it) or, under SIGCERT_REQUIRE_TOOLS=1, fails it.
 */
export function needTool(ctx: SkippableContext, tool: SystemTool): void {
  const d = decide(tool);
  if (d === 'run') return;
  const reason = missingReason(tool);
  if (d === 'fail') throw new Error(`${reason}; ${REQUIRE_TOOLS_VAR}=1 makes a missing program a failure`);
  process.stderr.write(`skipped "${ctx.task.name}": ${reason}\n`);
  ctx.skip(reason);
}

/** The real servers of the matrix (subjects/), from Debian; .ci/run installs them. */
export const REAL_SERVERS_INSTALL = 'apt-get install -y nginx caddy gunicorn python3-cherrypy3 python3-uvicorn';

/** The first of `names` found on PATH (absolute path), or null. */
export function findOnPath(names: readonly string[], envPath = process.env.PATH ?? ''): string | null {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const p = path.join(dir, name);
      if (existsSync(p)) return p;
    }
  }
  return null;
}
