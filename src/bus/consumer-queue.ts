import { Fifo } from './fifo.js';
import { SendBatch } from './send-batch.js';

/**
 * One consumer's FIFO. An entry is an item of its own or a {@link SendBatch} shared with the other
 * consumers the same sends reached; either way items come out in the order they were sent to this
 * consumer. A batch is read in place (a cursor, no copy), and is sealed before anything is queued
 * behind it, so a batch that still grows is always the last entry.
 */
export class ConsumerQueue<T> {
  private readonly entries = new Fifo<T | SendBatch<T>>();
  /** The batch being read and the index of its next item. */
  private current: SendBatch<T> | undefined;
  private cursor = 0;
  /** The last entry when it is a batch, whose length is read live because it may still grow. */
  private tail: SendBatch<T> | undefined;
  /** Items queued in entries that can no longer grow (own items and batches no longer last). */
  private settled = 0;
  /** Items taken out (performed or discarded). */
  private taken = 0;

  /** Items queued and not yet taken. */
  get size(): number {
    const tail = this.tail;
    return this.settled + (tail === undefined ? 0 : tail.items.length) - this.taken;
  }

  push(item: T): void {
    this.closeTail();
    this.entries.push(item);
    this.settled++;
  }

  pushBatch(batch: SendBatch<T>): void {
    this.closeTail();
    this.entries.push(batch);
    this.tail = batch;
  }

  /** Removes and returns the oldest item. Only when `size > 0`. */
  shift(): T {
    const batch = this.current;
    if (batch !== undefined && this.cursor < batch.items.length) {
      this.taken++;
      return batch.items[this.cursor++] as T;
    }
    return this.shiftEntry();
  }

  /**
   * The next entry's first item, once the batch being read (if any) is done: a later entry exists, so
   * that batch was sealed when the entry was queued.
   */
  private shiftEntry(): T {
    const entry = this.entries.shift() as T | SendBatch<T>;
    this.taken++;
    if (!(entry instanceof SendBatch)) {
      this.current = undefined;
      return entry;
    }
    // A batch is created holding its first item, so it is never empty.
    this.current = entry;
    this.cursor = 1;
    return entry.items[0] as T;
  }

  /**
   * The queue is empty and its consumer goes idle: seal the batch it read to its end, so the next send
   * starts a new one (queuing it wakes the consumer) instead of growing one nobody is reading. The
   * batch stays referenced until that next batch replaces it: letting go of it here measured ~25%
   * slower with ten consumers, and what it holds is bounded by the queue size.
   */
  caughtUp(): void {
    this.current?.seal();
  }

  /** Stops the last batch from growing (its consumer stops): what it holds stays queued. */
  closeTail(): void {
    const tail = this.tail;
    if (tail === undefined) return;
    tail.seal();
    this.settled += tail.items.length;
    this.tail = undefined;
  }

  /** Empties the queue and returns how many items it held. */
  clear(): number {
    this.closeTail();
    const lost = this.settled - this.taken;
    this.entries.clear();
    this.current = undefined;
    this.settled = 0;
    this.taken = 0;
    return lost;
  }
}
