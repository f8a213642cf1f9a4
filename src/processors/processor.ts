import type { Logger } from 'pino';
import type { MessageBatch, QueuedMessage } from '../core/model.js';
import type { ChannelSettings } from '../core/policy.js';

/**
 * What a processor may send back for a batch: a text, or a stream of text deltas (an async iterable of
 * strings, e.g. an async generator) that platforms able to edit show growing in one message.
 */
export type ReplyInput =
  | string
  | {
      text: string;
      threadId?: string;
      replyTo?: string;
      /** Platform data for the reply (JSON-serializable); the webhook adapter sends it to `replyUrl` as `extra`. */
      extra?: Record<string, unknown>;
    }
  | AsyncIterable<string>;

/** Tokens one model call used, for `batchgate_llm_tokens_total`. */
export interface TokenUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
}

export interface ProcessContext {
  /** Aborts when the batch is cancelled, interrupted, times out, or the gateway shuts down. */
  signal: AbortSignal;
  /**
   * Publishes a reply; after the signal aborted it is dropped (and counted) and resolves false. A stream
   * resolves once it ended (true) or the run aborted (false: what was shown stays, marked as stopped).
   */
  reply(reply: ReplyInput): Promise<boolean>;
  /** Reports the tokens a model call used (counted in the metrics); optional for hand-made contexts. */
  usage?(usage: TokenUsage): void;
  /** Asks the adapter to show a typing indicator. */
  typing(): Promise<void>;
  logger: Logger;
  /** The channel's effective settings. */
  channel: { key: string; platform: string; channelId: string; settings: ChannelSettings };
  /** 1 for the first run of this batch's messages; higher after an interrupt re-run. */
  attempt: number;
  /**
   * Steer mode (`mode: steer`): takes the messages of the channel's batches that sealed while this run
   * goes on, oldest first, and returns them; each call returns only what arrived since the last one. The
   * messages taken belong to this run from then on (they never run as a batch of their own); whatever is
   * not taken when the run ends runs as the next batch. Empty in other modes and once the run ended.
   * Optional for hand-made contexts.
   */
  steered?(): Promise<QueuedMessage[]>;
  /**
   * Steer mode: calls `listener` each time a batch seals while this run goes on (take the messages with
   * {@link steered}). Returns the unsubscribe; listeners are dropped when the run ends. Optional for
   * hand-made contexts.
   */
  onSteer?(listener: () => void): () => void;
}

/** The bot: gets each batch and replies through `ctx.reply`. Throwing fails this batch only. */
export type Processor = (batch: MessageBatch, ctx: ProcessContext) => Promise<void>;
