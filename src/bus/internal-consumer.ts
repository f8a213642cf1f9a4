import { Consumer, type ConsumerOptions } from './consumer.js';

/**
 * A consumer whose callback is declared on the class (`internalCallback`) rather than passed in,
 * for when the handling is tied to the consumer's own state. Register it with `channel.addConsumer`.
 *
 * @example
 * class ReplyCounter extends InternalConsumer<OutboundMessage> {
 *   count = 0;
 *   protected internalCallback(): void { this.count++; }
 * }
 */
export abstract class InternalConsumer<in out T> extends Consumer<T> {
  constructor(options: ConsumerOptions = {}) {
    super(undefined, options);
  }

  /** Handles one item; awaited before the next. */
  protected abstract internalCallback(data: T): void | Promise<void>;

  override perform(data: T): void | Promise<void> {
    return this.internalCallback(data);
  }
}
