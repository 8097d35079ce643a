/**
 * The probe channel (subject-protocol.md section 8): newline-delimited JSON on fd 3.
 * Chunks arrive cut anywhere; lines are reassembled here and parsed one by one.
 */

export interface ProbeEvent {
  ev: string;
  /** the subject's monotonic stamp in nanoseconds, decimal string */
  t: string;
  pid?: number;
  [k: string]: unknown;
}

export type ProbeLine =
  | { ok: true; event: ProbeEvent; stamp: bigint | null }
  | { ok: false; line: string; reason: string };

/** Longest line kept; a longer one is reported as garbage (a subject writing logs to fd 3 by mistake). */
export const MAX_PROBE_LINE = 1024 * 1024;

/** Splits a byte stream into lines; keeps the unfinished tail for the next chunk. */
export class LineSplitter {
  private tail = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: Uint8Array): string[] {
    const text = this.tail + this.decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    this.tail = parts.pop() ?? '';
    if (this.tail.length > MAX_PROBE_LINE) {
      parts.push(this.tail);
      this.tail = '';
    }
    return parts;
  }

  /** The unterminated last line at end of stream, if any. */
  end(): string[] {
    const rest = this.tail + this.decoder.decode();
    this.tail = '';
    return rest.length > 0 ? [rest] : [];
  }
}

/** Parse one probe line. `stamp` is BigInt(t) when t is a valid decimal stamp, else null. */
export function parseProbeLine(raw: string): ProbeLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.length > MAX_PROBE_LINE) return { ok: false, line: line.slice(0, 200), reason: 'line too long' };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, line: line.slice(0, 1000), reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, line: line.slice(0, 1000), reason: 'not a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.ev !== 'string' || obj.ev.length === 0)
    return { ok: false, line: line.slice(0, 1000), reason: 'no "ev"' };
  let stamp: bigint | null = null;
  if (typeof obj.t === 'string' && /^\d{1,30}$/.test(obj.t)) stamp = BigInt(obj.t);
  else if (typeof obj.t === 'number' && Number.isSafeInteger(obj.t) && obj.t >= 0) stamp = BigInt(obj.t);
  return { ok: true, event: obj as ProbeEvent, stamp };
}
