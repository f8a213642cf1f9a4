import type { ChannelCounters, ChannelStats, TakenBatch } from './batch-store.js';
import type { HoldCause } from './events.js';
import type { DurableBatch, DurableChannel } from './journal.js';
import { MessageBatch, messageToJSON, parseChannelKey } from './model.js';
import type { ChannelSettings, SettingsOverride } from './policy.js';
import { ChannelSlot } from './ready-queue.js';

/** A sealed batch in a channel's queue. `take` hands the entry itself out as the TakenBatch (one object less per batch). */
export interface QueuedEntry extends TakenBatch {
  seq: number;
  /** Set when the entry goes in flight. */
  startedAt: number;
}

export function queuedEntry(batch: MessageBatch, sealedAt: number, seq: number, attempt: number, settings: ChannelSettings): QueuedEntry {
  return { batch, sealedAt, attempt, settings, seq, startedAt: 0 };
}

/** Everything the in-memory store holds for one channel; it leaves memory once the channel is idle. */
export class ChannelState extends ChannelSlot {
  open: MessageBatch | null = null;
  /** The open batch's deadline, or Infinity. */
  deadline = Infinity;
  /** The open batch is held open until at least this (epoch ms; see `hold`), 0 when not held. */
  holdUntil = 0;
  /** The open batch has an odd number of ``` fences so far (a code block is still open). */
  fenceOpen = false;
  /** The content rule holding the open batch after its latest message (src/core/turn-rules.ts), or null. */
  heldBy: HoldCause | null = null;
  /** Time of this channel's live heap entry, or Infinity; other entries for it are stale. */
  heapAt = Infinity;
  queued: QueuedEntry[] = [];
  inFlight: QueuedEntry | null = null;
  paused = false;
  override: SettingsOverride | null = null;
  /** An author's key (`groupBy: author`): its channel's settings as of the author's latest message, else null. */
  base: ChannelSettings | null = null;
  overWarn = false;
  /** Slot in the idle ring while remembered after eviction, else -1. */
  idleSlot = -1;
  readonly counters: ChannelCounters = { received: 0, batches: 0, processed: 0, cancelled: 0, failed: 0, dropped: 0, cleared: 0 };

  constructor(
    key: string,
    public settings: ChannelSettings,
  ) {
    super(key);
  }

  get idle(): boolean {
    return this.open === null && this.queued.length === 0 && this.inFlight === null && !this.paused && this.override === null;
  }

  queuedMessages(): number {
    let n = 0;
    for (const e of this.queued) n += e.batch.size;
    return n;
  }

  /** The channel as the admin API shows it. */
  toStats(): ChannelStats {
    const { platform, channelId } = parseChannelKey(this.key);
    const inFlight = this.inFlight;
    return {
      key: this.key,
      platform,
      channelId,
      pending: this.open?.size ?? 0,
      queuedBatches: this.queued.length,
      queuedMessages: this.queuedMessages(),
      processing: inFlight !== null,
      paused: this.paused,
      settings: this.settings,
      counters: { ...this.counters },
      deadline: this.deadline === Infinity ? null : this.deadline,
      inFlight: inFlight ? { batchId: inFlight.batch.id, size: inFlight.batch.size, startedAt: inFlight.startedAt } : null,
      active: this.idleSlot < 0,
    };
  }

  /** The channel's durable state, as the journal keeps it. */
  toDurable(): DurableChannel {
    return {
      key: this.key,
      paused: this.paused,
      override: this.override,
      open: this.open && this.open.size > 0 ? durableBatch(this.open, 1) : null,
      queued: this.queued.map((e) => durableBatch(e.batch, e.attempt)),
      inFlight: this.inFlight ? durableBatch(this.inFlight.batch, this.inFlight.attempt) : null,
    };
  }
}

/** A batch in the journal's form. */
export function durableBatch(batch: MessageBatch, attempt: number): DurableBatch {
  return { id: batch.id, reason: batch.flushReason, attempt, firstAt: batch.firstAt, lastAt: batch.lastAt, messages: batch.messages.map(messageToJSON) };
}

/** A batch from the journal's form. */
export function liveBatch(channelKey: string, b: DurableBatch): MessageBatch {
  const batch = new MessageBatch(channelKey, { id: b.id, messages: b.messages.map((m) => ({ ...m })) });
  batch.firstAt = b.firstAt;
  batch.lastAt = b.lastAt;
  batch.flushReason = b.reason;
  return batch;
}
