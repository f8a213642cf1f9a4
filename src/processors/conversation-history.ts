/** One turn of a conversation as chat-completions APIs take it. */
export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * The turns an LLM processor remembers per channel. Embedded mode keeps them in memory; distributed mode
 * in Redis (`RedisConversationHistory`), so whichever worker runs a channel's next batch has them. The
 * gateway clears a channel's turns with the channel's `clear`.
 */
export interface ConversationHistory {
  /** The channel's turns, oldest first. */
  load(channelKey: string): Promise<ChatTurn[]>;
  /** Appends turns, then keeps only the channel's last `keep`. */
  append(channelKey: string, turns: ChatTurn[], keep: number): Promise<void>;
  clear(channelKey: string): Promise<void>;
}

/** Channels whose turns {@link MemoryConversationHistory} keeps; the one untouched longest goes first. */
export const MEMORY_HISTORY_CHANNELS = 10_000;

/** Turns in this process's memory, bounded by channel count. */
export class MemoryConversationHistory implements ConversationHistory {
  // Map order is insertion order: re-inserting on every write keeps it least recently used first.
  readonly #byChannel = new Map<string, ChatTurn[]>();

  constructor(private readonly maxChannels = MEMORY_HISTORY_CHANNELS) {}

  async load(channelKey: string): Promise<ChatTurn[]> {
    return [...(this.#byChannel.get(channelKey) ?? [])];
  }

  async append(channelKey: string, turns: ChatTurn[], keep: number): Promise<void> {
    const list = [...(this.#byChannel.get(channelKey) ?? []), ...turns].slice(-Math.max(0, keep));
    this.#byChannel.delete(channelKey);
    if (list.length === 0) return;
    this.#byChannel.set(channelKey, list);
    while (this.#byChannel.size > this.maxChannels) this.#byChannel.delete(this.#byChannel.keys().next().value!);
  }

  async clear(channelKey: string): Promise<void> {
    this.#byChannel.delete(channelKey);
  }
}
