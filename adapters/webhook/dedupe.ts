/**
 * Message ids seen in the last `ttlMs`, in bounded memory. A Map keeps insertion order and every id lives
 * for the same TTL, so the oldest entry always expires first: expiry and the size cap both evict from the
 * front, with no timers and no scan.
 */
export class RecentIds {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    /** Past this many ids the oldest are forgotten early, so a flood of unique ids cannot exhaust memory. */
    private readonly maxIds = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records `id` and returns true, or returns false when it was already recorded and has not expired.
   * Check and record are one synchronous step, so two concurrent requests with one id cannot both win.
   */
  claim(id: string): boolean {
    const now = this.now();
    this.evict(now);
    if (this.expiries.has(id)) return false;
    this.expiries.set(id, now + this.ttlMs);
    while (this.expiries.size > this.maxIds) {
      const oldest = this.expiries.keys().next().value;
      if (oldest === undefined) break;
      this.expiries.delete(oldest);
    }
    return true;
  }

  /** Forgets `id`, so a sender may retry a message the gateway turned away (queue full, shutting down). */
  release(id: string): void {
    this.expiries.delete(id);
  }

  get size(): number {
    return this.expiries.size;
  }

  private evict(now: number): void {
    for (const [id, expiresAt] of this.expiries) {
      if (expiresAt > now) break;
      this.expiries.delete(id);
    }
  }
}
