import type { FlushReason } from './model.js';

/** Names of everything the queue reports; consumers (metrics, dashboard, logs, adapters) switch on these. */
export const QueueEventType = {
  Appended: 'message.appended',
  Held: 'batch.held',
  Flushed: 'batch.flushed',
  Started: 'batch.started',
  Completed: 'batch.completed',
  Cancelled: 'batch.cancelled',
  Failed: 'batch.failed',
  Interrupted: 'batch.interrupted',
  Dropped: 'message.dropped',
  Cleared: 'queue.cleared',
  OverWarn: 'queue.over-warn',
  UnderWarn: 'queue.under-warn',
  Paused: 'channel.paused',
  Resumed: 'channel.resumed',
  ReplyDropped: 'reply.dropped',
  Usage: 'processor.usage',
  Edited: 'message.edited',
  Deleted: 'message.deleted',
  Steered: 'batch.steered',
  Merged: 'batch.merged',
} as const;
export type QueueEventType = (typeof QueueEventType)[keyof typeof QueueEventType];

export type DropReason = 'overflow' | 'rejected' | 'cleared' | 'shutdown';

/**
 * Why an open batch was kept open past its window: `typing` (an author of the batch is typing), the
 * content rules (`openFence`, `trailingColon`, `ellipsis`, `phrase`), the turn classifier, or the items
 * of a platform's media group (album) still arriving.
 */
export type HoldCause = 'typing' | 'openFence' | 'trailingColon' | 'ellipsis' | 'phrase' | 'classifier' | 'mediaGroup';

/** Where an edited or deleted message was: in a waiting batch, in the batch running, already answered, or not known. */
export type ChangeApplied = 'pending' | 'in-flight' | 'done' | 'unknown';

interface Base {
  channelKey: string;
  /** Epoch ms (the queue's clock). */
  at: number;
  /**
   * Set on an event another process of the cluster reported (a worker's run), relayed to this gateway over
   * the control channel: live views show it; this process's counters leave it to the worker's own `/metrics`.
   */
  relayed?: true;
}

/** One item of the queue's event stream. */
export type QueueEvent =
  /** A message joined its channel's open batch (`opened`: it started the batch); `deadline` when the window is armed. */
  | (Base & { type: typeof QueueEventType.Appended; batchId: string; messageId: string; opened: boolean; deadline?: number })
  /** The open batch's deadline moved later for `reason`. */
  | (Base & { type: typeof QueueEventType.Held; batchId: string; reason: HoldCause; deadline: number })
  | (Base & { type: typeof QueueEventType.Flushed; batchId: string; size: number; reason: FlushReason; deadline: number; latenessMs: number; /** Epoch ms of the batch's first message. */ firstAt?: number })
  | (Base & { type: typeof QueueEventType.Started; batchId: string; size: number; waitMs: number; messageIds: string[] })
  | (Base & { type: typeof QueueEventType.Completed; batchId: string; size: number; durationMs: number; replies: number })
  | (Base & { type: typeof QueueEventType.Cancelled; batchId: string; size: number; durationMs: number; reason: 'cancel' | 'stop' | 'shutdown' | 'edit' })
  | (Base & { type: typeof QueueEventType.Failed; batchId: string; size: number; durationMs: number; error: string; timeout: boolean })
  | (Base & { type: typeof QueueEventType.Interrupted; batchId: string; size: number })
  | (Base & { type: typeof QueueEventType.Dropped; count: number; reason: DropReason; batchId?: string })
  | (Base & { type: typeof QueueEventType.Cleared; removed: number })
  | (Base & { type: typeof QueueEventType.OverWarn; queuedBatches: number; limit: number })
  | (Base & { type: typeof QueueEventType.UnderWarn; queuedBatches: number; limit: number })
  | (Base & { type: typeof QueueEventType.Paused; cancelled: boolean })
  | (Base & { type: typeof QueueEventType.Resumed })
  | (Base & { type: typeof QueueEventType.ReplyDropped; batchId: string; reason?: ReplyDropReason })
  /** Tokens a processor's model call used (`ctx.usage`). */
  | (Base & { type: typeof QueueEventType.Usage; batchId: string; model: string; promptTokens: number; completionTokens: number })
  | (Base & { type: typeof QueueEventType.Edited; messageId: string; applied: ChangeApplied; batchId?: string })
  | (Base & { type: typeof QueueEventType.Deleted; messageId: string; applied: ChangeApplied; batchId?: string })
  /** Messages handed to the running batch `batchId` (steer mode) instead of queueing. */
  | (Base & { type: typeof QueueEventType.Steered; batchId: string; messageIds: string[] })
  /**
   * Overflow `merge`: the channel's queue was full, so its `batches` waiting batches (`size` messages) became
   * one, `batchId`, keeping the head's place.
   */
  | (Base & { type: typeof QueueEventType.Merged; batchId: string; size: number; batches: number });

/**
 * Why a reply of a batch was never delivered: `cancelled` (the batch was cancelled, stopped or
 * interrupted, whether the reply came after that or was still queued or retrying), `aborted` (it came
 * after a timeout or shutdown aborted the batch), `backpressure` (its channel already held the most
 * undelivered replies the reply router keeps per channel, and no room came within the bus's write timeout).
 */
export type ReplyDropReason = 'cancelled' | 'aborted' | 'backpressure';
