import type { Logger } from 'pino';
import { LifecycleError } from '../core/errors.js';
import { silentLogger } from '../logger.js';
import type { Channel } from './channel.js';
import { Fifo } from './fifo.js';
import type { ConsumerFilters } from './filters.js';
import { Priority, priorityName } from './priority.js';
import { validateQueueOptions } from './queue-options.js';

/** What a consumer does with each item. Async callbacks are awaited: one item at a time, in order. */
export type ConsumerCallback<T> = (data: T) => void | Promise<void>;

/** Per-consumer settings; the queue settings default to the channel's. */
export interface ConsumerOptions {
  /** For logs and stats. @defaultValue `${channel.name}#${n}` */
  name?: string;
  /** @defaultValue `Priority.HIGH` (as OctoBot's `DEFAULT_PRIORITY_LEVEL`) */
  priority?: Priority;
  /** Items the queue holds before `send` has to wait. `Infinity` for unbounded. @defaultValue the channel's `queueSize` */
  queueSize?: number;
  /** How long `send` waits for room in a full queue before dropping. @defaultValue the channel's `writeTimeoutMs` */
  writeTimeoutMs?: number;
}

/** Counters for metrics. `delivered + errors` items reached the callback; `dropped` never did. */
export interface ConsumerStats {
  name: string;
  priority: keyof typeof Priority;
  /** Callbacks that completed. */
  delivered: number;
  /** Items lost: write timeout on a full queue, or discarded by unsubscribe / an aborted stop. */
  dropped: number;
  /** Callbacks that threw or rejected. */
  errors: number;
  /** Items waiting in the queue (not counting the one being performed). */
  depth: number;
  /** Sends waiting for room in the full queue. */
  waiting: number;
}

export interface ConsumerStopOptions {
  /** Perform what is already queued before stopping (`false`: discard it, counted as dropped). @defaultValue true */
  drain?: boolean;
  /** Aborting gives up on draining: the rest is discarded and a hung callback is no longer awaited. */
  signal?: AbortSignal;
}

interface Waiter<T> {
  item: T;
  resolve: (queued: boolean) => void;
  /** performance.now() after which the item is dropped. */
  deadline: number;
}

const SILENT = silentLogger();

/**
 * Reads its own bounded queue in a loop and calls {@link Consumer.perform} (by default the callback)
 * for each item, one at a time, so every consumer sees items in send order. A callback that throws is
 * logged and counted; the loop, the producer and the other consumers carry on.
 *
 * In a synchronized channel no loop runs: the producer drains the queue in its own turn.
 */
export class Consumer<in out T> {
  readonly priority: Priority;
  protected log: Logger = SILENT;
  private readonly callback: ConsumerCallback<T> | undefined;
  private readonly options: ConsumerOptions;
  private channelRef: Channel<T> | undefined;
  private consumerName: string;
  private filterSet: ConsumerFilters = {};
  private readonly queue = new Fifo<T>();
  /**
   * Sends waiting for room, oldest first. Every waiter of a consumer has the same timeout, so deadlines
   * rise along the list: both admission and expiry take from the head, and one timer (for the head)
   * serves them all.
   */
  private readonly overflow = new Fifo<Waiter<T>>(4);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private maxSize = Infinity;
  private writeTimeoutMs = 0;
  private synchronized = false;
  private waitingCount = 0;
  /** Attached to a non-synchronized channel and not yet stopped: the loop exists. */
  private looping = false;
  /** A pump is scheduled or an item is in flight; an offer then only queues. */
  private pumping = false;
  private endLoop: (() => void) | undefined;
  private closed = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private busy = false;
  private delivered = 0;
  private dropped = 0;
  private errors = 0;
  private detach: (() => void) | undefined;

  /** Bound once, so scheduling a run allocates no closure. */
  private readonly pump = (): void => {
    void this.run();
  };

  /**
   * The consumer loop. It runs only while there is work and ends when the queue is empty (the next
   * `offer` schedules a new run) rather than parking on a promise per wake-up, which measured as the
   * main per-item cost of an always-on loop. One item at a time, awaited, in queue order.
   */
  private async run(): Promise<void> {
    // An offer that lands while the drain returns sees `pumping` still set and schedules nothing, so check
    // again: the emptiness check and clearing `pumping` must happen in the same turn.
    do await this.drainQueued();
    while (this.queue.size > 0);
    this.pumping = false;
    if (this.stopping) this.finishLoop();
  }

