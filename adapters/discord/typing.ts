import type { Logger } from 'pino';
import { QueueEventType, type QueueEvent } from '../../src/core/events.js';
import { parseChannelKey } from '../../src/core/model.js';

/** Discord shows "typing…" for about 10 s per request; refreshing at 8 s keeps it on without gaps. */
export const TYPING_REFRESH_MS = 8_000;

/**
 * How long past an open batch's deadline it still counts as collecting: the flush event is on its way, and
 * forgetting the channel in between would miss it.
 */
const DEADLINE_GRACE_MS = 10_000;

/** With no accept or queue event for this long, typing stops anyway, so a lost event cannot leave it on forever. */
export const TYPING_MAX_IDLE_MS = 300_000;

export interface TypingIndicatorOptions {
  /** Posts one typing request (`POST /channels/{id}/typing`). */
  send(channelId: string): Promise<void>;
  logger: Logger;
  /** @defaultValue {@link TYPING_REFRESH_MS} */
  intervalMs?: number;
  /** @defaultValue {@link TYPING_MAX_IDLE_MS} */
  maxIdleMs?: number;
}

interface ChannelState {
  /** The channel's `typing` setting, as the last accept reported it. */
  enabled: boolean;
  /** Epoch ms until which the open batch is expected to collect (its deadline), 0 when none is open. */
  openUntil: number;
  /** Sealed batches of this channel not yet finished (waiting or in flight). */
  batches: Set<string>;
  paused: boolean;
  lastActivityAt: number;
  lastSentAt: number;
  inFlight: boolean;
  warned: boolean;
  timer: NodeJS.Timeout | null;
}

/**
 * Keeps Discord's typing indicator on in a channel while a batch is collecting there or waiting/running,
 * and off otherwise. Driven by accept results and the queue's batch events; one request per refresh
 * interval at most, none while the previous one is still in flight.
 */
export class TypingIndicator {
  readonly #send: (channelId: string) => Promise<void>;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #maxIdleMs: number;
  readonly #channels = new Map<string, ChannelState>();
  #closed = false;

  constructor(options: TypingIndicatorOptions) {
    this.#send = options.send;
    this.#log = options.logger;
    this.#intervalMs = options.intervalMs ?? TYPING_REFRESH_MS;
    this.#maxIdleMs = options.maxIdleMs ?? TYPING_MAX_IDLE_MS;
  }

  /** A message was accepted into `channelId`'s open batch (or flushed at once when `pending` is 0). */
  accepted(channelId: string, result: { typing: boolean; pending: number; deadline?: number }): void {
    if (this.#closed) return;
    const state = this.#state(channelId, result.typing);
    if (!state) return;
    state.enabled = result.typing;
    if (result.pending > 0) state.openUntil = result.deadline === undefined ? Date.now() + this.#maxIdleMs : result.deadline + DEADLINE_GRACE_MS;
    this.#touch(channelId, state);
  }

  /** A batch event of this adapter's platform. */
  onQueueEvent(event: QueueEvent): void {
    if (this.#closed) return;
    const { channelId } = parseChannelKey(event.channelKey);
    const state = this.#channels.get(channelId);
    if (!state) return;
    switch (event.type) {
      case QueueEventType.Flushed:
        state.openUntil = 0;
        state.batches.add(event.batchId);
        break;
      case QueueEventType.Started:
        state.batches.add(event.batchId);
        break;
      case QueueEventType.Completed:
      case QueueEventType.Cancelled:
      case QueueEventType.Failed:
      case QueueEventType.Interrupted:
        state.batches.delete(event.batchId);
        break;
      case QueueEventType.Dropped:
        if (event.batchId) state.batches.delete(event.batchId);
        break;
      case QueueEventType.Cleared:
        // Clear keeps the in-flight batch; its completion or cancellation still arrives and ends typing.
        state.openUntil = 0;
        break;
      case QueueEventType.Paused:
        state.paused = true;
        break;
      case QueueEventType.Resumed:
        state.paused = false;
        break;
      default:
        return;
    }
    this.#touch(channelId, state);
  }

  /** The bot just posted in `channelId`; Discord ends the indicator on a post, so the next refresh counts from now. */
  replied(channelId: string): void {
    const state = this.#channels.get(channelId);
    if (!state) return;
    state.lastSentAt = Date.now();
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
    }
    this.#evaluate(channelId, state);
  }

  /** True while typing is being kept on in `channelId`. */
  active(channelId: string): boolean {
    const state = this.#channels.get(channelId);
    return state !== undefined && this.#isActive(state);
  }

  close(): void {
    this.#closed = true;
    for (const state of this.#channels.values()) if (state.timer) clearTimeout(state.timer);
    this.#channels.clear();
  }

  #state(channelId: string, typing: boolean): ChannelState | null {
    const existing = this.#channels.get(channelId);
    if (existing || !typing) return existing ?? null;
    const state: ChannelState = {
      enabled: true,
      openUntil: 0,
      batches: new Set(),
      paused: false,
      lastActivityAt: Date.now(),
      lastSentAt: 0,
      inFlight: false,
      warned: false,
      timer: null,
    };
    this.#channels.set(channelId, state);
    return state;
  }

  #touch(channelId: string, state: ChannelState): void {
    state.lastActivityAt = Date.now();
    this.#evaluate(channelId, state);
  }

  #isActive(state: ChannelState): boolean {
    const now = Date.now();
    if (!state.enabled || state.paused || now - state.lastActivityAt > this.#maxIdleMs) return false;
    return state.batches.size > 0 || state.openUntil > now;
  }

  #evaluate(channelId: string, state: ChannelState): void {
    if (!this.#isActive(state)) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = null;
      // Forget idle channels so memory follows the active ones; the next accept brings the setting back.
      if (state.batches.size === 0 && !state.paused) this.#channels.delete(channelId);
      return;
    }
    if (state.timer) return;
    const delay = Math.max(0, state.lastSentAt + this.#intervalMs - Date.now());
    state.timer = setTimeout(() => this.#tick(channelId, state), delay);
    state.timer.unref();
  }

  #tick(channelId: string, state: ChannelState): void {
    state.timer = null;
    if (this.#closed || this.#channels.get(channelId) !== state) return;
    if (this.#isActive(state) && !state.inFlight) {
      state.inFlight = true;
      state.lastSentAt = Date.now();
      this.#send(channelId)
        .catch((err: unknown) => {
          if (!state.warned) this.#log.warn({ err, channelId }, 'discord typing indicator failed; replies are unaffected');
          state.warned = true;
        })
        .finally(() => {
          state.inFlight = false;
        });
    }
    this.#evaluate(channelId, state);
  }
}
