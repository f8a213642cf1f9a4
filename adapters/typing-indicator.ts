import type { Logger } from 'pino';
import { QueueEventType, type QueueEvent } from '../src/core/events.js';
import { parseChannelKey } from '../src/core/model.js';

/**
 * How long past an open batch's deadline it still counts as collecting: the flush event is on its way, and
 * forgetting the channel in between would miss it.
 */
const DEADLINE_GRACE_MS = 10_000;

/** With no accept or queue event for this long, typing stops anyway, so a lost event cannot leave it on forever. */
export const TYPING_MAX_IDLE_MS = 300_000;

/** How the indicator reaches the platform, and its timing. */
export interface TypingIndicatorOptions {
  /** Sends one typing request (Discord `POST /channels/{id}/typing`, Telegram `sendChatAction`). */
  send(channelId: string): Promise<void>;
  logger: Logger;
  /** Platform name for the log line of a failing request. */
  platform: string;
  /** Refresh interval: a little under how long the platform shows one request's indicator. */
  intervalMs: number;
  /** @defaultValue {@link TYPING_MAX_IDLE_MS} */
  maxIdleMs?: number;
}

interface TypingState {
  /** Epoch ms until which the open batch is expected to collect (its deadline plus grace), 0 when none is open. */
  openUntil: number;
  lastActivityAt: number;
  lastSentAt: number;
  inFlight: boolean;
  warned: boolean;
  timer: NodeJS.Timeout | null;
}

/** What the queue's events say about one channel: sealed batches waiting or running, and pause. */
interface LiveChannel {
  queued: Set<string>;
  running: Set<string>;
  paused: boolean;
}

/**
 * Keeps a platform's typing indicator on in a channel while a batch is collecting there or waiting/running,
 * and off otherwise. Driven by accept results (which carry the channel's `typing` setting) and the queue's
 * batch events; one request per refresh interval at most, none while the previous one is still in flight.
 * Events are tracked for every channel, not only typing ones, because a batch that flushes at once can
 * report `batch.flushed`/`batch.started` before the accept that created it resolves.
 */
export class TypingIndicator {
  readonly #send: (channelId: string) => Promise<void>;
  readonly #log: Logger;
  readonly #platform: string;
  readonly #intervalMs: number;
  readonly #maxIdleMs: number;
  readonly #typing = new Map<string, TypingState>();
  readonly #live = new Map<string, LiveChannel>();
  #closed = false;

  constructor(options: TypingIndicatorOptions) {
    this.#send = options.send;
    this.#log = options.logger;
    this.#platform = options.platform;
    this.#intervalMs = options.intervalMs;
    this.#maxIdleMs = options.maxIdleMs ?? TYPING_MAX_IDLE_MS;
  }

  /** A message was accepted into `channelId`'s open batch (or flushed at once when `pending` is 0). */
  accepted(channelId: string, result: { typing: boolean; pending: number; deadline?: number }): void {
    if (this.#closed) return;
    let state = this.#typing.get(channelId);
    if (!result.typing) {
      if (state) this.#forget(channelId, state);
      return;
    }
    if (!state) {
      state = { openUntil: 0, lastActivityAt: 0, lastSentAt: 0, inFlight: false, warned: false, timer: null };
      this.#typing.set(channelId, state);
    }
    if (result.pending > 0) state.openUntil = result.deadline === undefined ? Date.now() + this.#maxIdleMs : result.deadline + DEADLINE_GRACE_MS;
    state.lastActivityAt = Date.now();
    this.#evaluate(channelId, state);
  }

  /** A queue event of this adapter's platform. */
  onQueueEvent(event: QueueEvent): void {
    if (this.#closed) return;
    const { channelId } = parseChannelKey(event.channelKey);
    const live = this.#live.get(channelId) ?? { queued: new Set<string>(), running: new Set<string>(), paused: false };
    const state = this.#typing.get(channelId);
    switch (event.type) {
      case QueueEventType.Flushed:
        if (state) state.openUntil = 0;
        if (!live.running.has(event.batchId)) live.queued.add(event.batchId);
        break;
      case QueueEventType.Started:
        live.queued.delete(event.batchId);
        live.running.add(event.batchId);
        break;
      case QueueEventType.Completed:
      case QueueEventType.Cancelled:
      case QueueEventType.Failed:
      case QueueEventType.Interrupted:
        live.queued.delete(event.batchId);
        live.running.delete(event.batchId);
        break;
      case QueueEventType.Dropped:
        if (event.batchId) live.queued.delete(event.batchId);
        break;
      case QueueEventType.Cleared:
        // Clear discards the open batch and everything waiting, never the one in flight.
        if (state) state.openUntil = 0;
        live.queued.clear();
        break;
      case QueueEventType.Paused:
        live.paused = true;
        break;
      case QueueEventType.Resumed:
        live.paused = false;
        break;
      default:
        return;
    }
    if (live.queued.size > 0 || live.running.size > 0 || live.paused) this.#live.set(channelId, live);
    else this.#live.delete(channelId);
    if (state) {
      state.lastActivityAt = Date.now();
      this.#evaluate(channelId, state);
    }
  }

  /** The bot just posted in `channelId`; Discord and Telegram end the indicator on a post, so the next refresh counts from now. */
  replied(channelId: string): void {
    const state = this.#typing.get(channelId);
    if (!state) return;
    state.lastSentAt = Date.now();
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    this.#evaluate(channelId, state);
  }

  /** True while typing is being kept on in `channelId`. */
  active(channelId: string): boolean {
    const state = this.#typing.get(channelId);
    return state !== undefined && this.#isActive(channelId, state);
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#typing.values()) if (state.timer) clearTimeout(state.timer);
    this.#typing.clear();
    this.#live.clear();
  }

  #isActive(channelId: string, state: TypingState): boolean {
    const now = Date.now();
    if (now - state.lastActivityAt > this.#maxIdleMs) return false;
    const live = this.#live.get(channelId);
    if (live?.paused) return false;
    return state.openUntil > now || (live !== undefined && live.queued.size + live.running.size > 0);
  }

  #forget(channelId: string, state: TypingState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    this.#typing.delete(channelId);
  }

  #evaluate(channelId: string, state: TypingState): void {
    if (!this.#isActive(channelId, state)) {
      // Forget idle channels so memory follows the active ones; the next accept brings the setting back.
      if (!this.#live.has(channelId)) this.#forget(channelId, state);
      else if (state.timer) {
        clearTimeout(state.timer);
        state.timer = null;
      }
      return;
    }
    if (state.timer) return;
    const delay = Math.max(0, state.lastSentAt + this.#intervalMs - Date.now());
    state.timer = setTimeout(() => this.#tick(channelId, state), delay);
    state.timer.unref();
  }

  #tick(channelId: string, state: TypingState): void {
    state.timer = null;
    if (this.#closed || this.#typing.get(channelId) !== state) return;
    if (this.#isActive(channelId, state) && !state.inFlight) {
      state.inFlight = true;
      state.lastSentAt = Date.now();
      this.#send(channelId)
        .catch((err: unknown) => {
          if (!state.warned) this.#log.warn({ err, channelId, platform: this.#platform }, 'typing indicator failed; replies are unaffected');
          state.warned = true;
        })
        .finally(() => {
          state.inFlight = false;
        });
    }
    this.#evaluate(channelId, state);
  }
}