  constructor(callback?: ConsumerCallback<T>, options: ConsumerOptions = {}) {
    validateQueueOptions(options, 'consumer');
    this.callback = callback;
    this.options = options;
    this.priority = options.priority ?? Priority.HIGH;
    this.consumerName = options.name ?? '';
  }

  get name(): string {
    return this.consumerName;
  }

  /** The filters this consumer registered with. */
  get filters(): ConsumerFilters {
    return this.filterSet;
  }

  /** The channel this consumer is registered on, if any. */
  get channel(): Channel<T> | undefined {
    return this.channelRef;
  }

  /** true while {@link Consumer.perform} runs for an item. */
  get isPerforming(): boolean {
    return this.busy;
  }

  /** true while the background loop exists (never in a synchronized channel). */
  get isLooping(): boolean {
    return this.looping;
  }

  /** true once stop (or unsubscribe) began. */
  get isStopped(): boolean {
    return this.closed;
  }

  /** Items waiting in the queue (not counting the one being performed). */
  get depth(): number {
    return this.queue.size;
  }

  /** Nothing queued, nothing waiting for room, nothing performing. */
  get isIdle(): boolean {
    return this.queue.size === 0 && this.waitingCount === 0 && !this.busy;
  }

  stats(): ConsumerStats {
    return {
      name: this.consumerName,
      priority: priorityName(this.priority),
      delivered: this.delivered,
      dropped: this.dropped,
      errors: this.errors,
      depth: this.queue.size,
      waiting: this.waitingCount,
    };
  }

  /** Handles one item. Override to consume differently; the default calls the registered callback. */
  perform(data: T): void | Promise<void> {
    if (this.callback === undefined) {
      throw new LifecycleError(`bus consumer ${this.consumerName} has no callback: pass one or override perform()`);
    }
    return this.callback(data);
  }

  /** Called after each item (performed, failed) and at stop; OctoBot's `consume_ends`. */
  protected consumeEnds(): void {}

  /** Leaves the channel: queued items are discarded (counted as dropped), the current callback is awaited. */
  unsubscribe(): Promise<void> {
    const channel = this.channelRef;
    return channel ? channel.removeConsumer(this) : this.stop({ drain: false });
  }

  /** Stops taking items; by default performs what is queued first. Idempotent: later calls get the first call's promise. */
  stop(options: ConsumerStopOptions = {}): Promise<void> {
    return (this.stopPromise ??= this.shutdown(options));
  }

  /** @internal Called by {@link Channel.addConsumer}. */
  attach(channel: Channel<T>, filters: ConsumerFilters, index: number, detach: (() => void) | undefined): void {
    if (this.channelRef !== undefined) throw new LifecycleError(`bus consumer ${this.consumerName} is already registered on channel ${this.channelRef.name}`);
    if (this.closed) throw new LifecycleError(`bus consumer ${this.consumerName} was stopped and cannot be registered again`);
    this.channelRef = channel;
    this.filterSet = filters;
    this.detach = detach;
    if (this.consumerName === '') this.consumerName = `${channel.name}#${index}`;
    this.maxSize = this.options.queueSize ?? channel.queueSize;
    this.writeTimeoutMs = this.options.writeTimeoutMs ?? channel.writeTimeoutMs;
    this.synchronized = channel.synchronized;
    this.log = channel.logger.child({ consumer: this.consumerName });
    this.looping = !this.synchronized;
  }

  /**
   * @internal Puts an item in the queue. `true`: queued at once (the hot path: no timer, no closure);
   * `false`: dropped; a promise: waiting for room, settles `true` when admitted in order or `false`
   * after `writeTimeoutMs`.
   */
  offer(item: T): boolean | Promise<boolean> {
    if (this.closed) {
      this.drop('consumer stopped');
      return false;
    }
    // Behind a waiting send, even a free slot is not ours: taking it would overtake that send.
    if (this.waitingCount === 0 && this.queue.size < this.maxSize) {
      this.queue.push(item);
      if (!this.pumping && this.looping) {
        this.pumping = true;
        // A microtask, not a direct call: callbacks never run inside the producer's `send`.
        queueMicrotask(this.pump);
      }
      return true;
    }
    return this.waitForRoom(item);
  }

