import { DeadlineHeap } from './deadlines.js';
import type { BatchRun } from './batch-run.js';

/**
 * What the engine marks on a channel: its batch running here, and its place in the ready queue. The
 * in-memory store's channel state is this record (it extends it), handed to the engine with each seal, so
 * dispatch finds a channel without a look-up by key and nothing is allocated or deleted per batch.
 */
export class ChannelSlot {
  run: BatchRun<ChannelSlot> | null = null;
  /** In the ready queue, waiting for a worker slot. */
  ready = false;
  /** Seal order of the head it was marked ready with (valid while `ready`). */
  readySeq = 0;
  /** False once the store forgot the channel (it went idle and left memory); a new record replaces it. */
  live = true;

  constructor(readonly key: string) {}
}

/**
 * Channels that have a batch ready to start, in the order their queue head was sealed (the worker pool's
 * "oldest seal first"). A channel is in it at most once; a stale entry (the channel was re-marked with a
 * newer head, or taken) is skipped when it surfaces.
 */
export class ReadyQueue {
  private readonly heap = new DeadlineHeap<ChannelSlot>();
  private count = 0;

  /** Channels waiting for a slot. */
  get size(): number {
    return this.count;
  }

  /** Marks a channel ready with the seal order of its head; false when it already was, with that head. */
  mark(slot: ChannelSlot, seq: number): boolean {
    if (slot.ready) {
      if (slot.readySeq === seq) return false;
    } else {
      slot.ready = true;
      this.count++;
    }
    slot.readySeq = seq;
    this.heap.push(seq, slot);
    return true;
  }

  /** The channel whose head was sealed first, or undefined. */
  next(): ChannelSlot | undefined {
    while (this.heap.size > 0) {
      const seq = this.heap.peekTime();
      const slot = this.heap.pop();
      if (!slot.ready || slot.readySeq !== seq) continue;
      slot.ready = false;
      this.count--;
      return slot;
    }
    return undefined;
  }
}
