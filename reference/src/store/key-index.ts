/**
 * The in-memory index: key -> location of the key's latest durable record.
 *
 * After a clean open it is a loaded `IndexTable` (read-only, probed in place) with a `Map`
 * overlay for keys written since; after a scan it is just the overlay. Only durable records are
 * ever added, so `get()`/`keys()` never expose a write that a crash could still take back.
 */
import type { IndexTable, Location } from './index-file.js';

export class KeyIndex {
  private readonly overlay = new Map<string, Location>();
  private count: number;

  constructor(private readonly base?: IndexTable) {
    this.count = base?.count ?? 0;
  }

  get size(): number {
    return this.count;
  }

  get(key: string): Location | undefined {
    return this.overlay.get(key) ?? this.base?.get(key);
  }

  /** Points `key` at a newer record (last writer wins). */
  set(key: string, location: Location): void {
    if (!this.overlay.has(key) && !this.base?.has(key)) this.count++;
    this.overlay.set(key, location);
  }

  /** Every key with its latest location, each exactly once. */
  *entries(): Generator<[string, Location]> {
    if (this.base) {
      for (const entry of this.base.entries()) if (!this.overlay.has(entry[0])) yield entry;
    }
    yield* this.overlay;
  }

  keys(): string[] {
    const keys: string[] = [];
    for (const [key] of this.entries()) keys.push(key);
    return keys;
  }
}
