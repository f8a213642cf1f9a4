import type { Logger } from 'pino';
import { LifecycleError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { Channel } from './channel.js';
import { ConsumerQueue } from './consumer-queue.js';
import type { ConsumerFilters } from './filters.js';
import { Priority, priorityName } from './priority.js';
import { validateQueueOptions } from './queue-options.js';
import { RoomWaiters } from './room-waiters.js';
import { untilSettledOrAborted } from './until-settled.js';
import type { SendBatch } from './send-batch.js';

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

const SILENT = silentLogger();
const RESOLVED: Promise<void> = Promise.resolve();

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
  private readonly queue = new ConsumerQueue<T>();
  /** Sends waiting for room while the queue is full, admitted in order as items are taken. */
  private readonly waiters = new RoomWaiters<T>(() => {
    this.drop('queue full');
    this.updateAdmission();
  });
  private maxSize = Infinity;
  /**
   * What `offer` compares the queue size with on its fast path: `maxSize` while the consumer is open and
   * no send waits for room, else 0. One comparison stands for three checks (stopped, a send waiting,
   * queue full); the slow path tells them apart.
   */
  private admitBelow = Infinity;
  private synchronized = false;
  /** Attached to a non-synchronized channel and not yet stopped: the loop exists. */
  private looping = false;
  /** A run is scheduled, performing, or suspended on a callback's promise: an offer then only queues. */
  private running = false;
  private endLoop: (() => void) | undefined;
  /** Settles when the current run has emptied the queue (what `drainQueued` callers wait for). */
  private drained: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;
  private closed = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private busy = false;
  private idlePromise: Promise<void> | undefined;
  private resolveIdle: (() => void) | undefined;
  private delivered = 0;
  private dropped = 0;
  private errors = 0;
  private detach: (() => void) | undefined;

  /** Bound once, so scheduling a run, or resuming one after a callback's promise, allocates no closure. */
  private readonly pump = (): void => {
    this.work();
  };

  private readonly resumeAfterDone = (): void => {
    this.delivered++;
    this.itemEnded();
    this.work();
  };

  private readonly resumeAfterFailure = (err: unknown): void => {
    this.failed(err);
    this.itemEnded();
    this.work();
  };

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
    return this.queue.size === 0 && this.waiters.count === 0 && !this.busy;
  }

  /**
   * Settles once nothing is queued, waiting for room or performing (already settled when that holds
   * now), or once the consumer stops: what a caller awaits instead of polling {@link Consumer.stats}.
   */
  get idle(): Promise<void> {
    if (this.isIdle) return RESOLVED;
    return (this.idlePromise ??= new Promise<void>((resolve) => {
      this.resolveIdle = resolve;
    }));
  }

  stats(): ConsumerStats {
    return {
      name: this.consumerName,
      priority: priorityName(this.priority),
      delivered: this.delivered,
      dropped: this.dropped,
      errors: this.errors,
      depth: this.queue.size,
      waiting: this.waiters.count,
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
    this.waiters.timeoutMs = this.options.writeTimeoutMs ?? channel.writeTimeoutMs;
    this.synchronized = channel.synchronized;
    this.log = channel.logger.child({ consumer: this.consumerName });
    this.looping = !this.synchronized;
    this.updateAdmission();
  }

  /**
   * @internal Puts an item in the queue. `true`: queued at once (the hot path: no timer, no closure);
   * `false`: dropped; a promise: waiting for room, settles `true` when admitted in order or `false`
   * after `writeTimeoutMs`.
   */
  offer(item: T): boolean | Promise<boolean> {
    const queue = this.queue;
    if (queue.size < this.admitBelow) {
      queue.push(item);
      this.wake();
      return true;
    }
    if (this.closed) {
      this.drop('consumer stopped');
      return false;
    }
    // Full, or behind a waiting send: even a free slot is not ours, taking it would overtake that send.
    return this.waitForRoom(item);
  }

  /**
   * @internal How many items a new {@link SendBatch} may hold for this consumer: its free room, or 0
   * when it must go through {@link Consumer.offer} (stopped, a send waiting, full, or no loop to wake).
   */
  batchRoom(): number {
    return this.looping ? this.admitBelow - this.queue.size : 0;
  }

  /** @internal Queues a batch the channel created with room from {@link Consumer.batchRoom}. */
  enqueueBatch(batch: SendBatch<T>): void {
    this.queue.pushBatch(batch);
    this.wake();
  }

  private wake(): void {
    if (!this.running && this.looping) {
      this.running = true;
      // A microtask, not a direct call: callbacks never run inside the producer's `send`. A reaction on
      // a settled promise rather than queueMicrotask, which builds an AsyncResource per call.
      void RESOLVED.then(this.pump);
    }
  }

  /**
   * @internal Performs everything queued, in order, and settles once the queue is empty: what a
   * synchronized channel calls in the producer's turn. Joins the run already going, if any, rather than
   * start a second one, so items stay one at a time.
   */
  drainQueued(): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.work();
    }
    if (!this.running) return RESOLVED;
    return (this.drained ??= new Promise<void>((resolve) => {
      this.resolveDrained = resolve;
    }));
  }

  /**
   * The consumer loop: performs queued items one at a time, in queue order. A callback that returns no
   * promise is followed by the next item in the same turn, so a burst of items costs one microtask, not
   * one promise hop each; a callback's promise suspends the run until it settles. The run ends when the
   * queue is empty (the next `offer` schedules a new one) rather than parking on a promise per wake-up.
   */
  private work(): void {
    const queue = this.queue;
    while (queue.size > 0) {
      const item = queue.shift();
      // admitBelow is 0 whenever a send waits (or the consumer stopped): one load in the usual case.
      if (this.admitBelow === 0 && this.waiters.count > 0) this.admit();
      this.busy = true;
      let pending: void | PromiseLike<void>;
      try {
        pending = this.perform(item);
      } catch (err) {
        this.failed(err);
        this.itemEnded();
        continue;
      }
      // A callback typed `void` may still return a value (`(n) => list.push(n)`): a primitive does not
      // suspend the run; an object might be a thenable, so it is awaited like a promise.
      if (pending !== undefined && ((typeof pending === 'object' && pending !== null) || typeof pending === 'function')) {
        const settled = pending instanceof Promise ? pending : Promise.resolve(pending);
        settled.then(this.resumeAfterDone, this.resumeAfterFailure);
        return;
      }
      this.delivered++;
      this.itemEnded();
    }
    queue.caughtUp();
    this.running = false;
    const resolve = this.resolveDrained;
    if (resolve !== undefined) {
      this.resolveDrained = undefined;
      this.drained = undefined;
      resolve();
    }
    if (this.stopping) this.finishLoop();
  }

  private itemEnded(): void {
    this.busy = false;
    if (this.resolveIdle !== undefined) this.settleIdle();
    this.consumeEnds();
  }

  private settleIdle(): void {
    const resolve = this.resolveIdle;
    if (resolve !== undefined && (this.isIdle || this.closed)) {
      this.resolveIdle = undefined;
      this.idlePromise = undefined;
      resolve();
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
    if (this.synchronized || this.waiters.timeoutMs <= 0) {
      this.drop('queue full');
      return false;
    }
    const queued = this.waiters.add(item);
    this.admitBelow = 0;
    return queued;
  }

  /** Moves waiting sends into the freed slots, oldest first. */
  private admit(): void {
    const waiters = this.waiters;
    while (waiters.count > 0 && this.queue.size < this.maxSize) this.queue.push(waiters.admitOldest());
    if (waiters.count === 0) this.updateAdmission();
  }

  private updateAdmission(): void {
    this.admitBelow = this.closed || this.waiters.count > 0 ? 0 : this.maxSize;
  }

  private drop(reason: string): void {
    this.dropped++;
    this.log.warn(
      { dropped: this.dropped, depth: this.queue.size, queueSize: this.maxSize, writeTimeoutMs: this.waiters.timeoutMs, reason },
      'bus item dropped',
    );
  }

  private failed(err: unknown): void {
    this.errors++;
    this.log.error({ err, errors: this.errors }, 'bus consumer callback failed');
  }

  /** Drops everything queued or waiting; waiting sends resolve `false`. */
  private discard(): void {
    const lost = this.queue.clear() + this.waiters.releaseAll();
    this.updateAdmission();
    if (lost > 0) {
      this.dropped += lost;
      this.log.warn({ discarded: lost, dropped: this.dropped }, 'bus consumer stopped; queued items discarded');
    }
  }

  private async shutdown({ drain = true, signal }: ConsumerStopOptions): Promise<void> {
    this.closed = true;
    this.updateAdmission();
    // A stopped consumer takes nothing more, not even through a batch it shares.
    this.queue.closeTail();
    this.detach?.();
    this.detach = undefined;
    if (!drain || signal?.aborted) this.discard();
    this.stopping = true;
    if (this.looping && !this.running) this.finishLoop();
    if (this.looping) {
      const ended = new Promise<void>((resolve) => {
        this.endLoop = resolve;
      });
      if (signal === undefined) await ended;
      else await untilSettledOrAborted(ended, signal, () => this.discard());
    } else if (this.queue.size > 0) {
      await this.drainQueued();
    }
    // The lapsing write timer may still be armed though nobody waits any more.
    if (this.waiters.count === 0) this.waiters.stopTimer();
    this.settleIdle();
    this.consumeEnds();
  }
}
