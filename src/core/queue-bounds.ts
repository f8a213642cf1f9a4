import type { EmitQueueEvent } from './batch-store.js';
import { queuedEntry, type ChannelState, type QueuedEntry } from './channel-state.js';
import { QueueEventType } from './events.js';
import type { StoreJournal } from './journal.js';
import { MessageBatch } from './model.js';

/**
 * A channel's queue bound in the in-memory store: the overflow policy at `maxQueuedBatches` (drop the
 * oldest batch, or merge every queued batch into one) and the warning once per crossing of
 * `queueWarnRatio` of it.
 */
export class QueueBounds {
  constructor(
    private readonly emit: EmitQueueEvent,
    private readonly journal: StoreJournal | undefined,
    /** Share of maxQueuedBatches at which a channel warns once per crossing. */
    private readonly warnRatio: number,
  ) {}

  /** Appends a sealed entry, applying the channel's overflow policy at the bound. */
  push(ch: ChannelState, entry: QueuedEntry, now: number): void {
    const s = ch.settings;
    if (ch.queued.length >= s.maxQueuedBatches) {
      if (s.overflow === 'drop-oldest') {
        const dropped = ch.queued.shift()!;
        this.journal?.droppedHead(ch.key);
        ch.counters.dropped += dropped.batch.size;
        this.emit({ type: QueueEventType.Dropped, channelKey: ch.key, at: now, count: dropped.batch.size, reason: 'overflow', batchId: dropped.batch.id });
      } else {
        // merge (and reject, whose refusals happen at append; a batch that still overflows is kept, never lost)
        const merged = new MessageBatch(ch.key, { at: now, messages: ch.queued.flatMap((e) => e.batch.messages) });
        merged.flushReason = ch.queued[0]!.batch.flushReason;
        const batches = ch.queued.length;
        ch.queued = [queuedEntry(merged, ch.queued[0]!.sealedAt, ch.queued[0]!.seq, 1, s)];
        this.journal?.merged(ch.key, merged.id);
        this.emit({ type: QueueEventType.Merged, channelKey: ch.key, at: now, batchId: merged.id, size: merged.size, batches });
      }
    }
    ch.queued.push(entry);
    this.check(ch, now);
  }

  /** Emits `queue.over-warn` / `queue.under-warn` when the channel's queue crossed the warn level. */
  check(ch: ChannelState, now: number): void {
    const limit = ch.settings.maxQueuedBatches;
    const over = ch.queued.length >= Math.max(1, Math.ceil(limit * this.warnRatio));
    if (over === ch.overWarn) return;
    ch.overWarn = over;
    this.emit({
      type: over ? QueueEventType.OverWarn : QueueEventType.UnderWarn,
      channelKey: ch.key,
      at: now,
      queuedBatches: ch.queued.length,
      limit,
    });
  }
}
