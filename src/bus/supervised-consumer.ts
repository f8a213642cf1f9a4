import { Consumer } from './consumer.js';

/**
 * A consumer a producer waits on: {@link Consumer.idle} settles once the queue is empty and nothing is
 * being performed (OctoBot's `SupervisedConsumer` idle event), and `Producer.waitForProcessing` awaits
 * it for every supervised consumer of the channel. {@link SupervisedConsumer.performing} says whether
 * `perform` is running.
 */
export class SupervisedConsumer<in out T> extends Consumer<T> {
  /** true while `perform` runs for an item. */
  get performing(): boolean {
    return this.isPerforming;
  }
}
