import { QueueEventType, type QueueEvent } from './events.js';

/** What a timeline entry records (`GET /api/v1/channels/:key/timeline`, docs/admin-api.md). */
export type TimelineEntryType =
  | 'opened'
  | 'appended'
  | 'held'
  | 'sealed'
  | 'started'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'merged'
  | 'dropped'
  | 'edited'
  | 'deleted'
  | 'steered'
  | 'cleared'
  | 'paused'
  | 'resumed';

/** Why a batch was cancelled, as the timeline says it: an operator's cancel or stop, an interrupt, a timed-out run, shutdown, an edit. */
export type TimelineCancelReason = 'operator' | 'interrupt' | 'timeout' | 'shutdown' | 'edit';

/** One decision of a channel's engine, with its reason. */
export interface TimelineEntry {
  /** Epoch ms. */
  at: number;
  type: TimelineEntryType;
  batchId?: string;
  messageIds?: string[];
  /** `held`: the hold cause; `sealed`: the flush reason; `cancelled`: {@link TimelineCancelReason}; `dropped`: the drop reason; `edited`/`deleted`: where the message was. */
  reason?: string;
  /** A short human note: sizes, waits, the error text. */
  detail?: string;
}

/** Where a channel's timeline is kept: in memory (embedded mode) or a Redis stream per channel (distributed mode). */
export interface TimelineStore {
  /** Records the event if it is a decision the timeline shows; never throws into the emitter. */
  record(event: QueueEvent): void;
  /** The channel's last `limit` entries, oldest first; empty for a channel with none. */
  read(channelKey: string, limit: number): Promise<TimelineEntry[]>;
  close?(): Promise<void>;
}

/** Whole milliseconds: the clock is fractional (performance.now). */
const ms = (x: number) => `${Math.round(x)} ms`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The one mapping from the engine's events to timeline entries: every event type is named here (the
 * `never` check fails the build when one is added without a decision), and the events that are not
 * decisions of the channel (queue warnings, dropped replies, token usage) map to null.
 */
export function timelineEntry(event: QueueEvent): TimelineEntry | null {
  const at = event.at;
  switch (event.type) {
    case QueueEventType.Appended:
      return { at, type: event.opened ? 'opened' : 'appended', batchId: event.batchId, messageIds: [event.messageId] };
    case QueueEventType.Held:
      return { at, type: 'held', batchId: event.batchId, reason: event.reason, detail: `until ${new Date(event.deadline).toISOString()}` };
    case QueueEventType.Flushed:
      return { at, type: 'sealed', batchId: event.batchId, reason: event.reason, detail: plural(event.size, 'message') };
    case QueueEventType.Started:
      return { at, type: 'started', batchId: event.batchId, messageIds: event.messageIds, detail: `${plural(event.size, 'message')}, waited ${ms(event.waitMs)}` };
    case QueueEventType.Completed:
      return { at, type: 'completed', batchId: event.batchId, detail: `${plural(event.replies, 'reply', 'replies')} in ${ms(event.durationMs)}` };
    case QueueEventType.Failed:
      // A run that hit processingTimeoutMs was aborted: the timeline calls it what the operator sees, a cancel.
      if (event.timeout) return { at, type: 'cancelled', batchId: event.batchId, reason: 'timeout', detail: `after ${ms(event.durationMs)}` };
      return { at, type: 'failed', batchId: event.batchId, detail: event.error };
    case QueueEventType.Cancelled:
      return { at, type: 'cancelled', batchId: event.batchId, reason: event.reason === 'cancel' || event.reason === 'stop' ? 'operator' : event.reason, detail: `${event.reason} after ${ms(event.durationMs)}` };
    case QueueEventType.Interrupted:
      return { at, type: 'cancelled', batchId: event.batchId, reason: 'interrupt', detail: `${plural(event.size, 'message')} run again with the newer ones` };
    case QueueEventType.Merged:
      return { at, type: 'merged', batchId: event.batchId, reason: 'overflow', detail: `${plural(event.batches, 'batch', 'batches')} (${plural(event.size, 'message')}) merged into one` };
    case QueueEventType.Dropped:
      return { at, type: 'dropped', ...(event.batchId === undefined ? {} : { batchId: event.batchId }), reason: event.reason, detail: plural(event.count, 'message') };
    case QueueEventType.Cleared:
      return { at, type: 'cleared', detail: `${plural(event.removed, 'message')} removed` };
    case QueueEventType.Paused:
      return { at, type: 'paused' };
    case QueueEventType.Resumed:
      return { at, type: 'resumed' };
    case QueueEventType.Edited:
      return { at, type: 'edited', ...(event.batchId === undefined ? {} : { batchId: event.batchId }), messageIds: [event.messageId], reason: event.applied };
    case QueueEventType.Deleted:
      return { at, type: 'deleted', ...(event.batchId === undefined ? {} : { batchId: event.batchId }), messageIds: [event.messageId], reason: event.applied };
    case QueueEventType.Steered:
      return { at, type: 'steered', batchId: event.batchId, messageIds: event.messageIds, detail: `${plural(event.messageIds.length, 'message')} offered to the run` };
    case QueueEventType.OverWarn:
    case QueueEventType.UnderWarn:
    case QueueEventType.ReplyDropped:
    case QueueEventType.Usage:
      return null;
    default: {
      const unmapped: never = event;
      return unmapped;
    }
  }
}

/** Channels whose timelines embedded mode keeps; past it, the channel heard from longest ago goes first. */
export const MEMORY_TIMELINE_CHANNELS = 1_000;

/** A fixed-size ring of one channel's entries. */
class EntryRing {
  private readonly items: TimelineEntry[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  push(entry: TimelineEntry): void {
    if (this.items.length < this.size) this.items.push(entry);
    else this.items[this.next] = entry;
    this.next = (this.next + 1) % this.size;
  }

  /** The last `limit`, oldest first. */
  last(limit: number): TimelineEntry[] {
    const n = this.items.length;
    const count = Math.min(limit, n);
    const out: TimelineEntry[] = new Array<TimelineEntry>(count);
    // Once full, the oldest sits at `next`; before, at 0 (and `next` is the length).
    const start = n < this.size ? n - count : (this.next - count + n) % n;
    for (let i = 0; i < count; i++) out[i] = this.items[(start + i) % n]!;
    return out;
  }
}

/**
 * Embedded mode's timelines: the last `size` entries of each channel, for at most `maxChannels` channels
 * (the one heard from longest ago leaves memory first), so memory stays bounded however many channels a
 * gateway has seen.
 */
export class MemoryTimeline implements TimelineStore {
  /** Insertion order is recency: a channel that records moves to the end. */
  private readonly channels = new Map<string, EntryRing>();

  constructor(
    private readonly size: number,
    private readonly maxChannels: number = MEMORY_TIMELINE_CHANNELS,
  ) {}

  record(event: QueueEvent): void {
    const entry = timelineEntry(event);
    if (entry === null) return;
    const key = event.channelKey;
    let ring = this.channels.get(key);
    if (ring === undefined) {
      ring = new EntryRing(this.size);
      if (this.channels.size >= this.maxChannels) this.channels.delete(this.channels.keys().next().value!);
    } else {
      this.channels.delete(key);
    }
    this.channels.set(key, ring);
    ring.push(entry);
  }

  async read(channelKey: string, limit: number): Promise<TimelineEntry[]> {
    return this.channels.get(channelKey)?.last(limit) ?? [];
  }

  /** Channels with a timeline held. */
  get channelCount(): number {
    return this.channels.size;
  }
}
