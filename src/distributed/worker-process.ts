import type { TracerProvider } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createAdminAuth } from '../admin/auth.js';
import { WorkerMetrics } from '../admin/metrics.js';
import { registerMetricsRoute } from '../admin/routes/metrics-route.js';
import type { GatewayConfig } from '../config/schema.js';
import { runCloseSteps } from '../core/close-steps.js';
import type { QueueEvent } from '../core/events.js';
import { httpErrorHandler } from '../http/error-reply.js';
import { createProcessor } from '../processors/create.js';
import { SteerTokens } from '../processors/steer-tokens.js';
import { STEER_PATH, registerSteerRoute } from '../http/steer-route.js';
import type { Processor } from '../processors/processor.js';
import { loadTracing } from '../telemetry/hooks.js';
import type { BatchTracing } from '../telemetry/index.js';
import { connectCluster, type ClusterConnection } from './cluster.js';
import { connectRedis } from './connection.js';
import { KeyLayout } from './keys.js';
import { RedisConversationHistory } from './redis-history.js';
import { RedisTimeline } from './redis-timeline.js';
import { BullBatchConsumer } from './worker.js';

export interface WorkerProcessOptions {
  config: GatewayConfig;
  logger: Logger;
  baseDir?: string;
  /** Replaces the configured processor (tests, embedding). */
  processor?: Processor;
  /** Traces batches with this OpenTelemetry provider; without it, only when `telemetry.otlp.endpoint` is set. */
  tracerProvider?: TracerProvider;
}

/**
 * `batchgate worker`: runs the configured processor for batches from BullMQ, and answers `GET /healthz`,
 * `GET /readyz` (ready while Redis is reachable and the consumer runs) and `GET /metrics` (the series of
 * the batches this worker ran, behind the admin token like a gateway's) on `http.host:http.port`.
 */
export class WorkerProcess {
  private readonly config: GatewayConfig;
  private readonly logger: Logger;
  private readonly baseDir: string;
  /** Replaces the configured processor. */
  private readonly processor: Processor | undefined;
  private readonly tracerProvider: TracerProvider | undefined;
  private connection: ClusterConnection | undefined;
  private consumer: BullBatchConsumer | undefined;
  private http: FastifyInstance | undefined;
  /** BullMQ's connection (it blocks on BRPOPLPUSH-style reads): ours to close, BullMQ does not. */
  private bullConnection: Redis | undefined;
  private tracing: BatchTracing | null = null;
  private timeline: RedisTimeline | undefined;
  private closing: Promise<void> | undefined;
  /** Steer tokens of the HTTP processor's runs on this worker, served at `POST /v1/steer` here. */
  private readonly steerTokens = new SteerTokens();
  url = '';

  constructor(options: WorkerProcessOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.baseDir = options.baseDir ?? process.cwd();
    this.processor = options.processor;
    this.tracerProvider = options.tracerProvider;
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    this.tracing = await loadTracing(config.telemetry, this.tracerProvider, logger.child({ component: 'telemetry' }));
    const metrics = new WorkerMetrics(() => ({ running: this.consumer?.running ?? 0, maxConcurrentBatches: config.batching.maxConcurrentBatches }));
    // A worker's own store steps (the next batch taken after an ACK: its queue's under-warn; a final failure
    // pausing its channel) go to the gateways over the control channel, like its runs' events, so their
    // listeners and event streams see them. Not counted here: they are no run of this worker.
    let control: ClusterConnection['control'] | undefined;
    // Its runs' and its store steps' entries go to the channels' timelines from here (gateways skip relayed events).
    let timeline: RedisTimeline | undefined;
    const relay = (event: QueueEvent) => {
      timeline?.record(event);
      void control?.publish({ type: 'event', event });
    };
    // With tracing on, the batches this worker dispatches (its channel's next, after an ACK) carry the trace context a gateway left.
    this.connection = await connectCluster(config, logger, relay, this.tracing ? { tracing: {} } : {});
    control = this.connection.control;
    if (config.observability.timelineSize > 0) {
      timeline = this.timeline = new RedisTimeline(this.connection.commands, new KeyLayout(config.distributed.prefix, config.distributed.shards), config.observability.timelineSize, logger.child({ component: 'timeline' }));
    }
    // The LLM processor's turns live in Redis, so whichever worker runs a channel's next batch has them.
    const history = new RedisConversationHistory(this.connection.commands, config.distributed.prefix);
    let processor: Processor;
    try {
      // A worker serves its own runs' steer takes on its HTTP server (the one with /metrics).
      const steer = { tokens: this.steerTokens, url: () => `${this.url}${STEER_PATH}` };
      const configured = this.processor ?? (await createProcessor(config.processor, this.baseDir, { history, steer }));
      processor = this.tracing?.batches.wrap(configured) ?? configured;
    } catch (err) {
      await this.connection.close().catch(() => undefined);
      throw err;
    }
    const d = config.distributed;
    this.bullConnection = connectRedis(config.redis.url, 'blocking', logger);
    this.consumer = new BullBatchConsumer({
      store: this.connection.store,
      dispatcher: this.connection.dispatcher,
      control: this.connection.control,
      connection: this.bullConnection,
      prefix: d.prefix,
      shards: d.shards,
      concurrency: config.batching.maxConcurrentBatches,
      lockDurationMs: d.lockDurationMs,
      stalledIntervalMs: d.stalledIntervalMs,
      onBatchFailed: d.onBatchFailed,
      logger: logger.child({ component: 'worker' }),
      onEvent: (event) => {
        metrics.observe(event);
        timeline?.record(event);
      },
      ...(this.tracing ? { inTrace: this.tracing.batches.inTrace } : {}),
    });
    void this.consumer.run(processor);
    this.http = Fastify({ logger: false, forceCloseConnections: true });
    this.http.get('/healthz', async () => ({ status: 'ok', role: 'worker' }));
    this.http.get('/readyz', async (_req, reply) => {
      const redis = this.connection?.commands.status === 'ready';
      const consuming = this.consumer?.isRunning ?? false;
      const ready = redis && consuming && this.closing === undefined;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'degraded', redis, consuming, running: this.consumer?.running ?? 0 });
    });
    await registerSteerRoute(this.http, this.steerTokens, () => logger);
    await this.http.register(async (scope) => {
      // Refusals (401/403) answer with the gateway's one error body, as the admin API's do.
      scope.setErrorHandler(httpErrorHandler({ logger: () => logger, failure: 'worker metrics request failed' }));
      scope.addHook('onRequest', createAdminAuth({ token: config.admin.token }));
      registerMetricsRoute(scope, metrics);
    });
    await this.http.listen({ host: config.http.host, port: config.http.port });
    const addr = this.http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.http.port;
    this.url = `http://${config.http.host}:${port}`;
    logger.info({ url: this.url, concurrency: config.batching.maxConcurrentBatches, processor: config.processor.type }, 'worker started');
  }

  /** Stops taking batches, lets running ones finish (shutdownTimeoutMs), then disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await runCloseSteps(this.logger, [
        ['consumer', () => this.consumer?.shutdown(this.config.shutdownTimeoutMs)],
        ['http', () => this.http?.close()],
        ['timeline', () => this.timeline?.close()],
        ['redis', () => this.connection?.close()],
        ['bullmq connection', () => this.bullConnection?.disconnect()],
        ['telemetry', () => this.tracing?.close()],
      ]);
      this.logger.info('worker stopped');
    })();
    return this.closing;
  }
}
