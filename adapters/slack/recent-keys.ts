import { RecentKeys as BoundedRecentKeys } from '../../src/core/recent-keys.js';

/**
 * Remembers keys for a while, oldest first out. Slack redelivers an event up to three times (at once,
 * after ~1 min, after ~5 min), so keys must outlive the last retry; the size cap bounds memory under a flood.
 */
export class RecentKeys {
  readonly #recent: BoundedRecentKeys;

  constructor(ttlMs: number = 10 * 60_000, maxKeys: number = 50_000, now: () => number = Date.now) {
    this.#recent = new BoundedRecentKeys(maxKeys, ttlMs, now);
  }

  /** Records every key; true when none of them was seen within the TTL (the caller should go on). */
  addIfNew(...keys: string[]): boolean {
    const fresh = keys.every((k) => !this.#recent.has(k));
    for (const k of keys) this.#recent.add(k);
    return fresh;
  }

  get size(): number {
    return this.#recent.size;
  }
}
