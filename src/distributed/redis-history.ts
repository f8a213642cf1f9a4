import type { Redis } from 'ioredis';
import type { ChatTurn, ConversationHistory } from '../processors/conversation-history.js';

/**
 * Conversation turns in Redis, one list per channel (`<prefix>:history:{<channelKey>}`, hash-tagged so
 * the list sits in one Cluster slot), so any worker can run a channel's next batch with its history.
 */
export class RedisConversationHistory implements ConversationHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(channelKey: string): string {
    return `${this.prefix}:history:{${channelKey}}`;
  }

  async load(channelKey: string): Promise<ChatTurn[]> {
    const items = await this.redis.lrange(this.key(channelKey), 0, -1);
    const turns: ChatTurn[] = [];
    for (const item of items) {
      try {
        turns.push(JSON.parse(item) as ChatTurn);
      } catch {
        // A foreign entry: skipped rather than failing every later batch of the channel.
      }
    }
    return turns;
  }

  async append(channelKey: string, turns: ChatTurn[], keep: number): Promise<void> {
    const key = this.key(channelKey);
    if (keep <= 0) {
      await this.redis.del(key);
      return;
    }
    await this.redis
      .multi()
      .rpush(key, ...turns.map((t) => JSON.stringify(t)))
      .ltrim(key, -keep, -1)
      .exec();
  }

  async clear(channelKey: string): Promise<void> {
    await this.redis.del(this.key(channelKey));
  }
}
