import path from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AcceptResult, InboundMessage, PlatformAdapter } from '../adapters/adapter.js';
import { Channel, ChannelRegistry, Priority } from './bus/index.js';
import type { GatewayConfig } from './config/schema.js';
import { runCloseSteps, type CloseStep } from './core/close-steps.js';
import type { Clock, Scheduler } from './core/clock.js';
import { ErrorCode, GatewayError, InvalidMessageError, LifecycleError, asGatewayError, EngineRefusalCode } from './errors.js';
import { QueueEventType, type QueueEvent } from './core/events.js';
import type { BatchingEngine, ChangeOutcome, EditAuthor, HoldReason, HoldResult } from './core/engine.js';
import { MessageQueue } from './core/message-queue.js';
import { MemoryTimeline, type TimelineStore } from './core/timeline.js';
import type { GatewayCluster } from './distributed/cluster.js';
import { authorKeyOf, parseChannelKey, type OutboundMessage } from './core/model.js';
import { SettingsPolicy } from './core/policy.js';
import { createAdapters } from './adapters.js';
import { ReplyRouter } from './reply-router.js';
import { createProcessor } from './processors/create.js';
import { SteerTokens } from './processors/steer-tokens.js';
import { STEER_PATH, registerSteerRoute } from './http/steer-route.js';
import { MemoryConversationHistory, type ConversationHistory } from './processors/conversation-history.js';
import { FAILED_MARK, STOPPED_MARK } from './stream-delivery.js';
import type { Processor } from './processors/processor.js';
import { EmbeddedState } from './state/embedded-state.js';
import { silentLogger } from './logger.js';
import { adminPlugin, type AdminOptions } from './admin/server.js';
import type { AdminHost, ReplyDroppedEvent } from './admin/host.js';
import { loadTracing } from './telemetry/hooks.js';
import type { BatchTracing } from './telemetry/index.js';

/** The bus channels of one gateway and their payloads. */
export interface GatewayChannels {
  replies: OutboundMessage;
  events: QueueEvent;
}

export interface GatewayOptions {
  config: GatewayConfig;
  logger?: Logger;
  /** Where relative paths (processor module, journal) resolve from. @defaultValue process.cwd() */
  baseDir?: string;
  /** Replaces the configured processor (tests, embedding). */
  processor?: Processor;
  /** Replaces the adapters built from config (tests, embedding). */
  adapters?: PlatformAdapter[];
  clock?: Clock;
  scheduler?: Scheduler;
  /** Registers more routes on the server before it listens, after the admin API (itself the first plugin). */
  plugins?: Array<(app: FastifyInstance, gateway: Gateway) => void | Promise<void>>;
  /** Tuning of the admin API plugin (event-stream heartbeat and buffer bounds). */
  admin?: AdminOptions;
  /**
   * Traces batches with this OpenTelemetry provider (an embedder's own SDK, registered with a context
   * manager). Without it, tracing is on only when `telemetry.otlp.endpoint` is set.
   */
  tracerProvider?: TracerProvider;
}

/** What shutdown did; the last log line reports it. */
export interface ShutdownReport {
  drained: number;
  /** Messages still waiting at exit, kept in the journal for the next start. */
  journaled: number;
  lost: number;
  replayed: number;
}

type State = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * The composition root: adapters → MessageQueue → processor → bus `replies` → adapters, with the bus
 * `events` channel feeding logs, adapters' lifecycle views, and (through plugins) metrics and the dashboard.
 */
