import type { Logger } from 'pino';
import { QueueEventType, type QueueEvent } from '../../src/core/events.js';
import { parseSlackMessageId } from './normalize.js';

/** Adds or removes one reaction; rejects with the WebClient's error. */
export interface ReactionApi {
  add(channel: string, ts: string, name: string): Promise<void>;
  remove(channel: string, ts: string, name: string): Promise<void>;
}

/** Options of {@link SlackReceipts}. */
export interface SlackReceiptsOptions {
  /** Reaction while a message waits, its batch runs and its reply is on the way; empty turns receipts off. */
  receiptReaction: string;
  /** Reaction that replaces it once the batch's replies are posted; empty: just remove the receipt. */
  doneReaction: string;
  api: ReactionApi;
  logger: Logger;
  /** Bound on messages (and on batches awaiting delivery) tracked at once, oldest forgotten first. @defaultValue 10000 */
  maxTracked?: number;
  /**
   * How long a completed batch waits for its replies to be reported posted; after that its receipt is
   * removed without ✅ (a reply lost on the way never reports back). @defaultValue 600000
   */
  deliveryTimeoutMs?: number;
  /** Epoch ms; tests inject their own. @defaultValue Date.now */
  now?: () => number;
}

/** Slack errors that mean "already in the state we wanted" (or the message is gone): not worth a warning. */
const BENIGN = new Set(['already_reacted', 'no_reaction', 'message_not_found', 'channel_not_found', 'not_in_channel']);

/**
 * What is known about the delivery of one batch's replies. Created by `batch.completed` or by the first
 * delivery report, whichever comes first: events and replies travel on different bus channels, so a reply
 * can be posted before its batch's `batch.completed` reaches the adapter.
 */
interface Delivery {
  /** Replies reported posted so far. */
  delivered: number;
  /** A reply failed for good: the batch ends without ✅. */
  failed: boolean;
  /** From `batch.completed`: the number of replies to wait for and the messages whose receipts they finish. */
  awaiting?: { replies: number; ids: string[] };
  /** Epoch ms the entry was created; it expires `deliveryTimeoutMs` later. */
  since: number;
}

/**
 * "Seen" receipts: people resend a message when nothing shows it arrived, which makes bursts worse, so
 * each accepted message gets a reaction (👀 by default) that is swapped for the done reaction (✅) once
 * its batch completed and every reply it produced was posted, and removed when the batch is cancelled or
 * fails, or a reply cannot be posted. ✅ waits for the post, not for the processor: a reply held by a 429
 * arrives seconds later, and one that Slack refuses never arrives, so ✅ at completion would promise an
 * answer the user does not see.
 *
 * Reactions of one message run strictly in order on their own promise chain, so a fast batch can never
 * remove 👀 before the add landed and leave it stuck. Failures are logged, never thrown: receipts are
 * a courtesy and must not fail a message or a reply.
 */
export class SlackReceipts {
  readonly #opts: SlackReceiptsOptions;
  /** Message id → the chain of its reaction calls; present while its receipt is shown. */
  readonly #tracked = new Map<string, Promise<void>>();
  /** Batch id → its message ids, from `batch.started`. */
  readonly #batches = new Map<string, string[]>();
  /**
   * Message id → whether its batch completed, for batches that ended before `accept` even answered
   * (batching disabled and a fast processor): adding 👀 then would leave it stuck.
   */
  readonly #endedEarly = new Map<string, boolean>();
  /** Batch id → delivery state, oldest first (Maps iterate in insertion order), for expiry. */
  readonly #deliveries = new Map<string, Delivery>();
  readonly #maxTracked: number;
  readonly #deliveryTimeoutMs: number;
  readonly #now: () => number;
  readonly #pending = new Set<Promise<void>>();
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(options: SlackReceiptsOptions) {
    this.#opts = options;
    this.#maxTracked = options.maxTracked ?? 10_000;
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs ?? 600_000;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#opts.receiptReaction !== '';
  }

  /** Batches whose delivery state is kept (awaiting replies, or deliveries counted ahead of `batch.completed`). */
  get trackedDeliveries(): number {
    return this.#deliveries.size;
  }

