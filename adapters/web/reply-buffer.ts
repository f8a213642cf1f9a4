/**
 * Replies kept for channels that had no open socket when they arrived, so a page that reloads (or a phone
 * that lost its connection) still gets them on its next `hello`. Bounded twice: the last `perChannel`
 * replies of a channel, and at most `maxChannels` channels (the channel untouched longest goes first),
 * so abandoned browsers cannot grow the gateway's memory.
 */
export class ReplyBuffer<T> {
  readonly #perChannel: number;
  readonly #maxChannels: number;
  // Map iteration order is insertion order; re-inserting on every push keeps it least-recently-used first.
  readonly #byChannel = new Map<string, T[]>();
  #dropped = 0;

  constructor(options: { perChannel?: number; maxChannels?: number } = {}) {
    this.#perChannel = Math.max(1, options.perChannel ?? 50);
    this.#maxChannels = Math.max(1, options.maxChannels ?? 10_000);
  }

  push(channelId: string, item: T): void {
    const list = this.#byChannel.get(channelId) ?? [];
    this.#byChannel.delete(channelId);
    list.push(item);
    if (list.length > this.#perChannel) this.#dropped += list.splice(0, list.length - this.#perChannel).length;
    this.#byChannel.set(channelId, list);
    while (this.#byChannel.size > this.#maxChannels) {
      const oldest = this.#byChannel.keys().next().value;
      if (oldest === undefined) break;
      this.#dropped += this.#byChannel.get(oldest)?.length ?? 0;
      this.#byChannel.delete(oldest);
    }
  }

  /** True when one of the channel's buffered items matches. */
  has(channelId: string, match: (item: T) => boolean): boolean {
    return this.#byChannel.get(channelId)?.some(match) ?? false;
  }

  /** Removes and returns the channel's buffered items, oldest first. */
  take(channelId: string): T[] {
    const list = this.#byChannel.get(channelId) ?? [];
    this.#byChannel.delete(channelId);
    return list;
  }

  /** Items currently held across all channels. */
  get size(): number {
    let n = 0;
    for (const list of this.#byChannel.values()) n += list.length;
    return n;
  }

  /** Items pushed out by either bound since start. */
  get dropped(): number {
    return this.#dropped;
  }

  clear(): void {
    this.#byChannel.clear();
  }
}
