import type { Logger } from 'pino';
import type { PlatformAdapter } from '../adapters/adapter.js';
import { Priority, type Channel } from './bus/index.js';
import type { OutboundMessage } from './core/model.js';

export interface ReplyStats {
  sent: number;
  failed: number;
}

/**
 * Carries replies from the bus to adapters: one consumer per adapter (filter `{ platform }`), then one
 * promise chain per channel, so replies of a channel go out in order while a slow or retrying channel
 * never holds back the others.
 */
export class ReplyRouter {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly counters = new Map<string, ReplyStats>();
  /** Replies handed to a chain and not yet delivered or failed. */
  private pending = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly replies: Channel<OutboundMessage>,
    private readonly logger: Logger,
  ) {}

  attach(adapter: PlatformAdapter, signal: AbortSignal): void {
    const counters: ReplyStats = { sent: 0, failed: 0 };
    this.counters.set(adapter.platform, counters);
    this.replies.newConsumer((reply) => this.enqueue(adapter, reply, counters), {
      name: `replies:${adapter.platform}`,
      filters: { platform: adapter.platform },
      priority: Priority.HIGH,
      signal,
    });
  }

  private enqueue(adapter: PlatformAdapter, reply: OutboundMessage, counters: ReplyStats): void {
    const key = `${reply.platform}:${reply.channelId}`;
    const previous = this.chains.get(key) ?? Promise.resolve();
    this.pending++;
    const next = previous.then(async () => {
      try {
        await adapter.send(reply);
        counters.sent++;
      } catch (err) {
        counters.failed++;
        this.logger.error({ err, channelKey: key, batchId: reply.batchId }, 'reply delivery failed');
      } finally {
        if (--this.pending === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    });
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Per-platform delivery counters. */
  stats(): Record<string, ReplyStats> {
    return Object.fromEntries([...this.counters].map(([p, c]) => [p, { ...c }]));
  }

  /** Waits until every reply handed out so far is delivered (or failed), at most `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Replies may still sit in the bus consumers' queues on their way to a chain.
      const queued = this.replies.stats().some((s) => s.depth > 0 || s.waiting > 0);
      if (!queued && this.pending === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, queued ? 10 : 250));
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