export class Gateway implements AdminHost {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly bus = new ChannelRegistry<GatewayChannels>();
  readonly http: FastifyInstance;
  queue!: BatchingEngine;
  adapters: PlatformAdapter[] = [];
  private readonly options: GatewayOptions;
  private readonly shutdown = new AbortController();
  private readonly replyRouter: ReplyRouter;
  /** Embedded mode's journal and recovery; undefined in distributed mode. */
  private durable: EmbeddedState | undefined;
  private state: State = 'new';
  private closePromise: Promise<ShutdownReport> | undefined;
  private replayed = 0;
  /** Called with every message `accept` took into a channel (the admin metrics count them). */
  private readonly acceptedListeners = new Set<(msg: InboundMessage) => void>();
  /** Called with every reply the reply router dropped because its batch was cancelled (the admin metrics count them). */
  private readonly replyDroppedListeners = new Set<(event: ReplyDroppedEvent) => void>();
  private address = '';
  /** Set in distributed mode. */
  private cluster: GatewayCluster | undefined;
  /** The LLM processor's turns per channel; a channel's `clear` clears them. */
  private history: ConversationHistory | undefined;
  /** Steer tokens of the HTTP processor's runs here (embedded mode runs the processor in this process). */
  private readonly steerTokens = new SteerTokens();
  /** Set while tracing is on. */
  private tracing: BatchTracing | null = null;
  /** Each channel's decision timeline: in memory, or Redis streams in distributed mode; none with `observability.timelineSize: 0`. */
  timeline: TimelineStore = NO_TIMELINE;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.config = options.config;
    this.logger = options.logger ?? silentLogger();
    this.http = Fastify({
      loggerInstance: this.logger.child({ component: 'http' }) as FastifyBaseLogger,
      // Per-request logs would drown the batch logs; errors are still logged by the handlers.
      logController: new LogController({ disableRequestLogging: true }),
      // request.log is the server's logger: no pino child (with a request id) built per request on the hot path.
      childLoggerFactory: (logger) => logger,
      bodyLimit: this.config.http.bodyLimitBytes,
      forceCloseConnections: true,
      return503OnClosing: true,
    });
    const replies = this.bus.set(
      new Channel<OutboundMessage>({ name: 'replies', queryOf: (r) => ({ platform: r.platform }), queueSize: 10_000, writeTimeoutMs: 5_000, logger: this.logger }),
      'replies',
    );
    this.bus.set(
      new Channel<QueueEvent>({
        name: 'events',
        queryOf: (e) => ({ platform: parseChannelKey(e.channelKey).platform }),
        queueSize: 10_000,
        writeTimeoutMs: 50,
        logger: this.logger,
      }),
      'events',
    );
    this.replyRouter = new ReplyRouter(replies, this.logger.child({ component: 'replies' }), (reply, reason) => {
      const event = { type: QueueEventType.ReplyDropped, channelKey: `${reply.platform}:${reply.channelId}`, at: Date.now(), batchId: reply.batchId, reason };
      for (const listener of this.replyDroppedListeners) listener(event);
      this.bus.get('events').internalProducer.send(event).catch(() => undefined);
    });
  }

  /** Base URL of the HTTP server once started, e.g. `http://127.0.0.1:8787`. */
  get url(): string {
    return this.address;
  }

  get isShuttingDown(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  /** Aborts when shutdown begins. */
  get signal(): AbortSignal {
    return this.shutdown.signal;
  }

  /**
   * The channel's `clear`: discards its open and queued batches (not the one in flight) and what the LLM
   * processor remembers of its conversation. Returns the messages removed.
   */
  async clearChannel(channelKey: string): Promise<number> {
    const removed = await this.queue.clear(channelKey);
    await this.history?.clear(channelKey);
    return removed;
  }

  /** Reply delivery counters per platform. */
  replyStats() {
    return this.replyRouter.stats();
  }

  /** Builds everything, recovers the journal, listens, and connects the adapters. Fails fast with a coded error. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new LifecycleError(`gateway cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      await this.build();
      await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
      const addr = this.http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : this.config.http.port;
      const host = this.config.http.host.includes(':') ? `[${this.config.http.host}]` : this.config.http.host;
      this.address = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      for (const adapter of this.adapters) {
        await adapter.start({
          accept: (msg) => this.accept(msg),
          hold: (channelId, holdMs, reason) => this.hold(`${adapter.platform}:${channelId}`, holdMs, reason),
          change: (channelId, messageId, text, author) => this.change(`${adapter.platform}:${channelId}`, messageId, text, author),
          typing: (channelId, userId) => this.typingSignal(`${adapter.platform}:${channelId}`, userId),
          logger: this.logger.child({ component: 'adapter', platform: adapter.platform }),
          signal: this.shutdown.signal,
        });
      }
      this.cluster?.relay.start();
      // Recovered batches were queued during build (ahead of any new message); they run only now that
      // the adapters that deliver their replies are connected.
      await this.queue.startProcessing();
      this.state = 'running';
      this.logger.info({ url: this.address, mode: this.cluster ? 'distributed' : 'embedded', adapters: this.adapters.map((a) => a.platform), processor: this.config.processor.type, replayed: this.replayed }, 'gateway started');
    } catch (err) {
      this.state = 'closing';
      await this.journalAfterFailedStart();
      await this.teardown().catch(() => undefined);
      this.state = 'closed';
      throw err;
    }
  }

  private async build(): Promise<void> {
    const baseDir = this.options.baseDir ?? process.cwd();
    const events = this.bus.get('events');
    this.tracing = await loadTracing(this.config.telemetry, this.options.tracerProvider, this.logger.child({ component: 'telemetry' }));
    if (this.config.redis.url) await this.buildDistributed();
    else await this.buildEmbedded(baseDir);
    this.queue.pauseDispatch(); // resumed once the adapters are connected
    const tracing = this.tracing;
    if (tracing) this.queue.on((event) => tracing.batches.observe(event));
    if (this.config.observability.timelineSize > 0) {
      if (this.timeline === NO_TIMELINE) this.timeline = new MemoryTimeline(this.config.observability.timelineSize);
      const timeline = this.timeline;
      this.queue.on((event) => timeline.record(event));
    }

    this.queue.on((event) => {
      // Synchronously, before cancel answers: replies of the batch still queued or retrying are dropped.
      if ((event.type === QueueEventType.Cancelled && event.reason !== 'shutdown') || event.type === QueueEventType.Interrupted) this.replyRouter.cancelBatch(event.batchId);
      events.internalProducer.send(event).catch(() => undefined); // after stop, events have nowhere to go
      // A batch that ends without finishing its streamed replies: they keep what they showed, marked.
      if (event.type === 'batch.cancelled' || event.type === 'batch.interrupted') this.replyRouter.endStreams(event.batchId, STOPPED_MARK);
      else if (event.type === 'batch.failed') this.replyRouter.endStreams(event.batchId, FAILED_MARK);
    });
    this.logEvents(events);

    this.adapters = this.options.adapters ?? createAdapters(this.config);
    for (const adapter of this.adapters) {
      this.replyRouter.attach(adapter, this.shutdown.signal);
      if (adapter.onQueueEvent) {
        const onEvent = adapter.onQueueEvent.bind(adapter);
        events.newConsumer((e) => onEvent(e), { filters: { platform: adapter.platform }, priority: Priority.OPTIONAL, signal: this.shutdown.signal });
      }
    }

    this.registerHealth();
    if (!this.cluster) await registerSteerRoute(this.http, this.steerTokens, () => this.logger);
    for (const adapter of this.adapters) await adapter.routes?.(this.http);
    for (const plugin of [adminPlugin(this.options.admin), ...(this.options.plugins ?? [])]) await plugin(this.http, this);

    if (this.durable !== undefined) {
      // Recovered batches are queued ahead of any new message; they run once the adapters are connected.
      const recovery = await this.durable.recover(this.queue as MessageQueue);
      this.replayed = recovery.messages;
      if (recovery.messages > 0 || recovery.paused > 0) this.logger.info(recovery, 'recovered from the journal');
    }
  }

  /** Embedded mode: state in memory, the processor runs here. */
  private async buildEmbedded(baseDir: string): Promise<void> {
    this.history = new MemoryConversationHistory();
    const steer = { tokens: this.steerTokens, url: () => `${this.address}${STEER_PATH}` };
    const configured = this.options.processor ?? (await createProcessor(this.config.processor, baseDir, { history: this.history, steer }));
    const processor = this.tracing?.batches.wrap(configured) ?? configured;
    const { batching, state } = this.config;
    this.durable = new EmbeddedState({
      dir: path.resolve(baseDir, state.journal.path),
      fsync: state.journal.fsync,
      spoolPath: path.resolve(baseDir, state.spoolPath),
      logger: this.logger.child({ component: 'journal' }),
    });
    this.queue = new MessageQueue({
      journal: this.durable.journal,
      processor,
      // Resolves once the reply is on its way; later while its channel's delivery chain is full.
      onReply: (reply) => this.replyRouter.publish(reply),
      onTyping: (channelKey) => this.typingIn(channelKey),
      policy: new SettingsPolicy(batching.defaults, batching.channels),
      maxConcurrentBatches: batching.maxConcurrentBatches,
      queueWarnRatio: batching.queueWarnRatio,
      logger: this.logger.child({ component: 'queue' }),
      clock: this.options.clock,
      scheduler: this.options.scheduler,
    });
  }

  /** Distributed mode: state in Redis, batches to BullMQ workers, replies back through Redis streams. */
  private async buildDistributed(): Promise<void> {
    const { createGatewayCluster } = await import('./distributed/cluster.js');
    const replies = this.bus.get('replies');
    this.cluster = await createGatewayCluster(
      this.config,
      this.logger.child({ component: 'cluster' }),
      async (reply) => {
        await replies.internalProducer.send(reply);
      },
      () => this.replyRouter.flush(60_000),
      { tracing: this.tracing ? { carrierOf: this.tracing.batches.carrierFor } : undefined, onTyping: (channelKey) => this.typingIn(channelKey) },
    );
    this.queue = this.cluster.queue;
    // A cancel at any gateway reaches every other one only as a control message: whichever relays the
    // batch's replies drops those not yet delivered, and ends its streamed ones marked.
    const offCancel = this.cluster.connection.control.on((msg) => {
      if (msg.type !== 'cancel') return;
      this.replyRouter.cancelBatch(msg.batchId);
      this.replyRouter.endStreams(msg.batchId, STOPPED_MARK);
    });
    this.shutdown.signal.addEventListener('abort', offCancel, { once: true });
    const { RedisConversationHistory } = await import('./distributed/redis-history.js');
    this.history = new RedisConversationHistory(this.cluster.connection.commands, this.config.distributed.prefix);
    const size = this.config.observability.timelineSize;
    if (size > 0) {
      const [{ RedisTimeline }, { KeyLayout }] = await Promise.all([import('./distributed/redis-timeline.js'), import('./distributed/keys.js')]);
      const d = this.config.distributed;
      this.timeline = new RedisTimeline(this.cluster.connection.commands, new KeyLayout(d.prefix, d.shards), size, this.logger.child({ component: 'timeline' }));
    }
    await this.cluster.queue.start();
  }

  /** A processor's `ctx.typing()` (run here, or on a worker in distributed mode): the channel's adapter shows it. */
  private typingIn(channelKey: string): Promise<void> | undefined {
    const { platform, channelId } = parseChannelKey(channelKey);
    return this.adapters.find((a) => a.platform === platform)?.typing?.(channelId);
  }

  /** Start-up failed (an adapter, the port): keep what was recovered or accepted for the next start. */
  private async journalAfterFailedStart(): Promise<void> {
    if (this.queue === undefined || this.durable === undefined) return;
    try {
      const { waiting } = await this.queue.drain(0);
      const journaled = await this.durable.close(waiting, this.queue as MessageQueue);
      if (journaled > 0) this.logger.warn({ journaled }, 'start-up failed: the waiting messages stay in the journal for the next start');
    } catch (err) {
      this.logger.error({ err }, 'start-up failed and the waiting messages could not be journaled');
    }
  }

  /** Logs every event at debug, and the ones an operator must see at warn. */
  private logEvents(events: Channel<QueueEvent>): void {
    const log = this.logger.child({ component: 'events' });
    events.newConsumer(
      (e) => {
        if (e.type === 'message.dropped' || e.type === 'queue.over-warn') log.warn(e, e.type);
        else log.debug(e, e.type);
      },
      { filters: { platform: '*' }, priority: Priority.OPTIONAL, signal: this.shutdown.signal },
    );
  }

  private registerHealth(): void {
    this.http.get('/healthz', async () => ({ status: 'ok' }));
    this.http.get('/readyz', async (_req, reply) => {
      const adapters = Object.fromEntries(this.adapters.map((a) => [a.platform, a.ready ? a.ready() : this.state === 'running']));
      const redis = this.cluster ? { redis: this.cluster.queue.available() } : {};
      const ready = this.state === 'running' && Object.values(adapters).every(Boolean) && redis.redis !== false;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : this.state === 'running' ? 'degraded' : this.state, adapters, ...redis });
    });
  }

  /**
   * The adapters' way in. Never rejects: bad input and refusals come back as `accepted: false`. One `then`
   * per message rather than an async function awaiting the queue: this runs for every message of every adapter.
   */
  accept(msg: InboundMessage): Promise<AcceptResult> {
    if (this.isShuttingDown) return Promise.resolve({ accepted: false, reason: ErrorCode.ShuttingDown, id: msg?.id });
    let enqueued: ReturnType<BatchingEngine['enqueue']>;
    try {
      enqueued = this.queue.enqueue(msg);
    } catch (err) {
      return Promise.resolve(this.refusal(err, msg));
    }
    return enqueued.then(
      (result): AcceptResult => {
        if (!result.accepted) return { ...result, reason: EngineRefusalCode[result.reason] };
        for (const listener of this.acceptedListeners) listener(msg);
        return result;
      },
      (err: unknown) => this.refusal(err, msg),
    );
  }

  /** The adapters' edits and deletes (see AdapterContext.change): never rejects. */
  change(channelKey: string, messageId: string, text: string | null, author?: EditAuthor): Promise<ChangeOutcome> {
    const changed = text === null ? this.queue.remove(channelKey, messageId) : this.queue.edit(channelKey, messageId, text, author);
    return changed.catch((err: unknown) => {
      this.logger.warn({ err, channelKey }, 'applying a message edit or delete failed');
      return { applied: 'unknown' as const };
    });
  }

  /**
   * The key `userId`'s messages in `channelKey` batch under: the author key when the channel groups by
   * author (as intake keys what `accept` takes), so a typing signal reaches the typist's batch. Edits and
   * deletes do not come this way: the extra lookup would let a delete overtake an earlier edit.
   */
  private async batchKeyOf(channelKey: string, userId: string | undefined): Promise<string> {
    if (userId === undefined) return channelKey;
    const { effective } = await this.queue.getSettings(channelKey);
    return effective.groupBy === 'author' ? authorKeyOf(channelKey, userId) : channelKey;
  }

  /** The adapters' hold (see AdapterContext.hold): never rejects. */
  private hold(channelKey: string, holdMs: number, reason: HoldReason): Promise<HoldResult> {
    return this.queue.hold(channelKey, holdMs, reason).catch((err: unknown) => {
      this.logger.warn({ err, channelKey, reason }, 'holding the open batch failed; it flushes on its window');
      return { held: false } as const;
    });
  }

  /** The adapters' typing signal (see AdapterContext.typing): never rejects; the engine counts the signals. */
  private typingSignal(channelKey: string, userId: string): Promise<HoldResult> {
    if (this.isShuttingDown) return Promise.resolve({ held: false });
    return this.batchKeyOf(channelKey, userId).then((key) => this.queue.typing(key, userId)).catch((err: unknown) => {
      this.logger.warn({ err, channelKey }, 'a typing signal could not hold the open batch; it flushes on its window');
      return { held: false } as const;
    });
  }

  /**
   * Calls `listener` with every message `accept` takes into a channel, synchronously, before the adapter
   * hears back. Returns what removes it. A listener must not throw.
   */
  onAccepted(listener: (msg: InboundMessage) => void): () => void {
    this.acceptedListeners.add(listener);
    return () => this.acceptedListeners.delete(listener);
  }

  /** Calls `listener` with every reply dropped on its way to an adapter because its batch was cancelled. Returns what removes it. */
  onReplyDropped(listener: (event: ReplyDroppedEvent) => void): () => void {
    this.replyDroppedListeners.add(listener);
    return () => this.replyDroppedListeners.delete(listener);
  }

  /** What `accept` answers when the queue threw: bad input, or a failure it logs. */
  private refusal(err: unknown, msg: InboundMessage): AcceptResult {
    if (err instanceof InvalidMessageError) return { accepted: false, reason: ErrorCode.InvalidMessage, id: msg?.id, detail: err.message };
    const coded = asGatewayError(err);
    this.logger.error({ err: coded, platform: msg?.platform }, 'accept failed');
    // The journal cannot write: the sender is not at fault and may retry.
    if (coded.code === ErrorCode.Unavailable) return { accepted: false, reason: ErrorCode.Unavailable, id: msg?.id, detail: coded.message };
    return { accepted: false, reason: ErrorCode.InvalidMessage, id: msg?.id, detail: coded.message };
  }

  /**
   * Shutdown: stop accepting, flush open windows, give running batches `shutdownTimeoutMs`,
   * deliver the replies they produced, journal what is left, then disconnect. Idempotent.
   */
  close(): Promise<ShutdownReport> {
    this.closePromise ??= this.runClose();
    return this.closePromise;
  }

  private async runClose(): Promise<ShutdownReport> {
    if (this.state === 'new' || this.state === 'closed') {
      this.state = 'closed';
      return { drained: 0, journaled: 0, lost: 0, replayed: 0 };
    }
    this.state = 'closing';
    const report: ShutdownReport = { drained: 0, journaled: 0, lost: 0, replayed: this.replayed };
    let waitingMessages = 0;
    try {
      const { drained, waiting } = await this.queue.drain(this.config.shutdownTimeoutMs);
      report.drained = drained;
      waitingMessages = waiting.reduce((n, b) => n + b.size, 0);
      await this.replyRouter.flush(5_000);
      if (this.durable !== undefined) report.journaled = await this.durable.close(waiting, this.queue as MessageQueue);
    } catch (err) {
      this.logger.error({ err }, 'draining failed');
      report.lost = Math.max(0, waitingMessages - report.journaled);
    }
    await this.teardown();
    this.state = 'closed';
    this.logger.info(report, `shutdown complete: ${report.drained} drained, ${report.journaled} journaled, ${report.lost} lost`);
    return report;
  }

  /** Disconnects everything, carrying on past a step that fails. */
  private async teardown(): Promise<void> {
    this.shutdown.abort(new GatewayError('BG_ERR_SHUTTING_DOWN', 'gateway shutting down'));
    await runCloseSteps(this.logger, [
      ['queue', async () => this.queue?.close()],
      ['timeline', async () => this.timeline.close?.()],
      ['redis', async () => this.cluster?.close()],
      ['bus', () => this.bus.stop()],
      ...this.adapters.map((a): CloseStep => [`adapter ${a.platform}`, () => a.close()]),
      ['http', () => this.http.close()],
      ['telemetry', async () => this.tracing?.close()],
    ]);
  }
}

/** The timeline of a gateway configured to keep none. */
const NO_TIMELINE: TimelineStore = { record: () => undefined, read: async () => [] };

/** Builds a gateway; call `start()` to run it. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
