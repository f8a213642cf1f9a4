import type { ChangeApplied, HoldCause, QueueEvent } from './events.js';
import type { FlushReason, MessageBatch, QueuedMessage } from './model.js';
import type { ChannelSettings, SettingsOverride } from './policy.js';

/** Per-channel counters, as the admin API shows them. */
export interface ChannelCounters {
  received: number;
  batches: number;
  processed: number;
  cancelled: number;
  failed: number;
  dropped: number;
  cleared: number;
}

/** A channel's queue as the admin API and dashboard show it (`ChannelStats` of `GET /api/v1/channels/:key`). */
export interface ChannelStats {
  key: string;
  platform: string;
  channelId: string;
  /** Messages in the open (not yet sealed) batch. */
  pending: number;
  /** Sealed batches waiting behind the in-flight one, and their messages. */
  queuedBatches: number;
  queuedMessages: number;
  /** A batch is in flight. */
  processing: boolean;
  paused: boolean;
  settings: ChannelSettings;
  counters: ChannelCounters;
  /** Epoch ms when the open batch flushes, or null. */
  deadline: number | null;
  inFlight: { batchId: string; size: number; startedAt: number } | null;
  /** False when the channel went idle and only its counters are remembered. */
  active: boolean;
}

/** A batch the store just sealed into a channel's queue. */
export interface SealResult {
  channelKey: string;
  batchId: string;
  size: number;
  reason: FlushReason;
  mode: ChannelSettings['mode'];
  /** Seal order of the channel's queue head, for oldest-seal-first dispatch. */
  headSeq: number;
  /**
   * True when the channel cannot take a batch now (one in flight, or paused): whatever frees it dispatches
   * this one, so a dispatcher need not try. Optional: the in-memory store does not report it.
   */
  waits?: boolean;
}

/** What `append` did. `S`: a store's own seal result (the in-memory store's carries the channel's slot). */
export type AppendResult<S extends SealResult = SealResult> =
  | { status: 'open'; pending: number; deadline: number; settings: ChannelSettings }
  | { status: 'sealed'; sealed: S; settings: ChannelSettings }
  | { status: 'rejected'; reason: 'queue full'; settings: ChannelSettings }
  /** The same (channel, message id) was appended within the dedupe TTL: nothing changed (Redis store only). */
  | { status: 'duplicate'; settings: ChannelSettings }
  /**
   * The channel groups by author (`groupBy: author`): nothing changed; append again to the author's key
   * with these (the channel's) settings.
   */
  | { status: 'regroup'; settings: ChannelSettings };

/** A batch handed out to run. */
export interface TakenBatch {
  batch: MessageBatch;
  sealedAt: number;
  /** 1 on the first run; +1 each time it runs again: after an interrupt, a shutdown abort or (embedded journal) a crash. */
  attempt: number;
  settings: ChannelSettings;
}

export type FinishOutcome = 'processed' | 'failed' | 'cancelled';

/** After a batch leaves flight: whether the store still considered it current, and what runs next. */
export interface FinishResult {
  /** False when the batch was no longer the channel's in-flight one (already finished elsewhere). */
  current: boolean;
  /** Seal order of the next dispatchable batch of the channel, or null. */
  nextSeq: number | null;
}

/** A message's new text (an edit); `null` in its place is a delete. */
export interface MessageEdit {
  text: string;
  /** Who wrote it, for a follow-up batch when the store no longer holds the original message. */
  userId?: string;
  userName?: string;
}

/** What an edit or delete step found and did. */
export interface ChangeResult<S extends SealResult = SealResult> {
  applied: ChangeApplied;
  /** The batch holding the message (pending, in flight) or the answered batch that held it, when known. */
  batchId?: string;
  /**
   * The in-flight batch was changed in place (`interrupt` mode): the engine aborts its run with reason
   * `edit`, and the interrupt step re-queues it as changed.
   */
  abort?: boolean;
  /** A batch sealed for the change (queue mode in flight, `editAfterReply: followUp`): the engine dispatches it. */
  sealed?: S;
}

/**
 * Where batching state lives: open batches, deadlines, sealed queues, the in-flight marker, pause flags,
 * overrides and counters. Each method is one atomic step (one Lua script in the Redis store), so callers
 * never see half a transition; everything else (timers, running processors, abort controllers, the
 * worker pool) belongs to the process and lives in the engine: {@link MessageQueue} over the in-memory
 * store, DistributedQueue and the workers over the Redis store.
 *
 * Steps may answer synchronously: the in-memory store does, so the embedded hot path pays no promise
 * per message.
 *
 * Steps emit their own queue events through the `emit` callback given at construction, so an event is
 * reported by whichever process performed the step.
 */
