import type { Logger } from 'pino';
import type { PlatformAdapter } from '../adapters/adapter.js';
import { Priority, type Channel } from './bus/index.js';
import { ErrorCode, GatewayError } from './errors.js';
import type { OutboundMessage } from './core/model.js';
import { RecentKeys } from './core/recent-keys.js';
import { StreamDelivery } from './stream-delivery.js';

export interface ReplyStats {
  sent: number;
  failed: number;
}

/** Why the router dropped a reply instead of delivering it. */
export type ReplyDropReason = 'cancelled';

/** How long a cancelled batch id is remembered: longer than any reply of it can still be on its way. */
const CANCELLED_TTL_MS = 10 * 60_000;
const CANCELLED_CAPACITY = 10_000;

/** A batch with replies in the router: aborting `controller` stops the adapter's wait for them. */
interface BatchReplies {
  controller: AbortController;
  count: number;
}

/**
 * Carries replies from the bus to adapters: one consumer per adapter (filter `{ platform }`), then one
 * promise chain per channel, so replies of a channel go out in order while a slow or retrying channel
 * never holds back the others. A batch cancelled once its replies were produced gets none of them
 * delivered: those still waiting in a chain are dropped, and an adapter retrying one is told to stop.
 * Streamed replies are the exception: what they already showed stays, marked as stopped ({@link endStreams}).
 */
export class ReplyRouter {
  /** Per channel with a delivery in flight: the last one's promise, and how many are chained on it. */
  private readonly chains = new Map<string, { tail: Promise<void>; length: number }>();
  private readonly counters = new Map<string, ReplyStats>();
  private readonly cancelled = new RecentKeys(CANCELLED_CAPACITY, CANCELLED_TTL_MS);
  private readonly inRouter = new Map<string, BatchReplies>();
  /** Replies handed to a chain and not yet delivered or failed. */
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly streams: StreamDelivery;

  constructor(
    private readonly replies: Channel<OutboundMessage>,
    private readonly logger: Logger,
    /** Told about every reply dropped here (metrics, events). */
    private readonly onDropped: (reply: OutboundMessage, reason: ReplyDropReason) => void = () => undefined,
  ) {
    this.streams = new StreamDelivery(logger);
  }

  /** A batch ended without finishing its streamed replies: they keep what they showed, plus `mark`. */
  endStreams(batchId: string, mark: string): void {
    this.streams.end(batchId, mark);
  }

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

  /**
   * The batch was cancelled (cancel, stop, interrupt): none of its replies is delivered from now on,
   * including those queued here and one an adapter is retrying.
   */
  cancelBatch(batchId: string): void {
    this.cancelled.add(batchId);
    this.inRouter.get(batchId)?.controller.abort(new GatewayError(ErrorCode.Cancelled, `batch ${batchId} was cancelled: its replies are dropped`));
  }

  private enqueue(adapter: PlatformAdapter, reply: OutboundMessage, counters: ReplyStats): void {
    if (reply.stream === undefined && this.cancelled.has(reply.batchId)) {
      this.drop(reply);
      return;
    }
    const key = `${reply.platform}:${reply.channelId}`;
    this.pending++;
    let batch = this.inRouter.get(reply.batchId);
    if (batch === undefined) {
      batch = { controller: new AbortController(), count: 0 };
      this.inRouter.set(reply.batchId, batch);
    }
    batch.count++;
    const chain = this.chains.get(key);
    if (chain === undefined) {
      // Nothing in flight for this channel (the common case): hand the reply over now, no promise hop.
      const entry = { tail: Promise.resolve(), length: 1 };
      this.chains.set(key, entry);
      entry.tail = this.deliver(adapter, reply, counters, key, entry, batch);
    } else {
      chain.length++;
      chain.tail = chain.tail.then(() => this.deliver(adapter, reply, counters, key, chain, batch));
    }
  }

  private async deliver(adapter: PlatformAdapter, reply: OutboundMessage, counters: ReplyStats, key: string, chain: { length: number }, batch: BatchReplies): Promise<void> {
    const { signal } = batch.controller;
    // A streamed reply's snapshots and its stopped mark are the stream delivery's to end.
    const streamed = reply.stream !== undefined;
    try {
      if (!streamed && signal.aborted) {
        this.drop(reply);
        return;
      }
      await (streamed ? this.streams.deliver(adapter, reply) : adapter.send(reply, { signal }));
      if (!streamed || reply.stream!.final) counters.sent++;
    } catch (err) {
      if (!streamed && signal.aborted) {
        this.drop(reply);
      } else {
        counters.failed++;
        this.logger.error({ err, channelKey: key, batchId: reply.batchId }, 'reply delivery failed');
      }
    } finally {
      if (--batch.count === 0 && this.inRouter.get(reply.batchId) === batch) this.inRouter.delete(reply.batchId);
      // The last reply of the chain forgets it, so a channel that went quiet holds no memory.
      if (--chain.length === 0 && this.chains.get(key) === chain) this.chains.delete(key);
      if (--this.pending === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private drop(reply: OutboundMessage): void {
    this.logger.info({ channelKey: `${reply.platform}:${reply.channelId}`, batchId: reply.batchId }, 'reply of a cancelled batch dropped');
    this.onDropped(reply, 'cancelled');
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
      const left = deadline - Date.now();
      if (!queued && this.pending === 0) {
        // Streamed replies' last edits (a stopped mark after a shutdown abort) may still be under way.
        let timer: NodeJS.Timeout | undefined;
        const done = await Promise.race([this.streams.idle().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, left))))]);
        clearTimeout(timer);
        return done;
      }
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
