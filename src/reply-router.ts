import type { Logger } from 'pino';
import type { PlatformAdapter } from '../adapters/adapter.js';
import { Priority, RoomWaiters, type Channel, type Consumer, type Producer } from './bus/index.js';
import type { ReplyDropReason as QueueReplyDropReason } from './core/events.js';
import type { OutboundMessage } from './core/model.js';
import { RecentKeys } from './core/recent-keys.js';
import { ErrorCode, GatewayError } from './errors.js';
import { StreamDelivery } from './stream-delivery.js';

export interface ReplyStats {
  sent: number;
  failed: number;
}

/** Why the router dropped a reply instead of delivering it. */
export type ReplyDropReason = Extract<QueueReplyDropReason, 'cancelled' | 'backpressure'>;

export interface ReplyRouterOptions {
  /**
   * Undelivered replies one channel may have in the router (on the bus or in its delivery chain) before
   * {@link ReplyRouter.publish} makes the next one wait. @defaultValue {@link MAX_REPLIES_PER_CHANNEL}
   */
  maxRepliesPerChannel?: number;
}

/**
 * Enough for a processor that answers in a burst (a long answer split into parts, a streamed reply's
 * snapshots) to go on without waiting, while a channel whose platform stopped taking messages holds a
 * bounded number of them rather than every reply its processor keeps producing.
 */
export const MAX_REPLIES_PER_CHANNEL = 100;

/** How long a cancelled batch id is remembered: longer than any reply of it can still be on its way. */
const CANCELLED_TTL_MS = 10 * 60_000;
const CANCELLED_CAPACITY = 10_000;

/** A batch with replies in the router: aborting `controller` stops the adapter's wait for them. */
interface BatchReplies {
  controller: AbortController;
  count: number;
}

/** What the router holds for one channel; forgotten when it holds nothing. */
interface ChannelReplies {
  /** The last delivery's promise: the next one chains on it. */
  tail: Promise<void>;
  /** Handed over by the bus and not yet delivered, failed or dropped. */
  chained: number;
  /** Published and still on the bus, on their way to the chain. */
  onBus: number;
  /** Publishes waiting for room, oldest first; made when the channel first reaches its bound. */
  waiters: RoomWaiters<WaitingReply> | undefined;
}

/** A publish waiting for room; `sent` is set when it is let in. */
interface WaitingReply {
  reply: OutboundMessage;
  sent: Promise<void> | undefined;
}

/**
 * Carries replies from the bus to adapters: one consumer per adapter (filter `{ platform }`), then one
 * promise chain per channel, so replies of a channel go out in order while a slow or retrying channel
 * never holds back the others. A channel's chain is bounded ({@link ReplyRouterOptions}): past it,
 * {@link ReplyRouter.publish} waits for room, at most the bus's write timeout, so a processor faster
 * than its platform is slowed down instead of growing the chain without end.
 * A batch cancelled once its replies were produced gets none of them delivered: those still waiting in
 * a chain are dropped, and an adapter retrying one is told to stop. Streamed replies are the exception:
 * what they already showed stays, marked as stopped ({@link endStreams}).
 */
