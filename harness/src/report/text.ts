/**
 * Plain-text helpers the renderers share: removing what XML and HTML cannot hold, and clipping a
 * text to one short line.
 */

// ANSI escape sequences (colours from a subject's log), then every character XML 1.0 forbids:
// C0 controls except tab/newline/return, lone surrogates (the `u` flag keeps valid pairs whole), U+FFFE/U+FFFF.
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu;

/** Remove characters that are illegal in XML 1.0 (and ANSI colour sequences). */
export function stripInvalidXmlChars(s: string): string {
  return s.replace(ANSI, '').replace(INVALID_XML, '');
}

/** Whitespace runs folded to one space, cut to `max` characters with an ellipsis. */
export function clip(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
