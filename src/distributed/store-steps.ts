import type { AppendResult, BatchStore, ChangeResult, FinishOutcome, FinishResult, MessageEdit, SealResult, TakenBatch } from '../core/batch-store.js';
import type { DeadLetter } from '../core/failed-batches.js';
import type { HoldCause } from '../core/events.js';
import type { FlushReason, MessageBatch, OutboundMessage, QueuedMessage } from '../core/model.js';
import type { ChannelSettings, SettingsOverride } from '../core/policy.js';

/**
 * Fence of one delivery of a batch: `gen` changes when Redis lost state (restart from an older AOF, a
 * failover), `seq` is the channel's batch number, `token` changes on every claim. A worker may reply or
 * ACK only while its fence is the channel's current one (docs/distributed.md: fences).
 */
export interface Fence {
  gen: number;
  seq: number;
  token: number;
}

/** A batch a worker claimed for one delivery. */
export interface ClaimedBatch {
  batch: MessageBatch;
  settings: ChannelSettings;
  fence: Fence;
  sealedAt: number;
  attempt: number;
}

export type ClaimResult =
  /** The batch is the channel's in-flight one: run it under this fence. */
  | { status: 'claimed'; claimed: ClaimedBatch }
  /** The batch is no longer in flight (ACKed, cancelled, cleared, taken over): do not run it. */
  | { status: 'stale' };

/** A batch taken in flight whose BullMQ job may not exist (the taker died between take and add). */
export interface UnenqueuedBatch {
  channelKey: string;
  batchId: string;
  /** Redis-time ms when it went in flight. */
  startedAt: number;
  /** True once markEnqueued ran for it. */
  enqueued: boolean;
}

/** A batch that exhausted its attempts under `onBatchFailed: dead-letter` (the same shape embedded mode keeps). */
export type { DeadLetter };

/**
 * The steps distributed mode needs on top of the BatchStore contract. Every step is one Lua script, so a
 * crash between two steps leaves a state the reconciler can finish.
 */
export interface DistributedBatchStore extends BatchStore {
  // The store keeps time on Redis's clock (each script reads TIME), so the engine passes no `now`: the
  // parameter exists for the BatchStore contract the in-memory store shares.
  append(msg: QueuedMessage, now?: number, channelKey?: string): Promise<AppendResult>;
  sealDue(now: number | undefined, limit: number): Promise<SealResult[]>;
  seal(channelKey: string, reason: FlushReason, now?: number): Promise<SealResult | null>;
  pushFront(channelKey: string, item: QueuedMessage | MessageBatch, now?: number): Promise<SealResult>;
  restore(batches: MessageBatch[], now?: number): Promise<SealResult[]>;
  take(channelKey: string, now?: number): Promise<TakenBatch | null>;
  finish(channelKey: string, batchId: string, outcome: FinishOutcome, now?: number): Promise<FinishResult>;
  interrupt(channelKey: string, batchId: string, now?: number): Promise<FinishResult>;
  steer(channelKey: string, batchId: string, now?: number): Promise<QueuedMessage[]>;
  change(channelKey: string, messageId: string, edit: MessageEdit | null, now?: number): Promise<ChangeResult>;
  pause(channelKey: string, now?: number): Promise<boolean>;
  resume(channelKey: string, now?: number): Promise<{ nextSeq: number | null } | undefined>;
  hold(channelKey: string, holdMs: number, now?: number, reason?: HoldCause): Promise<number | null>;
  typing(channelKey: string, userId: string, now?: number): Promise<number | null>;
  clear(channelKey: string, now?: number): Promise<number>;
  setOverride(channelKey: string, override: SettingsOverride, now?: number): Promise<{ deadline: number | null; settings: ChannelSettings }>;
  deleteOverride(channelKey: string, now?: number): Promise<{ deadline: number | null; settings: ChannelSettings } | null>;
  /** Redis server time in epoch ms (`TIME`): every deadline is on this clock. */
  redisNow(): Promise<number>;
  /** Generation: bumped when this process finds Redis's run_id changed (restart, failover). */
  generation(): number;
  /** Records that the BullMQ job of the in-flight batch exists. False when it is no longer in flight. */
  markEnqueued(channelKey: string, batchId: string): Promise<boolean>;
  /** A worker's delivery: checks that the batch is in flight and not cancelled, and issues a new token. */
  claim(channelKey: string, batchId: string): Promise<ClaimResult>;
  /** True while `fence` is the channel's current delivery of `batchId`. */
  isCurrent(channelKey: string, batchId: string, fence: Fence): Promise<boolean>;
  /** Appends the reply to `stream` (XADD) only while the fence is current; false (dropped) otherwise. */
  publishReply(channelKey: string, batchId: string, fence: Fence, reply: OutboundMessage, stream: string): Promise<boolean>;
  /** BatchStore.steer guarded by the fence: a worker that lost its batch takes nothing. */
  steerFenced(channelKey: string, batchId: string, fence: Fence): Promise<QueuedMessage[]>;
  /** BatchStore.finish guarded by the fence: a zombie worker's ACK answers `current: false`. */
  ack(channelKey: string, batchId: string, fence: Fence, outcome: FinishOutcome): Promise<FinishResult>;
  /**
   * The batch failed its last attempt. `dead-letter`: finish it as failed and keep a copy in the dead-letter
   * list. `block`: put it back at the front of its queue and pause the channel until an operator acts.
   */
  failFinally(channelKey: string, batchId: string, fence: Fence, policy: 'block' | 'dead-letter', error: string): Promise<FinishResult>;
  /** Dead letters, newest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /** In-flight batches that went in flight before `olderThan` (Redis ms), for the reconciler. */
  /** `from` (inclusive, Redis ms) lets a caller walk past the first `limit` in later calls. */
  inFlightBefore(olderThan: number, limit: number, from?: number): Promise<UnenqueuedBatch[]>;
  /** Batches in flight across the cluster (one per busy channel). */
  inFlightCount(): Promise<number>;
  /** Channels with a queued batch, nothing in flight and not paused: someone must take them. */
  readyChannels(limit: number): Promise<string[]>;
  /** The in-flight batch id of a channel, or null. */
  inFlightId(channelKey: string): Promise<string | null>;
}
