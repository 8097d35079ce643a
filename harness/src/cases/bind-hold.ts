/**
 * The `slowBind` hook (SIGCERT_BIND_HOLD_MS): a subject that honours it holds each service listener bound
 * this long before it checks for a stop and announces it. A listener bound after a stop, or announced
 * after a stop that came while it bound, then stays open long enough for connect probes and the probe's
 * `listening` event to show it (START.STOP_NO_LISTENER); without the hold the window is one bind.
 */
import type { Manifest } from '../types.js';

/** How long the startup cases ask a `slowBind` subject to hold a service listener bound. */
export const BIND_HOLD_MS = 600;

/** The hold for a subject that honours SIGCERT_BIND_HOLD_MS; nothing for one that does not. */
export function bindHold(m: Manifest, ms = BIND_HOLD_MS): Record<string, string> {
  return m.capabilities.slowBind ? { SIGCERT_BIND_HOLD_MS: String(ms) } : {};
}