  /**
   * @internal Performs everything queued, one item at a time, in order: the loop's body, and what a
   * synchronized channel calls in the producer's turn (where nothing ever waits for room).
   */
  async drainQueued(): Promise<void> {
    const queue = this.queue;
    while (queue.size > 0) {
      const item = queue.shift() as T;
      if (this.waitingCount > 0) this.admit();
      this.busy = true;
      try {
        const pending = this.perform(item);
        if (pending !== undefined) await pending;
        this.delivered++;
      } catch (err) {
        this.failed(err);
      }
      this.busy = false;
      this.consumeEnds();
    }
  }

  private finishLoop(): void {
    this.looping = false;
    const end = this.endLoop;
    this.endLoop = undefined;
    end?.();
  }

  private waitForRoom(item: T): boolean | Promise<boolean> {
    // A synchronized channel has no loop to make room, and a timer would break its determinism.
    if (this.synchronized || this.writeTimeoutMs <= 0) {
      this.drop('queue full');
      return false;
    }
    return new Promise<boolean>((resolve) => {
      this.overflow.push({ item, resolve, deadline: performance.now() + this.writeTimeoutMs });
      this.waitingCount++;
      if (this.timer === undefined) this.armTimer(this.writeTimeoutMs);
    });
  }

  private armTimer(ms: number): void {
    // Only bounds a wait: must not keep the process alive on its own.
    this.timer = setTimeout(this.expireDue, Math.max(1, Math.ceil(ms))).unref();
  }

  /** Drops the waiters whose deadline passed, oldest first, and re-arms for the next one. */
  private readonly expireDue = (): void => {
    this.timer = undefined;
    // Timers may fire a fraction of a millisecond early against performance.now().
    const now = performance.now() + 1;
    for (let waiter = this.overflow.peek(); waiter !== undefined; waiter = this.overflow.peek()) {
      if (waiter.deadline > now) {
        this.armTimer(waiter.deadline - now + 1);
        return;
      }
      this.overflow.shift();
      this.waitingCount--;
      this.drop('queue full');
      waiter.resolve(false);
    }
  };

  /** Moves waiting sends into the freed slots, oldest first. */
  private admit(): void {
    while (this.waitingCount > 0 && this.queue.size < this.maxSize) {
      const waiter = this.overflow.shift() as Waiter<T>;
      this.waitingCount--;
      this.queue.push(waiter.item);
      waiter.resolve(true);
    }
    if (this.waitingCount === 0) this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private drop(reason: string): void {
    this.dropped++;
    this.log.warn(
      { dropped: this.dropped, depth: this.queue.size, queueSize: this.maxSize, writeTimeoutMs: this.writeTimeoutMs, reason },
      'bus item dropped',
    );
  }

  private failed(err: unknown): void {
    this.errors++;
    this.log.error({ err, errors: this.errors }, 'bus consumer callback failed');
  }

  /** Drops everything queued or waiting; waiting sends resolve `false`. */
  private discard(): void {
    let lost = this.queue.clear().length;
    for (let waiter = this.overflow.shift(); waiter !== undefined; waiter = this.overflow.shift()) {
      lost++;
      waiter.resolve(false);
    }
    this.waitingCount = 0;
    this.clearTimer();
    if (lost > 0) {
      this.dropped += lost;
      this.log.warn({ discarded: lost, dropped: this.dropped }, 'bus consumer stopped; queued items discarded');
    }
  }

  private async shutdown({ drain = true, signal }: ConsumerStopOptions): Promise<void> {
    this.closed = true;
    this.detach?.();
    this.detach = undefined;
    if (!drain || signal?.aborted) this.discard();
    this.stopping = true;
    if (this.looping && !this.pumping) this.finishLoop();
    if (this.looping) {
      const ended = new Promise<void>((resolve) => {
        this.endLoop = resolve;
      });
      if (signal === undefined) await ended;
      else await untilSettledOrAborted(ended, signal, () => this.discard());
    } else if (this.queue.size > 0) {
      await this.drainQueued();
    }
    this.consumeEnds();
  }
}

/** Waits for `promise`, unless `signal` aborts first (then calls `onAbort` and returns at once). */
function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal, onAbort: () => void): Promise<void> {
  if (signal.aborted) {
    onAbort();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const abort = (): void => {
      onAbort();
      resolve();
    };
    signal.addEventListener('abort', abort, { once: true });
    void promise.finally(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
  });
}
