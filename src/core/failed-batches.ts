import type { DeadLetter } from './engine.js';
import type { MessageBatch } from './model.js';

// The dead-letter shape belongs to the engine contract (both engines answer it); re-exported for its users.
export type { DeadLetter } from './engine.js';

/**
 * The most recent failed batches, newest first, bounded by a message count so a failing bot cannot grow
 * memory without limit: past `maxMessages` the oldest entries are forgotten (a single batch larger than the
 * bound is still kept, alone).
 */
export class FailedBatches {
  private readonly entries: DeadLetter[] = [];
  private messages = 0;

  constructor(private readonly maxMessages: number) {}

  add(batch: MessageBatch, error: string, failedAt: number): void {
    if (this.maxMessages <= 0) return;
    this.entries.push({ channelKey: batch.channelKey, batch: batch.toJSON(), error, failedAt });
    this.messages += batch.size;
    while (this.messages > this.maxMessages && this.entries.length > 1) this.messages -= this.entries.shift()!.batch.messages.length;
  }

  /** Up to `limit`, newest first. */
  newest(limit: number): DeadLetter[] {
    return this.entries.slice(-limit).reverse();
  }
}
