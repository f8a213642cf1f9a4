import type { Logger } from 'pino';
import { LifecycleError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { Consumer, type ConsumerCallback, type ConsumerOptions, type ConsumerStats } from './consumer.js';
import { matchesFilters, type ConsumerFilters, type FilterQuery } from './filters.js';
import { keepsProducersRunning, PRIORITY_ORDER, Priority } from './priority.js';
import { Producer } from './producer.js';
import { validateQueueOptions } from './queue-options.js';
import { SendBatch } from './send-batch.js';

/** Channel settings; the queue settings are defaults every consumer may override. */
export interface ChannelOptions<T> {
  /** @defaultValue the class name without its `Channel` suffix (`RepliesChannel` → `Replies`) */
  name?: string;
  /** Groups channels in a registry (`setAtId` / `getAtId`), e.g. one id per gateway or exchange. */
  chanId?: string;
  /** No consumer loops: each `send` performs the queued items itself, HIGH before MEDIUM before OPTIONAL. @defaultValue false */
  synchronized?: boolean;
  /** Default consumer queue bound. @defaultValue 1000 */
  queueSize?: number;
  /** How long `send` waits for room in a full queue before dropping the item for that consumer. @defaultValue 1000 */
  writeTimeoutMs?: number;
  /**
   * Derives the filter query from an item when `send` gets none, so routing lives with the channel:
   * `queryOf: (reply) => ({ platform: reply.platform })`. Without it, a query-less send reaches every consumer.
   */
  queryOf?: (data: T) => FilterQuery;
  /** @defaultValue `silentLogger()` */
  logger?: Logger;
}

/** How a consumer joins a channel. */
export interface RegisterOptions {
  /** Matched against each send's query. @defaultValue `{}` (matches only queries that ask for no key, or `*`) */
  filters?: ConsumerFilters;
  /** Aborting unsubscribes the consumer. An already aborted signal registers nothing. */
  signal?: AbortSignal;
}

/** Options of {@link Channel.newConsumer}. */
export type NewConsumerOptions = ConsumerOptions & RegisterOptions;

export interface ChannelStopOptions {
  /** Aborting stops waiting for consumers to drain: what is left is discarded (counted as dropped). */
  signal?: AbortSignal;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** The count a send resolves to once its waiting queues answered: `base` took it at once. */
function countWhenSettled(pending: Promise<boolean>[], base: number): Promise<number> {
  // One full queue is the usual case: skip Promise.all and its arrays.
  if (pending.length === 1) return pending[0]!.then((queued) => (queued ? base + 1 : base));
  return Promise.all(pending).then((results) => {
    let n = base;
    for (const r of results) if (r) n++;
    return n;
  });
}

/** `RepliesChannel` → `Replies`, as OctoBot's `get_name()`. */
export function defaultChannelName(className: string): string {
  const stripped = className.endsWith('Channel') ? className.slice(0, -'Channel'.length) : className;
  return stripped === '' ? className || 'channel' : stripped;
}

/**
 * A typed hub between producers and consumers (OctoBot `async_channel.Channel`). The payload type `T`
 * flows to every producer (`send(data: T)`) and consumer (`callback(data: T)`); `in out` makes it
 * invariant so a `Channel<Reply>` is never usable as a channel of a wider or narrower type.
 *
 * Lifecycle: consumers run as soon as they register; `start()` runs producers' own work; `stop()` stops
 * producers first (no new items), then consumers (each drains its queue). Both are idempotent.
 */
export class Channel<in out T> {
  readonly chanId: string | undefined;
  readonly synchronized: boolean;
  readonly queueSize: number;
  readonly writeTimeoutMs: number;
  readonly logger: Logger;
  private readonly channelName: string;
  private readonly queryOf: ((data: T) => FilterQuery) | undefined;
  /** Replaced, never mutated, so a send iterating it is unaffected by (un)subscribes from callbacks. */
  private consumerList: readonly Consumer<T>[] = [];
  private drainOrder: readonly Consumer<T>[] = [];
  /** The batch the next query-less send may join (see {@link SendBatch}). */
  private openBatch: SendBatch<T> | undefined;
  private producerList: readonly Producer<T>[] = [];
  private internal: Producer<T> | undefined;
  private paused = true;
  private consumerSeq = 0;
  private draining = false;
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private closing = false;

  constructor(options: ChannelOptions<T> = {}) {
    validateQueueOptions(options, 'channel');
    this.channelName = options.name ?? defaultChannelName(new.target.name);
    this.chanId = options.chanId;
    this.synchronized = options.synchronized ?? false;
    this.queueSize = options.queueSize ?? 1_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 1_000;
    this.queryOf = options.queryOf;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'bus', channel: this.name });
  }

  /** The registry key. Override the getter (or pass `name`) to change it. */
  get name(): string {
    return this.channelName;
  }

  /** Starts true; false while at least one HIGH or MEDIUM consumer is registered. */
  get isPaused(): boolean {
    return this.paused;
  }

  get isStarted(): boolean {
    return this.startPromise !== undefined && !this.closing;
  }

  get isStopped(): boolean {
    return this.closing;
  }

  /** Registered consumers, in registration order. */
  get consumers(): readonly Consumer<T>[] {
    return this.consumerList;
  }

  /** Registered producers (not the internal one). */
  get producers(): readonly Producer<T>[] {
    return this.producerList;
  }

  /** A producer owned by the channel, created on first use, for code that publishes without one of its own. */
  get internalProducer(): Producer<T> {
    if (this.internal === undefined) {
      const producer = this.createProducer();
      this.internal = producer;
      if (this.closing) void producer.stop();
      else this.applyPause(producer, this.paused);
    }
    return this.internal;
  }

  /** Builds the internal producer (OctoBot's `PRODUCER_CLASS`); override to use a subclass. */
  protected createProducer(): Producer<T> {
    return new Producer<T>(this);
  }

  /** Builds the consumer for {@link Channel.newConsumer} (OctoBot's `CONSUMER_CLASS`); override to use a subclass. */
  protected createConsumer(callback: ConsumerCallback<T>, options: ConsumerOptions): Consumer<T> {
    return new Consumer<T>(callback, options);
  }

  /** Creates a consumer calling `callback` for each matching item and registers it. `consumer.unsubscribe()` leaves. */
  newConsumer(callback: ConsumerCallback<T>, options: NewConsumerOptions = {}): Consumer<T> {
    const { filters, signal, ...consumerOptions } = options;
    return this.addConsumer(this.createConsumer(callback, consumerOptions), { filters, signal });
  }

  /** Registers a consumer built elsewhere (an `InternalConsumer` or `SupervisedConsumer`). Throws once the channel stopped. */
  addConsumer<C extends Consumer<T>>(consumer: C, options: RegisterOptions = {}): C {
    if (this.closing) throw new LifecycleError(`bus channel ${this.name} is stopped; cannot register a consumer`);
    const { filters = {}, signal } = options;
    if (signal?.aborted) {
      void consumer.stop({ drain: false });
      return consumer;
    }
    let detach: (() => void) | undefined;
    if (signal !== undefined) {
      const onAbort = (): void => void this.removeConsumer(consumer);
      signal.addEventListener('abort', onAbort, { once: true });
      detach = () => signal.removeEventListener('abort', onAbort);
    }
    try {
      consumer.attach(this, { ...filters }, ++this.consumerSeq, detach);
    } catch (err) {
      detach?.();
      throw err;
    }
    this.setConsumers([...this.consumerList, consumer]);
    return consumer;
  }

  /** Unregisters a consumer and stops it (queued items discarded unless `drain`). No-op for a stranger. */
  removeConsumer(consumer: Consumer<T>, options: { drain?: boolean } = {}): Promise<void> {
    const index = this.consumerList.indexOf(consumer);
    if (index < 0) return RESOLVED;
    this.setConsumers(this.consumerList.filter((c) => c !== consumer));
    return consumer.stop({ drain: options.drain ?? false });
  }

  /** Consumers whose filters match every key of `query` (all of them for `{}` or no query). */
  getConsumers(query?: FilterQuery): Consumer<T>[] {
    if (query === undefined) return [...this.consumerList];
    return this.consumerList.filter((c) => matchesFilters(c.filters, query));
  }

  /** Adds a producer; it is paused if the channel is, and started if the channel is. Returns it. */
  registerProducer<P extends Producer<T>>(producer: P): P {
    if (this.closing) throw new LifecycleError(`bus channel ${this.name} is stopped; cannot register a producer`);
    if (this.producerList.includes(producer)) return producer;
    this.producerList = [...this.producerList, producer];
    this.applyPause(producer, this.paused);
    if (this.startPromise !== undefined && !this.synchronized) this.callHook(producer.start(), 'producer start failed');
    return producer;
  }

  unregisterProducer(producer: Producer<T>): void {
    this.producerList = this.producerList.filter((p) => p !== producer);
  }

  /** Runs each registered producer's `start()` (not in synchronized mode). Idempotent; rejects after stop. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new LifecycleError(`bus channel ${this.name} is stopped; it cannot start again`));
    return (this.startPromise ??= this.runStart());
  }

  /**
   * Stops producers (registered, then internal) so nothing new arrives, then consumers in registration
   * order, each performing what it has queued. Keeps going past a failing step. Idempotent.
   */
  stop(options: ChannelStopOptions = {}): Promise<void> {
    return (this.stopPromise ??= this.runStop(options));
  }

  /** Passes `changes` to every producer's `modify` hook. */
  async modify(changes: Readonly<Record<string, unknown>>): Promise<void> {
    for (const producer of this.producerList) await producer.modify(changes);
  }

  /** Per-consumer counters, for metrics. */
  stats(): ConsumerStats[] {
    return this.consumerList.map((c) => c.stats());
  }

  /**
   * @internal The body of `Producer.send` / `Producer.write`: a plain number when every matching queue
   * took the item at once, else a promise. Throws a `LifecycleError` once the channel is stopping.
   */
  deliver(data: T, query?: FilterQuery): number | Promise<number> {
    if (this.closing) throw new LifecycleError(`bus channel ${this.name} is stopped`);
    const q = query ?? this.queryOf?.(data);
    if (q === undefined) {
      // Sends to every consumer in a row share one batch while it has room (see SendBatch).
      const list = this.consumerList;
      const batch = this.openBatch;
      if (batch !== undefined && batch.room > 0 && batch.targets === list) {
        batch.items.push(data);
        batch.room--;
        return list.length;
      }
      if (this.startBatch(data, list)) return list.length;
    }
    return this.offerEach(data, q);
  }

  /** Starts a batch for `targets` holding `data`; false when one of them cannot take one now. */
  private startBatch(data: T, targets: readonly Consumer<T>[]): boolean {
    if (this.synchronized || targets.length === 0) return false;
    let room = Infinity;
    for (let i = 0; i < targets.length; i++) room = Math.min(room, targets[i]!.batchRoom());
    if (room < 1) return false;
    const batch = new SendBatch(data, targets, room);
    for (let i = 0; i < targets.length; i++) targets[i]!.enqueueBatch(batch);
    this.openBatch = batch;
    return true;
  }

  /** Offers `data` to each consumer matching `q` on its own: the path that waits for room and drops. */
  private offerEach(data: T, q: FilterQuery | undefined): number | Promise<number> {
    const list = this.consumerList;
    let queued = 0;
    let pending: Promise<boolean>[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const consumer = list[i]!;
      if (q !== undefined && !matchesFilters(consumer.filters, q)) continue;
      const result = consumer.offer(data);
      if (result === true) queued++;
      else if (result !== false) (pending ??= []).push(result);
    }
    if (this.synchronized) return this.draining ? queued : this.drainSynchronized(Priority.OPTIONAL).then(() => queued);
    if (pending === undefined) return queued;
    return countWhenSettled(pending, queued);
  }

  /**
   * @internal Performs queued items of consumers at `minPriority` or above, most important first, until
   * none is left (a callback may send more). A send from inside a callback only queues: the running
   * drain picks it up, which keeps the order deterministic.
   */
  async drainSynchronized(minPriority: Priority): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      let again = true;
      while (again) {
        again = false;
        for (const consumer of this.drainOrder) {
          if (consumer.priority > minPriority || consumer.depth === 0) continue;
          await consumer.drainQueued();
          again = true;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private setConsumers(list: readonly Consumer<T>[]): void {
    this.consumerList = list;
    this.drainOrder = PRIORITY_ORDER.flatMap((p) => list.filter((c) => c.priority === p));
    this.checkProducersState();
  }

  /** Resumes producers when a HIGH/MEDIUM consumer is present, pauses them when none is. */
  private checkProducersState(): void {
    const wanted = !this.consumerList.some((c) => keepsProducersRunning(c.priority));
    if (wanted === this.paused) return;
    this.paused = wanted;
    this.logger.debug({ paused: wanted }, wanted ? 'bus channel paused' : 'bus channel resumed');
    for (const producer of this.producerList) this.applyPause(producer, wanted);
    if (this.internal !== undefined) this.applyPause(this.internal, wanted);
  }

  private applyPause(producer: Producer<T>, paused: boolean): void {
    this.callHook(producer.setPaused(paused), paused ? 'producer pause failed' : 'producer resume failed');
  }

  /** Hooks may be async; their failure is logged, never thrown into whoever (un)subscribed. */
  private callHook(result: void | Promise<void>, message: string): void {
    if (result instanceof Promise) result.catch((err: unknown) => this.logger.error({ err }, message));
  }

  private async runStart(): Promise<void> {
    if (this.synchronized) return;
    for (const producer of this.producerList) await producer.start();
  }

  private async runStop(options: ChannelStopOptions): Promise<void> {
    this.closing = true;
    const producers = this.internal === undefined ? this.producerList : [...this.producerList, this.internal];
    for (const producer of producers) {
      try {
        await producer.stop();
      } catch (err) {
        this.logger.error({ err }, 'bus producer stop failed');
      }
    }
    for (const consumer of this.consumerList) {
      try {
        await consumer.stop({ drain: true, signal: options.signal });
      } catch (err) {
        this.logger.error({ err }, 'bus consumer stop failed');
      }
    }
  }
}
