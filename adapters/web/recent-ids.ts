import { RecentKeys } from '../../src/core/recent-keys.js';

/**
 * Message ids seen lately, so a page that resends after a reconnect (it cannot know whether the first
 * copy arrived) does not put the same message in a batch twice. Bounded: the oldest id goes first.
 */
export class RecentIds {
  readonly #recent: RecentKeys;

  constructor(max = 10_000) {
    this.#recent = new RecentKeys(Math.max(1, max));
  }

  /** Records `id`; returns false when it was already there. */
  add(id: string): boolean {
    return this.#recent.addIfNew(id);
  }

  /** Forgets `id`, e.g. when the queue refused the message and a retry should be allowed. */
  delete(id: string): void {
    this.#recent.delete(id);
  }
}
