import type { Logger } from 'pino';
import type { ChannelStats } from './batch-store.js';
import type { ChangeApplied, QueueEvent } from './events.js';
import type { MessageBatch } from './model.js';
import type { ChannelSettings, SettingsOverride } from './policy.js';

/** A batch whose processor failed (threw, rejected or timed out), kept so an operator can see what was lost. */
export interface DeadLetter {
  channelKey: string;
  batch: ReturnType<MessageBatch['toJSON']>;
  error: string;
  failedAt: number;
}

/** What `enqueue` answers; adapters pass it on to the sender. */
export type EnqueueResult =
  | { accepted: true; channelKey: string; id: string; deadline?: number; pending: number; typing: boolean }
  | { accepted: false; reason: 'queue full' | 'shutting down' | 'duplicate' | 'unavailable'; channelKey: string; id: string };

/** Totals since start, for /api/v1/stats and metrics. */
export interface QueueTotals {
  repliesDropped: number;
  running: number;
  waitingForSlot: number;
  maxConcurrentBatches: number;
  /** Typing signals this process's engine was given, and those that held an open batch. */
  typing?: { signals: number; held: number };
}

/** What `drain` hands back at shutdown. */
export interface DrainResult {
  /** Messages whose batches finished while draining. */
  drained: number;
  /** Batches that could not run in time (and paused channels' queues), for the spool. */
  waiting: MessageBatch[];
}

export interface SettingsView {
  effective: ChannelSettings;
  override: SettingsOverride | null;
}

/** What an edit or delete of a message did: where the message was (see {@link BatchingEngine.edit}). */
export interface ChangeOutcome {
  applied: ChangeApplied;
}

/** Who wrote an edited message, as the platform reports it: used when a follow-up batch needs an author the gateway no longer holds. */
export interface EditAuthor {
  userId: string;
  userName: string;
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
  /**
   * A typing signal: when `userId` is an author of the channel's open batch, its deadline moves to at
   * least now + `typingHoldMs` (capped by its `firstAt + maxWaitMs`) and `batch.held` (reason `typing`)
   * reports it. Never opens a batch; anyone else's typing, or `typingHoldMs: 0`, does nothing (`held: false`).
   */
  typing(channelKey: string, userId: string): Promise<HoldResult>;
  clear(channelKey: string): Promise<number>;
  /**
   * A message changed on its platform. Waiting (open or queued batch): edited in place, order kept,
   * `editedAt` set (`pending`). In the batch running (`in-flight`): `interrupt` mode cancels the run
   * (reason `edit`) and re-runs it with the new text; `queue` mode runs the edited message as the next
   * batch, marked `edited: true`. Already answered (`done`): ignored unless `editAfterReply: followUp`,
   * which runs it as a new batch marked `edited: true`. Else `unknown`.
   */
  edit(channelKey: string, messageId: string, text: string, author?: EditAuthor): Promise<ChangeOutcome>;
  /**
   * A message was deleted on its platform: removed from its waiting batch (a batch left empty goes); in
   * `interrupt` mode a running batch holding it is cancelled (reason `edit`) and re-runs without it.
   */
  remove(channelKey: string, messageId: string): Promise<ChangeOutcome>;
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

/** A listener of the engine's event stream. */
export type QueueListener = (event: QueueEvent) => void;

/**
 * The engine's event stream, for both engines: `on` subscribes (and returns the unsubscribe), `emit` calls
 * every listener in order; a listener that throws is logged and never reaches the code that emitted.
 */
export class QueueEventHub {
  private readonly listeners = new Set<QueueListener>();

  constructor(private readonly logger?: Logger) {}

  /** True while anyone listens: events that cost an object to build are skipped otherwise. */
  get listening(): boolean {
    return this.listeners.size > 0;
  }

  on(listener: QueueListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: QueueEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger?.error({ err, event: event.type }, 'queue event listener threw');
      }
    }
  }
}
