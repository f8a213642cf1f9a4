import type { FlushReason, QueuedMessage, QueuedMessageJSON } from './model.js';
import type { SettingsOverride } from './policy.js';

/** A batch as the journal keeps it: plain JSON, ids and order preserved. */
export interface DurableBatch {
  id: string;
  reason: FlushReason | null;
  /** 1 on the first run; +1 each time it is re-run (interrupt, or in flight at a crash). */
  attempt: number;
  firstAt: number;
  lastAt: number;
  messages: QueuedMessageJSON[];
}

/** Everything about one channel that must survive the process. */
export interface DurableChannel {
  key: string;
  paused: boolean;
  override: SettingsOverride | null;
  open: DurableBatch | null;
  /** Sealed batches waiting, in dispatch order. */
  queued: DurableBatch[];
  inFlight: DurableBatch | null;
}

/**
 * The in-memory store's durable steps, told as they happen (embedded mode's journal listens here). Each
 * call mirrors one state change of the store exactly, so replaying the calls in order rebuilds the
 * store's channels; nothing here may throw into the store.
 */
export interface StoreJournal {
  /** A message joined the channel's open batch; `openedBatchId` is set when it opened that batch. */
  appended(channelKey: string, msg: QueuedMessage, openedBatchId: string | null): void;
  /** The open batch was sealed to the back of the queue. */
  sealed(channelKey: string, reason: FlushReason): void;
  /** Overflow `drop-oldest` removed the queue's head batch. */
  droppedHead(channelKey: string): void;
  /** Overflow `merge` coalesced every queued batch into one with this id. */
  merged(channelKey: string, batchId: string): void;
  /** A batch went to the front of the queue (admin insert). */
  pushedFront(channelKey: string, batch: DurableBatch): void;
  /** A sealed batch went to the back of the queue (replay of an older spool). */
  restored(channelKey: string, batch: DurableBatch): void;
  /** The queue head went in flight. */
  taken(channelKey: string): void;
  /** The in-flight batch ended (processed, failed or cancelled): its messages never come back. */
  finished(channelKey: string): void;
  /** Interrupt: the in-flight batch and everything queued became one batch with this id, to re-run. */
  interrupted(channelKey: string, batchId: string): void;
  /** The in-flight batch went back to the front of the queue unfinished (shutdown). */
  released(channelKey: string): void;
  paused(channelKey: string, paused: boolean): void;
  /**
   * A message of the open, a queued or the in-flight batch (searched in that order) got a new text
   * (`edit`) or was removed (`null`; a waiting batch left empty goes).
   */
  changed(channelKey: string, messageId: string, edit: { text: string; editedAt: number } | null): void;
  /** The open batch and the queued batches were discarded. */
  cleared(channelKey: string): void;
  /** The channel's settings override is now this (null: removed). */
  override(channelKey: string, override: SettingsOverride | null): void;
}

/** What the engine needs from a journal: the store's steps, and a wait until they are durable. */
export interface Journal extends StoreJournal {
  /** Resolves with `value` once every step told so far is as durable as the journal promises. */
  whenDurable<T>(value: T): Promise<T>;
}
