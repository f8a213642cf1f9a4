import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ChangeOutcome, EditAuthor, HoldReason, HoldResult } from '../src/core/engine.js';
import type { RefusalCode } from '../src/errors.js';
import type { QueueEvent } from '../src/core/events.js';
import type { OutboundMessage, QueuedMessage } from '../src/core/model.js';

/** What the gateway answers when an adapter hands it a message. */
export type AcceptResult =
  | {
      accepted: true;
      channelKey: string;
      id: string;
      /** Epoch ms when the open batch will flush if nothing else arrives (absent when it flushed at once). */
      deadline?: number;
      /** Messages now in the open batch (0 when it flushed at once). */
      pending: number;
      /** The channel's `typing` setting: whether to show typing/receipts while the batch is open or in flight. */
      typing: boolean;
    }
  | {
      accepted: false;
      /** Why, as an error code (`BG_ERR_QUEUE_FULL`, `BG_ERR_DUPLICATE`…); see `RefusalCode` in src/errors.ts. */
      reason: RefusalCode;
      id?: string;
      detail?: string;
    };

/** A message as an adapter hands it over; the gateway stamps `queuedAt` when absent. */
export type InboundMessage = Omit<QueuedMessage, 'queuedAt' | 'extra'> & Partial<Pick<QueuedMessage, 'queuedAt' | 'extra'>>;

export interface AdapterContext {
  /** Hands a normalized message to the queue. Never throws for bad input: resolves `accepted: false`. */
  accept(msg: InboundMessage): Promise<AcceptResult>;
  /**
   * Keeps the open batch of `channelId` (this adapter's platform) open for at least `holdMs` more, capped by
   * its maxWaitMs: for items the platform says are still coming (a Telegram album). Never opens a batch and
   * never rejects (a failure answers `held: false`). Optional so that hand-built contexts may leave it out.
   */
  hold?(channelId: string, holdMs: number, reason: HoldReason): Promise<HoldResult>;
  /**
   * A message of `channelId` (this adapter's platform) was edited (`text`) or deleted (`null`) on the
   * platform. Never rejects: a failure answers `unknown`. Optional so that hand-built contexts may leave it out.
   */
  change?(channelId: string, messageId: string, text: string | null, author?: EditAuthor): Promise<ChangeOutcome>;
  /**
   * Says that `userId` is typing in `channelId` (this adapter's platform): an open batch with that user
   * among its authors stays open for the channel's `typingHoldMs` more, capped by its maxWaitMs. Typing
   * never opens a batch. Never rejects (a failure answers `held: false`). Optional so that hand-built
   * contexts may leave it out.
   */
  typing?(channelId: string, userId: string): Promise<HoldResult>;
  logger: Logger;
  /** Aborts when the gateway begins shutting down. */
  signal: AbortSignal;
}

/**
 * What an adapter that can edit its own messages offers for streamed replies: the reply appears as one
 * message (`post`) that then grows (`edit`). The gateway calls these one at a time per message, never
 * more often than `minEditIntervalMs`, and always sends the last snapshot. Discord (`PATCH` of the
 * message), Slack (`chat.update`), Telegram (`editMessageText` of `sendMessage`'s `message_id`) and the
 * web chat implement it.
 */
export interface MessageEditor {
  /** Longest text one message holds; a longer stream shows its start, then the rest follows as new messages. */
  readonly maxLength: number;
  /** Least time between the end of one call and the next edit of the same message. @defaultValue 1000 */
  readonly minEditIntervalMs?: number;
  /** Posts the first snapshot; resolves the platform's id of the new message. */
  post(reply: OutboundMessage): Promise<string>;
  /** Replaces the text of a message `post` made. */
  edit(messageId: string, reply: OutboundMessage): Promise<void>;
}

/**
 * One chat platform. Adapters ignore their own and other bots' messages, edits and deletions by default,
 * and dedupe platform retries by message id.
 */
/** What the gateway hands `send` besides the reply. */
export interface SendOptions {
  /** Aborts once the reply's batch is cancelled (cancel, stop, interrupt). */
  signal?: AbortSignal;
}

export interface PlatformAdapter {
  readonly platform: string;
  /** Registers HTTP routes on the gateway's one fastify server; called before it listens. */
  routes?(app: FastifyInstance): void | Promise<void>;
  /** Connects to the platform; resolves when ready to receive. Rejects with an AdapterError on failure. */
  start(ctx: AdapterContext): Promise<void>;
  /**
   * Delivers one reply; rejects when the platform refused it for good. `options.signal` aborts once the
   * reply's batch is cancelled: an adapter that waits (retry backoff) stops there and rejects, so a
   * cancelled batch never replies.
   */
  send(reply: OutboundMessage, options?: SendOptions): Promise<void>;
  /** Shows a typing indicator in a channel. */
  typing?(channelId: string): Promise<void>;
  /** Present when the platform can edit messages: streamed replies grow in one message. */
  readonly editor?: MessageEditor;
  /** Batch lifecycle events of this adapter's platform (receipts, typing, "collecting" state). */
  onQueueEvent?(event: QueueEvent): void;
  /** True once connected; /readyz reports it. */
  ready?(): boolean;
  /** Disconnects; idempotent. */
  close(): Promise<void>;
}
