import type { DeadLetter } from './failed-batches.js';
import type { ChannelStats } from './batch-store.js';
import type { QueueEvent } from './events.js';
import type { EnqueueResult, DrainResult, QueueTotals } from './message-queue.js';
import type { MessageBatch } from './model.js';
import type { ChannelSettings, SettingsOverride } from './policy.js';

export interface SettingsView {
  effective: ChannelSettings;
  override: SettingsOverride | null;
}

/** Why an open batch is kept open past its window: the items of a platform's media group (album) still arriving, or a typing signal. */
export type HoldReason = 'mediaGroup' | 'typing';

/** What {@link BatchingEngine.hold} did: `held` when a batch was open; `deadline` (epoch ms, this process's clock) is when it now flushes. */
export type HoldResult = { held: true; deadline: number } | { held: false };

/**
 * What the gateway, the adapters and the admin API use of the batching engine. Two implementations:
 * {@link MessageQueue} (embedded: state in memory, processors in this process) and `DistributedQueue`
 * (state in Redis, batches to BullMQ workers), so callers never know which mode runs.
 */
export interface BatchingEngine {
  enqueue(input: unknown): Promise<EnqueueResult>;
  enqueueFront(item: MessageBatch | unknown): Promise<EnqueueResult>;
  /** Spool replay: sealed batches go to the back of their channels' queues. */
  restore(batches: MessageBatch[]): Promise<void>;
  cancelCurrent(channelKey: string): Promise<boolean>;
  stop(channelKey: string): Promise<{ paused: boolean; cancelled: boolean }>;
  resume(channelKey: string): Promise<{ paused: boolean }>;
  /** With a key, resumes that channel; without, resumes dispatching. */
  startProcessing(channelKey?: string): Promise<void>;
  pauseDispatch(): void;
  flush(channelKey: string): Promise<boolean>;
  /**
   * Keeps the channel's open batch open for at least `holdMs` more (capped by its `firstAt + maxWaitMs`).
   * Never opens a batch and never brings a deadline forward; messages arriving meanwhile join the batch.
   */
  hold(channelKey: string, holdMs: number, reason: HoldReason): Promise<HoldResult>;
  clear(channelKey: string): Promise<number>;
  getSettings(channelKey: string): Promise<SettingsView>;
  setSettings(channelKey: string, input: unknown): Promise<SettingsView>;
  deleteSettings(channelKey: string): Promise<SettingsView>;
  stats(channelKey: string): Promise<ChannelStats | null>;
  list(): Promise<ChannelStats[]>;
  totals(): QueueTotals;
  on(listener: (event: QueueEvent) => void): () => void;
  /**
   * Batches that failed, newest first: embedded mode keeps the latest in memory; distributed mode those that
   * failed every attempt under `onBatchFailed: dead-letter`.
   */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  /** Distributed mode: false while Redis is unreachable. */
  available?(): boolean;
  /** Shutdown: stop accepting, flush windows, wait up to `timeoutMs`; returns what still waits (embedded mode journals it). */
  drain(timeoutMs: number): Promise<DrainResult>;
  close(): Promise<void>;
}
