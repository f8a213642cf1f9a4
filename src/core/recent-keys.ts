/**
 * Keys remembered for `ttlMs`, at most `capacity` of them, forgotten oldest first: the dedupe memory of
 * every adapter (platform retries, page resends, duplicate webhook ids).
 *
 * A ring of (key, sequence, time) in insertion order plus a Map for look-ups: expiry and the size cap both
 * take from the ring's head. Nothing iterates a Map from its start, which looks O(1) but is not: V8 leaves
 * deleted entries in place until a rehash, so "delete the first key" walks every earlier deletion
 * (measured here: 0.5 µs per call at 1,000 keys, 50 µs at 100,000).
 */
export class RecentKeys {
  private readonly seen = new Map<string, number>();
  private readonly keys: Array<string | undefined>;
  private readonly seqs: Float64Array;
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;
  private nextSeq = 0;

  constructor(
    readonly capacity: number,
    private readonly ttlMs: number = Infinity,
    private readonly now: () => number = Date.now,
  ) {
    if (!(capacity >= 1)) throw new RangeError('RecentKeys capacity must be at least 1');
    this.keys = new Array<string | undefined>(capacity);
    this.seqs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.seen.size;
  }

  /** True when `key` was recorded and has not expired. */
  has(key: string): boolean {
    this.expire(this.now());
    return this.seen.has(key);
  }

  /** Records `key` (again: its time is refreshed). */
  add(key: string): void {
    const now = this.now();
    this.expire(now);
    this.push(key, now);
  }

  /** Records `key`; false when it was already remembered (check and record in one step). */
  addIfNew(key: string): boolean {
    const now = this.now();
    this.expire(now);
    if (this.seen.has(key)) return false;
    this.push(key, now);
    return true;
  }

  /**
   * Records every key; true when none of them was remembered. For a platform that names one delivery
   * several ways (Slack: the event id and the message id), so a redelivery under either is caught.
   */
  addAllIfNew(keys: readonly string[]): boolean {
    const now = this.now();
    this.expire(now);
    let fresh = true;
    for (const key of keys) if (this.seen.has(key)) fresh = false;
    for (const key of keys) this.push(key, now);
    return fresh;
  }

  /** Forgets `key` (its ring slot goes stale and is skipped when it reaches the head). */
  delete(key: string): void {
    this.seen.delete(key);
  }

  private push(key: string, now: number): void {
    if (this.count === this.capacity) this.dropHead();
    const slot = (this.head + this.count) % this.capacity;
    const seq = this.nextSeq++;
    this.keys[slot] = key;
    this.seqs[slot] = seq;
    this.times[slot] = now;
    this.count++;
    this.seen.set(key, seq);
  }

  private dropHead(): void {
    const key = this.keys[this.head]!;
    // Only the key's newest entry owns it; an older, refreshed or deleted one just leaves the ring.
    if (this.seen.get(key) === this.seqs[this.head]) this.seen.delete(key);
    this.keys[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  private expire(now: number): void {
    if (this.ttlMs === Infinity) return;
    while (this.count > 0 && now - this.times[this.head]! >= this.ttlMs) this.dropHead();
  }
}