export interface BatchStore {
  /**
   * Adds a message to its channel's open batch, sealing it when a cap is reached. `channelKey`, when the
   * caller has it, saves rebuilding it. Without `group`, a channel grouped by author answers `regroup`;
   * with it, `channelKey` is an author's key and `group` the channel's settings its batches use.
   */
  append(msg: QueuedMessage, now: number, channelKey?: string, group?: ChannelSettings): MaybePromise<AppendResult>;
  /** Seals the open batch of every channel whose deadline passed; at most `limit` per call. */
  sealDue(now: number, limit: number): MaybePromise<SealResult[]>;
  /** The earliest deadline of an open batch, or null. */
  nextDeadline(): MaybePromise<number | null>;
  /** Seals one channel's open batch now (admin flush). Null when nothing is open. */
  seal(channelKey: string, reason: FlushReason, now: number): MaybePromise<SealResult | null>;
  /** Seals every open batch (shutdown). */
  sealAll(reason: FlushReason, now: number): MaybePromise<SealResult[]>;
  /** Puts messages or a batch ahead of everything waiting (not ahead of the one in flight). */
  pushFront(channelKey: string, item: QueuedMessage | MessageBatch, now: number): MaybePromise<SealResult>;
  /** Appends already-sealed batches at the back of their queues (spool replay). */
  restore(batches: MessageBatch[], now: number): MaybePromise<SealResult[]>;
  /** Marks the channel's queue head in flight and returns it; null if paused, busy or empty. */
  take(channelKey: string, now: number): MaybePromise<TakenBatch | null>;
  /** Ends a batch's flight with an outcome. */
  finish(channelKey: string, batchId: string, outcome: FinishOutcome, now: number): MaybePromise<FinishResult>;
  /** Interrupt: the in-flight batch's messages are merged in front of everything waiting, to re-run. */
  interrupt(channelKey: string, batchId: string, now: number): MaybePromise<FinishResult>;
  /**
   * Steer mode: the in-flight batch `batchId` takes every batch waiting behind it. Their messages join the
   * in-flight batch in the store (a re-run after a shutdown or a crash carries them; they never run as a
   * batch of their own) and are answered in order, with `batch.steered`. Nothing is taken (`[]`) when
   * `batchId` is not in flight, the channel is not in steer mode, or nothing waits.
   */
  steer(channelKey: string, batchId: string, now: number): MaybePromise<QueuedMessage[]>;
  /** Puts the in-flight batch back at the front of its queue unfinished (shutdown abort). */
  release(channelKey: string, batchId: string, now: number): MaybePromise<FinishResult>;
  /** Pauses dispatch; false for an unknown channel. */
  pause(channelKey: string, now: number): MaybePromise<boolean>;
  /** Resumes dispatch; returns the next dispatchable seal order, or null. Undefined for an unknown channel. */
  resume(channelKey: string, now: number): MaybePromise<{ nextSeq: number | null } | undefined>;
  /** Drops the open deadline: messages stay pending until the next message or an explicit seal. */
  disarm(channelKey: string): MaybePromise<boolean>;
  /**
   * Keeps the open batch open until at least `now + holdMs`, capped by its `firstAt + maxWaitMs`; later
   * messages slide the window as usual but never below the hold. Never opens a batch and never moves a
   * deadline earlier. Returns the open batch's deadline, or null when nothing is open (or it is disarmed).
   */
  hold(channelKey: string, holdMs: number, now: number, reason?: HoldCause): MaybePromise<number | null>;
  /**
   * A typing signal from `userId`: when an author of the open batch, {@link hold} for the channel's
   * `typingHoldMs` (reason `typing`), the author check and the hold in one step. Null when nothing is
   * open, `userId` wrote nothing in it, or `typingHoldMs` is 0.
   */
  typing(channelKey: string, userId: string, now: number): MaybePromise<number | null>;
  /**
   * Edits (`edit` given) or deletes (`null`) message `messageId` of the channel: in place in an open or
   * queued batch (a batch left empty disappears); in the in-flight batch by the channel's mode; after its
   * batch was answered by `editAfterReply`. Emits `message.edited` / `message.deleted`.
   */
  change(channelKey: string, messageId: string, edit: MessageEdit | null, now: number): MaybePromise<ChangeResult>;
  /** Discards everything waiting that is not in flight; returns the number of messages removed. */
  clear(channelKey: string, now: number): MaybePromise<number>;
  /** Removes every waiting batch of every channel (shutdown spool), in per-channel order. */
  drainWaiting(): MaybePromise<MessageBatch[]>;
  getOverride(channelKey: string): MaybePromise<SettingsOverride | null>;
  /** Sets the override; returns the open batch's new deadline when it moved, else null. */
  setOverride(channelKey: string, override: SettingsOverride, now: number): MaybePromise<{ deadline: number | null; settings: ChannelSettings }>;
  deleteOverride(channelKey: string, now: number): MaybePromise<{ deadline: number | null; settings: ChannelSettings } | null>;
  settings(channelKey: string): MaybePromise<ChannelSettings>;
  stats(channelKey: string): MaybePromise<ChannelStats | null>;
  list(): MaybePromise<ChannelStats[]>;
  /** Channels whose state is held (not counting remembered idle ones). */
  activeChannels(): number;
  close(): MaybePromise<void>;
}

export type EmitQueueEvent = (event: QueueEvent) => void;

/** Store steps may answer synchronously (memory) or asynchronously (Redis). */
export type MaybePromise<T> = T | Promise<T>;
