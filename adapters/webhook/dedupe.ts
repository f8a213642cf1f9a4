import { RecentKeys } from '../../src/core/recent-keys.js';

/** Message ids seen in the last `ttlMs`, in bounded memory (oldest forgotten first, no timers, no scan). */
export class RecentIds {
  private readonly recent: RecentKeys;

  constructor(
    ttlMs: number,
    /** Past this many ids the oldest are forgotten early, so a flood of unique ids cannot exhaust memory. */
    maxIds = 100_000,
    now: () => number = Date.now,
  ) {
    this.recent = new RecentKeys(maxIds, ttlMs, now);
  }

  /**
   * Records `id` and returns true, or returns false when it was already recorded and has not expired.
   * Check and record are one synchronous step, so two concurrent requests with one id cannot both win.
   */
  claim(id: string): boolean {
    return this.recent.addIfNew(id);
  }

  /** Forgets `id`, so a sender may retry a message the gateway turned away (queue full, shutting down). */
  release(id: string): void {
    this.recent.delete(id);
  }

  get size(): number {
    return this.recent.size;
  }
}
