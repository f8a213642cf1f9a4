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
  /** Reaction while a message waits or its batch runs; empty turns receipts off. */
  receiptReaction: string;
  /** Reaction that replaces it when the batch completed; empty: just remove the receipt. */
  doneReaction: string;
  api: ReactionApi;
  logger: Logger;
  /** Bound on messages tracked at once (oldest forgotten first). @defaultValue 10000 */
  maxTracked?: number;
}

/** Slack errors that mean "already in the state we wanted" (or the message is gone): not worth a warning. */
const BENIGN = new Set(['already_reacted', 'no_reaction', 'message_not_found', 'channel_not_found', 'not_in_channel']);

/**
 * "Seen" receipts: people resend a message when nothing shows it arrived, which makes bursts worse, so
 * each accepted message gets a reaction (👀 by default) that is swapped for the done reaction (✅) when
 * its batch completes and removed when the batch is cancelled or fails.
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
  readonly #maxTracked: number;
  readonly #pending = new Set<Promise<void>>();

  constructor(options: SlackReceiptsOptions) {
    this.#opts = options;
    this.#maxTracked = options.maxTracked ?? 10_000;
  }

  get enabled(): boolean {
    return this.#opts.receiptReaction !== '';
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
    switch (event.type) {
      case QueueEventType.Started:
        this.#batches.set(event.batchId, [...event.messageIds]);
        break;
      case QueueEventType.Completed:
        this.#finish(event.batchId, true);
        break;
      case QueueEventType.Cancelled:
      case QueueEventType.Failed:
        this.#finish(event.batchId, false);
        break;
      case QueueEventType.Interrupted:
        // Its messages run again inside the next batch (whose batch.started lists them): keep the receipts.
        this.#batches.delete(event.batchId);
        break;
      case QueueEventType.Dropped:
        if (event.batchId) this.#finish(event.batchId, false);
        break;
      default:
        break;
    }
  }

  /** Resolves when every reaction call started so far has settled. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #finish(batchId: string, done: boolean): void {
    const ids = this.#batches.get(batchId);
    this.#batches.delete(batchId);
    if (!ids) return;
    for (const id of ids) {
      const chain = this.#tracked.get(id);
      const where = parseSlackMessageId(id);
      if (!where) continue;
      if (!chain) {
        if (this.enabled) {
          this.#endedEarly.set(id, done);
          trim(this.#endedEarly, this.#maxTracked);
        }
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
