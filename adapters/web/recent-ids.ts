/**
 * Message ids seen lately, so a page that resends after a reconnect (it cannot know whether the first
 * copy arrived) does not put the same message in a batch twice. Bounded: the oldest id goes first.
 */
export class RecentIds {
  readonly #max: number;
  readonly #ids = new Set<string>();

  constructor(max = 10_000) {
    this.#max = Math.max(1, max);
  }

  /** Records `id`; returns false when it was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#max) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  /** Forgets `id`, e.g. when the queue refused the message and a retry should be allowed. */
  delete(id: string): void {
    this.#ids.delete(id);
  }
}
