/**
 * Remembers keys for a while, oldest first out. Slack redelivers an event up to three times (at once,
 * after ~1 min, after ~5 min), so keys must outlive the last retry; the size cap bounds memory under a flood.
 */
export class RecentKeys {
  readonly #seenAt = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = 10 * 60_000,
    private readonly maxKeys: number = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records every key; true when none of them was seen within the TTL (the caller should go on). */
  addIfNew(...keys: string[]): boolean {
    const now = this.now();
    this.#expire(now);
    const fresh = keys.every((k) => !this.#seenAt.has(k));
    for (const k of keys) {
      this.#seenAt.delete(k); // re-insert so iteration order stays oldest-first
      this.#seenAt.set(k, now);
    }
    while (this.#seenAt.size > this.maxKeys) {
      const oldest = this.#seenAt.keys().next().value;
      if (oldest === undefined) break;
      this.#seenAt.delete(oldest);
    }
    return fresh;
  }

  get size(): number {
    return this.#seenAt.size;
  }

  #expire(now: number): void {
    for (const [k, at] of this.#seenAt) {
      if (now - at < this.ttlMs) break;
      this.#seenAt.delete(k);
    }
  }
}
