import { Consumer } from './consumer.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A consumer a producer can wait on: {@link SupervisedConsumer.performing} says whether `perform` is
 * running, and {@link SupervisedConsumer.idle} settles once the queue is empty and nothing is being
 * performed (OctoBot's `SupervisedConsumer` idle event; `Producer.waitForProcessing` awaits it).
 */
export class SupervisedConsumer<in out T> extends Consumer<T> {
  private idlePromise: Promise<void> | undefined;
  private resolveIdle: (() => void) | undefined;

  /** true while `perform` runs for an item. */
  get performing(): boolean {
    return this.isPerforming;
  }

  /** Settles when the consumer has nothing queued, waiting or performing; already settled when idle now. */
  get idle(): Promise<void> {
    if (this.isIdle) return RESOLVED;
    this.idlePromise ??= new Promise<void>((resolve) => {
      this.resolveIdle = resolve;
    });
    return this.idlePromise;
  }

  protected override consumeEnds(): void {
    const resolve = this.resolveIdle;
    if (resolve !== undefined && (this.isIdle || this.isStopped)) {
      this.resolveIdle = undefined;
      this.idlePromise = undefined;
      resolve();
    }
  }
}
