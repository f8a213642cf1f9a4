import type { Logger } from 'pino';
import { LifecycleError } from '../errors.js';
import type { Channel } from './channel.js';
import type { FilterQuery } from './filters.js';
import { Priority } from './priority.js';
import { SupervisedConsumer } from './supervised-consumer.js';

/** Settled promises for the usual counts, so a `send` that found room allocates nothing. */
const RESOLVED_COUNTS: readonly Promise<number>[] = Array.from({ length: 33 }, (_, i) => Promise.resolve(i));

function resolvedCount(n: number): Promise<number> {
  return RESOLVED_COUNTS[n] ?? Promise.resolve(n);
}

/**
 * Puts items into the queues of a channel's consumers. `send` is the delivery primitive; `push` is the
 * entry point callers use and subclasses override to transform or gate items before `send`.
 *
 * Pause is advisory, as in OctoBot: a paused producer is told that no HIGH/MEDIUM consumer listens,
 * so it may skip work of its own (`start`), but `send` still reaches OPTIONAL consumers.
 */
export class Producer<in out T> {
  readonly channel: Channel<T>;
  protected readonly log: Logger;
  private paused = true;
  private stopped = false;

  constructor(channel: Channel<T>) {
    this.channel = channel;
    this.log = channel.logger.child({ producer: new.target.name });
  }

  /** Mirrors the channel: true while no HIGH or MEDIUM consumer is registered. */
  get isPaused(): boolean {
    return this.paused;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Queues `data` for every consumer matching `query` (else the channel's `queryOf(data)`, else every
   * consumer) and resolves to how many queues took it. Resolves at once when every queue had room;
   * otherwise after each full queue took the item or dropped it at `writeTimeoutMs` (so never later
   * than that). In a synchronized channel it resolves after the consumers performed it, HIGH first.
   * Rejects with a `LifecycleError` once this producer or its channel stopped.
   */
  send(data: T, query?: FilterQuery): Promise<number> {
    let result: number | Promise<number>;
    try {
      result = this.write(data, query);
    } catch (err) {
      return Promise.reject(err);
    }
    return typeof result === 'number' ? resolvedCount(result) : result;
  }

  /**
   * `send` for hot loops, in the manner of `stream.write()`: returns the count synchronously when every
   * matching queue had room, and a promise only when one is full (or the channel is synchronized), so
   * `const r = producer.write(x); if (typeof r !== 'number') await r;` awaits only when it must.
   * Throws (rather than rejects) a `LifecycleError` once stopped.
   */
  write(data: T, query?: FilterQuery): number | Promise<number> {
    if (this.stopped) throw new LifecycleError(`bus producer on channel ${this.channel.name} is stopped`);
    return this.channel.deliver(data, query);
  }

  /** The normal entry point: override to transform or gate `data`; the default sends it unchanged. */
  push(data: T, query?: FilterQuery): Promise<number> {
    return this.send(data, query);
  }

  /** Hook for work of the producer's own (polling, timers), run by `channel.start()` unless synchronized. */
  start(): void | Promise<void> {}

  /** Hook: the channel lost its last HIGH/MEDIUM consumer. */
  pause(): void | Promise<void> {}

  /** Hook: a HIGH/MEDIUM consumer registered on a paused channel. */
  resume(): void | Promise<void> {}

  /** Hook for `channel.modify(changes)`: change what the producer does while it runs. */
  modify(_changes: Readonly<Record<string, unknown>>): void | Promise<void> {}

  /** Stops this producer; later sends reject. Idempotent. Overrides should call `super.stop()`. */
  stop(): void | Promise<void> {
    this.stopped = true;
  }

  /** Resolves when every SupervisedConsumer of the channel is idle (OctoBot's `wait_for_processing`). */
  async waitForProcessing(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const consumer of this.channel.consumers) if (consumer instanceof SupervisedConsumer) waits.push(consumer.idle);
    await Promise.all(waits);
  }

  /**
   * Performs what is queued for consumers at `minPriority` or more important, HIGH first, in the
   * caller's turn (synchronized channels; `send` already calls it with OPTIONAL).
   */
  synchronizedPerformConsumersQueue(minPriority: Priority = Priority.OPTIONAL): Promise<void> {
    return this.channel.drainSynchronized(minPriority);
  }

  /** true when no consumer at `minPriority` or more important has anything queued. */
  isConsumersQueueEmpty(minPriority: Priority = Priority.OPTIONAL): boolean {
    for (const consumer of this.channel.consumers) {
      if (consumer.priority <= minPriority && consumer.depth > 0) return false;
    }
    return true;
  }

  /** @internal The channel tells its producers when to pause or resume. */
  setPaused(paused: boolean): void | Promise<void> {
    if (this.paused === paused) return;
    this.paused = paused;
    return paused ? this.pause() : this.resume();
  }
}
