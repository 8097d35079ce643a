/**
 * The control channel's bearer token: `SIGCERT_CONTROL_TOKEN`, or the first line of the file
 * named by `SIGCERT_CONTROL_TOKEN_FILE` (keeps the secret out of the process environment).
 */
import { readFile } from 'node:fs/promises';
import type { Settings } from './settings.js';

export async function readControlToken(
  settings: Pick<Settings, 'controlToken' | 'controlTokenFile'>,
): Promise<string | undefined> {
  if (settings.controlToken !== undefined) return settings.controlToken;
  if (settings.controlTokenFile === undefined) return undefined;
  const text = await readFile(settings.controlTokenFile, 'utf8');
  const token = text.split(/\r?\n/)[0]?.trim();
  return token === undefined || token === '' ? undefined : token;
}
