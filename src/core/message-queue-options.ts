import type { Logger } from 'pino';
import type { Processor } from '../processors/processor.js';
import type { Clock, Scheduler } from './clock.js';
import type { Journal } from './journal.js';
import type { MessageBatch, OutboundMessage } from './model.js';
import type { SettingsPolicy } from './policy.js';

/** How a {@link MessageQueue} (src/core/message-queue.ts) is built. */
export interface MessageQueueOptions {
  /** The bot. Gets each batch with an AbortSignal and a reply function. */
  processor: Processor;
  /** Where replies go (the gateway publishes them on the bus). Awaited before `ctx.reply` resolves. */
  onReply: (reply: OutboundMessage, batch: MessageBatch) => void | Promise<void>;
  /** Asked by `ctx.typing()`. */
  onTyping?: (channelKey: string) => void | Promise<void>;
  policy?: SettingsPolicy;
  clock?: Clock;
  scheduler?: Scheduler;
  /** Gateway-wide cap on batches running at once. @defaultValue 32 */
  maxConcurrentBatches?: number;
  /** @defaultValue 0.75 */
  queueWarnRatio?: number;
  logger?: Logger;
  /** Windows sealed per timer turn before yielding to the event loop. @defaultValue 5000 */
  sealChunk?: number;
  /** Messages of failed batches kept for `MessageQueue.deadLetters` (oldest forgotten first). @defaultValue 1000 */
  keepFailedMessages?: number;
  /**
   * Embedded mode's crash journal: told every durable store step; an acceptance is answered only once
   * the journal says the message is durable. @defaultValue none (nothing survives a crash)
   */
  journal?: Journal;
}