  /** A message was accepted; `show` is the channel's `typing` setting from the accept result. */
  onAccepted(messageId: string, show: boolean): void {
    if (!this.enabled || !show || this.#tracked.has(messageId)) return;
    const where = parseSlackMessageId(messageId);
    if (!where) return;
    const ended = this.#endedEarly.get(messageId);
    if (ended !== undefined) {
      this.#endedEarly.delete(messageId);
      if (ended && this.#opts.doneReaction) this.#run(Promise.resolve(), () => this.#opts.api.add(where.channel, where.ts, this.#opts.doneReaction), 'add');
      return;
    }
    this.#tracked.set(messageId, this.#run(Promise.resolve(), () => this.#opts.api.add(where.channel, where.ts, this.#opts.receiptReaction), 'add'));
    trim(this.#tracked, this.#maxTracked);
  }

  /** Queue lifecycle of this platform's channels. */
  onQueueEvent(event: QueueEvent): void {
    if (!this.enabled) return;
    switch (event.type) {
      case QueueEventType.Started:
        this.#batches.set(event.batchId, [...event.messageIds]);
        break;
      case QueueEventType.Completed:
        this.#onCompleted(event.batchId, event.replies);
        break;
      case QueueEventType.Cancelled:
      case QueueEventType.Failed:
        // Replies it published before it ended may still be posted; their reports find no entry and expire.
        this.#deliveries.delete(event.batchId);
        this.#finishBatch(event.batchId, false);
        break;
      case QueueEventType.Interrupted:
        // Its messages run again inside the next batch (whose batch.started lists them): keep the receipts.
        this.#batches.delete(event.batchId);
        break;
      case QueueEventType.Dropped:
        if (event.batchId) this.#finishBatch(event.batchId, false);
        break;
      default:
        break;
    }
  }

  /** The adapter posted (every part of) one reply of `batchId`. */
  onDelivered(batchId: string): void {
    if (!this.enabled) return;
    const d = this.#delivery(batchId);
    d.delivered++;
    this.#settle(batchId, d);
  }

  /** One reply of `batchId` could not be posted, for good: its receipts are removed, no ✅. */
  onUndelivered(batchId: string): void {
    if (!this.enabled) return;
    const d = this.#delivery(batchId);
    d.failed = true;
    this.#settle(batchId, d);
  }

  /** Resolves when every reaction call started so far has settled. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Stops the expiry timer; receipts still awaiting delivery stay as they are. Idempotent. */
  close(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  #onCompleted(batchId: string, replies: number): void {
    const ids = this.#batches.get(batchId);
    this.#batches.delete(batchId);
    if (replies === 0 || !ids) {
      this.#deliveries.delete(batchId);
      if (ids) this.#finish(ids, true);
      return;
    }
    const d = this.#delivery(batchId);
    d.awaiting = { replies, ids };
    this.#settle(batchId, d);
  }

  /** Finishes the batch once the outcome is known: a failed reply, or all replies posted. */
  #settle(batchId: string, d: Delivery): void {
    if (!d.awaiting) return;
    if (!d.failed && d.delivered < d.awaiting.replies) return;
    this.#deliveries.delete(batchId);
    this.#finish(d.awaiting.ids, !d.failed);
  }

  #delivery(batchId: string): Delivery {
    const now = this.#now();
    this.#expire(now);
    let d = this.#deliveries.get(batchId);
    if (!d) {
      d = { delivered: 0, failed: false, since: now };
      this.#deliveries.set(batchId, d);
      while (this.#deliveries.size > this.#maxTracked) {
        const [oldest, entry] = this.#deliveries.entries().next().value ?? [];
        if (oldest === undefined || entry === undefined) break;
        this.#drop(oldest, entry, 'forgotten: too many batches awaiting delivery');
      }
      this.#armExpiry();
    }
    return d;
  }

  /** Drops entries older than the delivery timeout; a batch still awaiting its replies loses its 👀. */
  #expire(now: number): void {
    for (const [batchId, d] of this.#deliveries) {
      if (now - d.since < this.#deliveryTimeoutMs) break;
      this.#drop(batchId, d, 'no delivery reported in time');
    }
  }

  #drop(batchId: string, d: Delivery, why: string): void {
    this.#deliveries.delete(batchId);
    if (!d.awaiting) return;
    this.#opts.logger.warn({ batchId, replies: d.awaiting.replies, delivered: d.delivered }, `slack receipt removed without ${this.#opts.doneReaction || 'done reaction'}: ${why}`);
    this.#finish(d.awaiting.ids, false);
  }

  /** Without traffic nothing else would expire a lost reply's entry, and its 👀 would stay forever. */
  #armExpiry(): void {
    if (this.#expiryTimer || this.#deliveries.size === 0) return;
    const oldest = this.#deliveries.values().next().value;
    const delayMs = Math.max(0, (oldest?.since ?? this.#now()) + this.#deliveryTimeoutMs - this.#now());
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expire(this.#now());
      this.#armExpiry();
    }, delayMs);
    this.#expiryTimer.unref();
  }

  #finishBatch(batchId: string, done: boolean): void {
    const ids = this.#batches.get(batchId);
    this.#batches.delete(batchId);
    if (ids) this.#finish(ids, done);
  }

  #finish(ids: string[], done: boolean): void {
    for (const id of ids) {
      const chain = this.#tracked.get(id);
      const where = parseSlackMessageId(id);
      if (!where) continue;
      if (!chain) {
        this.#endedEarly.set(id, done);
        trim(this.#endedEarly, this.#maxTracked);
        continue;
      }
      this.#tracked.delete(id);
      const { receiptReaction, doneReaction } = this.#opts;
      const removed = this.#run(chain, () => this.#opts.api.remove(where.channel, where.ts, receiptReaction), 'remove');
      if (done && doneReaction) this.#run(removed, () => this.#opts.api.add(where.channel, where.ts, doneReaction), 'add');
    }
  }

  #run(after: Promise<void>, step: () => Promise<void>, what: 'add' | 'remove'): Promise<void> {
    const p = after
      .then(step)
      .catch((err: unknown) => {
        const code = (err as { data?: { error?: unknown } }).data?.error;
        if (typeof code === 'string' && BENIGN.has(code)) return;
        this.#opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `slack receipt reaction ${what} failed`);
      })
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
    return p;
  }
}

/** Forgets the oldest entries past `max` (Maps iterate in insertion order). */
function trim(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}
