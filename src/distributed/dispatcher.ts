import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DistributedBatchStore } from './store-steps.js';

/** The BullMQ queue every gateway adds to and every worker takes from. */
export const BATCH_QUEUE = 'batches';

/** BullMQ's own key prefix: one hash tag, so BullMQ's keys stay in one Cluster slot. */
export function bullPrefix(prefix: string): string {
  return `{${prefix}-bull}`;
}

/** What a job carries: only the address of the batch; the batch itself stays in the store. */
export interface BatchJobData {
  channelKey: string;
  batchId: string;
  /** W3C trace context of the batch's trace (`traceparent`, `tracestate`), when the gateway traces it. */
  trace?: Record<string, string>;
}

/** BullMQ job ids may not contain `:` nor be all digits; this keeps them stable per batch and unique. */
export function jobIdOf(batchId: string): string {
  return `b-${Buffer.from(batchId).toString('base64url')}`;
}

export interface DispatcherOptions {
  store: DistributedBatchStore;
  connection: ConnectionOptions;
  prefix: string;
  attempts: number;
  backoffMs: number;
  logger: Logger;
  /** Set while tracing is on: each job carries its batch's trace context. */
  tracing?: DispatchTracing | undefined;
}

/** Where a batch's W3C trace context comes from, tracing on. */
export interface DispatchTracing {
  /** Commands connection: contexts of batches dispatched by another process wait here. */
  redis: Redis;
  /** The context of a batch this process traces (the gateway that sealed it), or undefined. */
  carrierOf?: (batchId: string) => Record<string, string> | undefined;
}

/** How long a remembered trace context waits for its batch's dispatch. */
const TRACE_TTL_MS = 3_600_000;

/**
 * Hands batches to workers: TAKE (the store's in-flight gate: one batch per channel) → BullMQ add with the
 * batch's job id → MARK. A crash between two steps leaves a batch in flight without a job, which the
 * reconciler finds and re-adds; a repeated add of the same job id is ignored by BullMQ.
 */
export class BatchDispatcher {
  readonly queue: Queue<BatchJobData>;
  private readonly store: DistributedBatchStore;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly logger: Logger;
  private readonly tracing: DispatchTracing | undefined;
  private readonly tracePrefix: string;

  constructor(options: DispatcherOptions) {
    this.store = options.store;
    this.tracing = options.tracing;
    this.tracePrefix = `${options.prefix}:trace:`;
    this.attempts = options.attempts;
    this.backoffMs = options.backoffMs;
    this.logger = options.logger;
    this.queue = new Queue<BatchJobData>(BATCH_QUEUE, { connection: options.connection, prefix: bullPrefix(options.prefix) });
    this.queue.on('error', (err) => this.logger.warn({ err: err.message }, 'batch queue error'));
  }

  /** Takes the channel's next batch if it may run now and hands it to BullMQ. True when one was sent. */
  async kick(channelKey: string): Promise<boolean> {
    const taken = await this.store.take(channelKey);
    if (taken === null) return false;
    await this.send(channelKey, taken.batch.id);
    return true;
  }

  /** Adds the job of an in-flight batch (idempotent per batch) and records that it exists. */
  async send(channelKey: string, batchId: string): Promise<void> {
    const trace = this.tracing === undefined ? undefined : await this.traceOf(batchId);
    await this.queue.add(
      'batch',
      trace === undefined ? { channelKey, batchId } : { channelKey, batchId, trace },
      {
        jobId: jobIdOf(batchId),
        attempts: this.attempts,
        backoff: { type: 'exponential', delay: this.backoffMs },
        removeOnComplete: true,
        removeOnFail: 1_000,
      },
    );
    await this.store.markEnqueued(channelKey, batchId);
  }

  /**
   * Keeps the trace context of a batch sealed behind another one in Redis: the ACK that frees its channel
   * dispatches it, in whichever worker ran the batch before. Best effort (a lost context starts a new trace).
   */
  rememberTrace(batchId: string): void {
    const carrier = this.tracing?.carrierOf?.(batchId);
    if (carrier === undefined) return;
    this.tracing!.redis.set(this.tracePrefix + batchId, JSON.stringify(carrier), 'PX', TRACE_TTL_MS).catch((err: unknown) => this.logger.debug({ err, batchId }, 'trace context not kept'));
  }

  /** The batch's trace context: this process's own, or one a gateway left in Redis (taken once). */
  private async traceOf(batchId: string): Promise<Record<string, string> | undefined> {
    const local = this.tracing!.carrierOf?.(batchId);
    if (local !== undefined) return local;
    const stored = await this.tracing!.redis.getdel(this.tracePrefix + batchId).catch(() => null);
    return stored === null ? undefined : (JSON.parse(stored) as Record<string, string>);
  }

  /** Kicks each channel, logging (not throwing) a failure: the reconciler retries it. */
  async kickAll(channelKeys: Iterable<string>): Promise<void> {
    await Promise.all(
      [...channelKeys].map((key) =>
        this.kick(key).catch((err: unknown) => this.logger.warn({ err, channelKey: key }, 'dispatch failed; the reconciler will retry')),
      ),
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
