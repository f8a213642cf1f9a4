import { DeadlineHeap } from './deadlines.js';

/**
 * Channels that have a batch ready to start, in the order their queue head was sealed (the worker pool's
 * "oldest seal first"). A channel is in it at most once; a stale entry (the channel was re-marked with a
 * newer head) is skipped when it surfaces.
 */
export class ReadyQueue {
  private readonly heap = new DeadlineHeap<string>();
  private readonly seqOf = new Map<string, number>();

  /** Channels waiting for a slot. */
  get size(): number {
    return this.seqOf.size;
  }

  /** Marks a channel ready with the seal order of its head; false when it already was, with that head. */
  mark(key: string, seq: number): boolean {
    if (this.seqOf.get(key) === seq) return false;
    this.seqOf.set(key, seq);
    this.heap.push(seq, key);
    return true;
  }

  /** The channel whose head was sealed first, or undefined. */
  next(): string | undefined {
    while (this.heap.size > 0) {
      const seq = this.heap.peekTime();
      const key = this.heap.pop();
      if (this.seqOf.get(key) !== seq) continue;
      this.seqOf.delete(key);
      return key;
    }
    return undefined;
  }
}