export class ReplyRouter {
  private readonly channels = new Map<string, ChannelReplies>();
  private readonly counters = new Map<string, ReplyStats>();
  private readonly consumers: Consumer<OutboundMessage>[] = [];
  private readonly cancelled = new RecentKeys(CANCELLED_CAPACITY, CANCELLED_TTL_MS);
  private readonly inRouter = new Map<string, BatchReplies>();
  private readonly streams: StreamDelivery;
  private readonly producer: Producer<OutboundMessage>;
  private readonly maxRepliesPerChannel: number;
  /** Replies the router holds: waiting for room, on the bus after `publish`, or in a chain. */
  private pending = 0;
  /** Settles when `pending` drops to 0 (what `flush` awaits); made only while someone waits. */
  private emptied: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    private readonly replies: Channel<OutboundMessage>,
    private readonly logger: Logger,
    /** Told about every reply dropped here (metrics, events). */
    private readonly onDropped: (reply: OutboundMessage, reason: ReplyDropReason) => void = () => undefined,
    options: ReplyRouterOptions = {},
  ) {
    this.streams = new StreamDelivery(logger);
    this.producer = replies.internalProducer;
    this.maxRepliesPerChannel = options.maxRepliesPerChannel ?? MAX_REPLIES_PER_CHANNEL;
  }

  /** A batch ended without finishing its streamed replies: they keep what they showed, plus `mark`. */
  endStreams(batchId: string, mark: string): void {
    this.streams.end(batchId, mark);
  }

  attach(adapter: PlatformAdapter, signal: AbortSignal): void {
    const counters: ReplyStats = { sent: 0, failed: 0 };
    this.counters.set(adapter.platform, counters);
    const consumer = this.replies.newConsumer((reply) => this.enqueue(adapter, reply, counters), {
      name: `replies:${adapter.platform}`,
      filters: { platform: adapter.platform },
      priority: Priority.HIGH,
      signal,
    });
    this.consumers.push(consumer);
  }

  /**
   * Puts a reply on the bus for its adapter (what the engine's `onReply` calls). Resolves once the reply
   * is on its way; when its channel already holds `maxRepliesPerChannel` undelivered replies, only once
   * one of them is delivered, so `ctx.reply` resolves as the channel drains. A reply that finds no room
   * within the bus's `writeTimeoutMs` is dropped, logged and counted (reason `backpressure`), and the
   * promise resolves. Rejects like `Producer.send` once the bus stopped.
   */
  publish(reply: OutboundMessage): Promise<void> {
    const key = channelKeyOf(reply);
    const channel = this.channelFor(key);
    if ((channel.waiters === undefined || channel.waiters.count === 0) && channel.chained + channel.onBus < this.maxRepliesPerChannel) {
      channel.onBus++;
      this.pending++;
      return this.sendAdmitted(key, channel, reply);
    }
    return this.waitForRoom(key, channel, reply);
  }

  /**
   * The batch was cancelled (cancel, stop, interrupt): none of its replies is delivered from now on,
   * including those queued here and one an adapter is retrying.
   */
  cancelBatch(batchId: string): void {
    this.cancelled.add(batchId);
    this.inRouter.get(batchId)?.controller.abort(new GatewayError(ErrorCode.Cancelled, `batch ${batchId} was cancelled: its replies are dropped`));
  }

  /** Per-platform delivery counters. */
  stats(): Record<string, ReplyStats> {
    return Object.fromEntries([...this.counters].map(([p, c]) => [p, { ...c }]));
  }

  /**
   * Waits until every reply handed out so far is delivered (or failed, or dropped), at most `timeoutMs`:
   * it awaits the bus consumers' idle state, the chains emptying and the streamed replies' last edits,
   * and arms no timer but its deadline. Resolves `false` when the deadline came first.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs), false);
    });
    try {
      return await Promise.race([this.settled().then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Settles once the consumers have nothing queued, the router holds no reply and no stream is being written. */
  private async settled(): Promise<void> {
    for (;;) {
      // Replies sent straight on the bus (distributed mode's relay) wait in the consumers' queues.
      await Promise.all(this.consumers.map((c) => c.idle));
      if (this.pending > 0) {
        await this.whenEmpty();
        continue;
      }
      if (this.consumers.every((c) => c.isIdle)) break;
    }
    // Streamed replies' last edits (a stopped mark after a shutdown abort) may still be under way.
    await this.streams.idle();
  }

  private whenEmpty(): Promise<void> {
    if (this.emptied === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.emptied = { promise, resolve };
    }
    return this.emptied.promise;
  }

  private released(): void {
    if (--this.pending === 0 && this.emptied !== undefined) {
      const { resolve } = this.emptied;
      this.emptied = undefined;
      resolve();
    }
  }

  private channelFor(key: string): ChannelReplies {
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = { tail: Promise.resolve(), chained: 0, onBus: 0, waiters: undefined };
      this.channels.set(key, channel);
    }
    return channel;
  }

  /** A channel that went quiet holds no memory. */
  private forgetIfEmpty(key: string, channel: ChannelReplies): void {
    if (channel.chained === 0 && channel.onBus === 0 && (channel.waiters?.count ?? 0) === 0 && this.channels.get(key) === channel) this.channels.delete(key);
  }

  /** Sends a reply whose room is taken (`onBus` and `pending` counted); a send no queue took gives it back. */
  private sendAdmitted(key: string, channel: ChannelReplies, reply: OutboundMessage): Promise<void> {
    const leftBus = (): void => {
      channel.onBus--;
      this.released();
      this.admitWaiting(key, channel);
      this.forgetIfEmpty(key, channel);
    };
    return this.producer.send(reply).then(
      (queued) => {
        if (queued === 0) leftBus();
      },
      (err: unknown) => {
        leftBus();
        throw err;
      },
    );
  }

  private async waitForRoom(key: string, channel: ChannelReplies, reply: OutboundMessage): Promise<void> {
    const waiters = (channel.waiters ??= new RoomWaiters<WaitingReply>(() => undefined));
    waiters.timeoutMs = this.replies.writeTimeoutMs;
    this.pending++;
    const waiting: WaitingReply = { reply, sent: undefined };
    if (await waiters.add(waiting)) return waiting.sent;
    this.released();
    this.forgetIfEmpty(key, channel);
    const channelKey = key;
    this.logger.warn(
      { channelKey, batchId: reply.batchId, maxRepliesPerChannel: this.maxRepliesPerChannel, writeTimeoutMs: waiters.timeoutMs },
      'reply dropped: its channel held too many undelivered replies for the whole write timeout',
    );
    this.onDropped(reply, 'backpressure');
  }

  /**
   * Lets waiting publishes in, oldest first, while the channel is under its bound. Each goes on the bus
   * here, in this turn: were it left to its waiter's next turn, a publish arriving meanwhile could find
   * the room free and overtake it.
   */
  private admitWaiting(key: string, channel: ChannelReplies): void {
    const waiters = channel.waiters;
    if (waiters === undefined) return;
    while (waiters.count > 0 && channel.chained + channel.onBus < this.maxRepliesPerChannel) {
      const waiting = waiters.admitOldest();
      channel.onBus++;
      waiting.sent = this.sendAdmitted(key, channel, waiting.reply);
    }
  }

  private enqueue(adapter: PlatformAdapter, reply: OutboundMessage, counters: ReplyStats): void {
    const key = channelKeyOf(reply);
    const channel = this.channelFor(key);
    // Published replies were counted when they took their room; one sent straight on the bus is counted now.
    if (channel.onBus > 0) channel.onBus--;
    else this.pending++;
    if (reply.stream === undefined && this.cancelled.has(reply.batchId)) {
      this.drop(reply);
      this.released();
      this.admitWaiting(key, channel);
      this.forgetIfEmpty(key, channel);
      return;
    }
    let batch = this.inRouter.get(reply.batchId);
    if (batch === undefined) {
      batch = { controller: new AbortController(), count: 0 };
      this.inRouter.set(reply.batchId, batch);
    }
    batch.count++;
    if (channel.chained++ === 0) {
      // Nothing in flight for this channel (the common case): hand the reply over now, no promise hop.
      channel.tail = this.deliver(adapter, reply, counters, key, channel, batch);
    } else {
      channel.tail = channel.tail.then(() => this.deliver(adapter, reply, counters, key, channel, batch));
    }
  }

  private async deliver(adapter: PlatformAdapter, reply: OutboundMessage, counters: ReplyStats, key: string, channel: ChannelReplies, batch: BatchReplies): Promise<void> {
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
      channel.chained--;
      this.released();
      this.admitWaiting(key, channel);
      this.forgetIfEmpty(key, channel);
    }
  }

  private drop(reply: OutboundMessage): void {
    this.logger.info({ channelKey: channelKeyOf(reply), batchId: reply.batchId }, 'reply of a cancelled batch dropped');
    this.onDropped(reply, 'cancelled');
  }
}

function channelKeyOf(reply: OutboundMessage): string {
  return `${reply.platform}:${reply.channelId}`;
}
