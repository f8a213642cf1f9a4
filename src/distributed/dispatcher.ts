import { Queue, type ConnectionOptions } from 'bullmq';
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
  /** The trace context to carry in a batch's job (tracing on), or undefined. */
  traceCarrier?: ((batchId: string) => Record<string, string> | undefined) | undefined;
}

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
  private readonly traceCarrier: DispatcherOptions['traceCarrier'];

  constructor(options: DispatcherOptions) {
    this.store = options.store;
    this.traceCarrier = options.traceCarrier;
    this.attempts = options.attempts;
    this.backoffMs = options.backoffMs;
    this.logger = options.logger;
    this.queue = new Queue<BatchJobData>(BATCH_QUEUE, { connection: options.connection, prefix: bullPrefix(options.prefix) });
    this.queue.on('error', (err) => this.logger.warn({ err: err.message }, 'batch queue error'));
  }

  /** Takes the channel's next batch if it may run now and hands it to BullMQ. True when one was sent. */
  async kick(channelKey: string): Promise<boolean> {
    const taken = await this.store.take(channelKey, Number.NaN);
    if (taken === null) return false;
    await this.send(channelKey, taken.batch.id);
    return true;
  }

  /** Adds the job of an in-flight batch (idempotent per batch) and records that it exists. */
  async send(channelKey: string, batchId: string): Promise<void> {
    const trace = this.traceCarrier?.(batchId);
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
