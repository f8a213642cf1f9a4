import { Worker, type ConnectionOptions, type Job, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { BatchConsumer } from '../core/batch-consumer.js';
import { ProcessorTimeoutError, ShuttingDownError, GatewayError, ErrorCode, LifecycleError } from '../core/errors.js';
import { QueueEventType, type QueueEvent } from '../core/events.js';
import { systemClock, systemScheduler } from '../core/clock.js';
import { parseChannelKey, type OutboundMessage } from '../core/model.js';
import { toOutbound } from '../core/outbound.js';
import { abortReason } from '../core/run.js';
import { isReplyStream, pumpReplyStream } from '../core/reply-stream.js';
import type { ProcessContext, Processor, ReplyInput } from '../processors/processor.js';
import type { ControlBus } from './control.js';
import { BATCH_QUEUE, bullPrefix, type BatchDispatcher, type BatchJobData } from './dispatcher.js';
import { KeyLayout } from './keys.js';
import { boundGatewayOf, replyStreamFor } from './reply-relay.js';
import type { ClaimedBatch, DistributedBatchStore } from './store-steps.js';

export interface BullBatchConsumerOptions {
  store: DistributedBatchStore;
  dispatcher: BatchDispatcher;
  control: ControlBus;
  /** BullMQ needs a connection that waits for Redis (`maxRetriesPerRequest: null`). */
  connection: ConnectionOptions;
  prefix: string;
  /** Shards of the key layout (config `distributed.shards`): reply streams live in their channel's shard. */
  shards: number;
  /** Batches run at once by this worker (config `batching.maxConcurrentBatches`). */
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  onBatchFailed: 'block' | 'dead-letter';
  logger: Logger;
  /** Sees each event of a batch run here, before it goes out on the control channel (the worker's metrics). */
  onEvent?: (event: QueueEvent) => void;
  /** Runs the handler inside the trace context a job carries (tracing on). */
  inTrace?: (carrier: Record<string, string>, run: () => Promise<void>) => Promise<void>;
}

/** One delivery running here. */
interface Active {
  controller: AbortController;
  claimed: ClaimedBatch;
}

/**
 * Runs batches from BullMQ. Each delivery first CLAIMs its batch (fence check + a new token): a job for
 * a batch that is no longer in flight (cancelled, cleared, already ACKed, or re-delivered after a stall
 * and taken by another worker) runs nothing. Replies and the ACK go through fenced scripts, so a worker
 * that lost its batch (SIGSTOP past its lock, a cancel it missed) can neither reply nor ACK.
 */
export class BullBatchConsumer implements BatchConsumer {
  private readonly store: DistributedBatchStore;
  private readonly dispatcher: BatchDispatcher;
  private readonly control: ControlBus;
  /** What the BullMQ worker is built with (run()). */
  private readonly workerOptions: WorkerOptions;
  private readonly onBatchFailed: BullBatchConsumerOptions['onBatchFailed'];
  private readonly logger: Logger;
  private readonly onEvent: BullBatchConsumerOptions['onEvent'];
  private readonly inTrace: BullBatchConsumerOptions['inTrace'];
  /** Deliveries running here, keyed by batch id and fence token. */
  private readonly active = new Map<string, Active>();
  private worker: Worker<BatchJobData> | null = null;
  private stopped: Promise<void> | null = null;
  private resolveRun: (() => void) | null = null;
  private offControl: (() => void) | null = null;

  private readonly keys: KeyLayout;

  constructor(options: BullBatchConsumerOptions) {
    this.store = options.store;
    this.dispatcher = options.dispatcher;
    this.control = options.control;
    this.workerOptions = {
      connection: options.connection,
      prefix: bullPrefix(options.prefix),
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // A batch re-runs however often its worker dies; giving up would strand its channel.
      maxStalledCount: 1_000,
    };
    this.onBatchFailed = options.onBatchFailed;
    this.logger = options.logger;
    this.onEvent = options.onEvent;
    this.inTrace = options.inTrace;
    this.keys = new KeyLayout(options.prefix, options.shards);
  }

  /** Batches running in this worker now. */
  get running(): number {
    return this.active.size;
  }

  get isRunning(): boolean {
    return this.worker !== null && this.stopped === null && this.worker.isRunning();
  }

  run(handler: Processor): Promise<void> {
    if (this.worker !== null) return Promise.reject(new LifecycleError('this consumer already runs'));
    this.offControl = this.control.on((msg) => {
      if (msg.type !== 'cancel') return;
      // Every delivery of that batch here (a stalled job can come back to the same worker).
      for (const run of this.active.values()) {
        if (run.claimed.batch.id !== msg.batchId) continue;
        this.logger.info({ channelKey: msg.channelKey, batchId: msg.batchId, reason: msg.reason }, 'cancel received: aborting the batch');
        run.controller.abort(abortReason(msg.reason, run.claimed.settings.processingTimeoutMs));
      }
    });
    this.worker = new Worker<BatchJobData>(BATCH_QUEUE, (job, _token, signal) => this.process(job, handler, signal), this.workerOptions);
    this.worker.on('error', (err) => this.logger.warn({ err: err.message }, 'worker error'));
    this.worker.on('stalled', (jobId) => this.logger.warn({ jobId }, 'a batch stalled (its worker died or froze): it runs again'));
    return new Promise<void>((resolve) => (this.resolveRun = resolve));
  }

  private async process(job: Job<BatchJobData>, handler: Processor, bullSignal?: AbortSignal): Promise<string> {
    const { channelKey, batchId } = job.data;
    const claim = await this.store.claim(channelKey, batchId);
    if (claim.status !== 'claimed') {
      this.logger.debug({ channelKey, batchId }, 'batch no longer in flight: skipped');
      return 'stale';
    }
    const claimed = claim.claimed;
    const { batch, settings, fence } = claimed;
    const controller = new AbortController();
    const onBullAbort = () => controller.abort(new ShuttingDownError());
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    const timeout = setTimeout(() => controller.abort(new ProcessorTimeoutError(settings.processingTimeoutMs)), settings.processingTimeoutMs);
    const delivery = `${batchId}/${fence.token}`;
    this.active.set(delivery, { controller, claimed });
    const startedAt = Date.now();
    let replies = 0;
    let streams = 0;
    this.publishEvent({ type: QueueEventType.Started, channelKey, at: startedAt, batchId, size: batch.size, waitMs: Math.max(0, startedAt - claimed.sealedAt), messageIds: batch.messages.map((m) => m.id) });
    const { platform, channelId } = parseChannelKey(channelKey);
    const logger = this.logger.child({ channelKey, batchId });
    const ctx: ProcessContext = {
      signal: controller.signal,
      reply: (input: ReplyInput) => {
        const send = async (out: OutboundMessage, counts: boolean): Promise<boolean> => {
          const sent = !controller.signal.aborted && (await this.store.publishReply(channelKey, batchId, fence, out, replyStreamFor(this.keys, out, batch)));
          if (sent && counts) replies++;
          else if (!sent) {
            const why = (controller.signal.reason as GatewayError | undefined)?.code === ErrorCode.Cancelled ? 'cancelled' : 'aborted';
            this.publishEvent({ type: QueueEventType.ReplyDropped, channelKey, at: Date.now(), batchId, reason: why });
          }
          return sent;
        };
        if (!isReplyStream(input)) return send(toOutbound(input, batch), true);
        const stream = { id: `${batchId}:${streams++}`, final: false };
        // Snapshots travel like replies (fenced, through the reply streams), at most one a second.
        return pumpReplyStream(input, {
          signal: controller.signal,
          clock: systemClock,
          scheduler: systemScheduler,
          publish: (text, final) => send(toOutbound(text, batch, { ...stream, final }), final),
        });
      },
      usage: (usage) => this.publishEvent({ type: QueueEventType.Usage, channelKey, at: Date.now(), batchId, ...usage }),
      typing: () => this.requestTyping(controller.signal, claimed),
      logger,
      channel: { key: channelKey, platform, channelId, settings },
      // Interrupt re-runs (stored with the batch) plus BullMQ retries of this one.
      attempt: claimed.attempt + job.attemptsMade,
    };
    let error: unknown = null;
    try {
      // An aborted batch ends now even if its processor ignores the signal: it must not hold the channel
      // or this worker's slot (nor shutdown). Its late replies are refused (ctx.reply checks the signal).
      const run = () => Promise.race([handler(batch, ctx), whenAborted(controller.signal)]);
      const trace = job.data.trace;
      await (trace !== undefined && this.inTrace !== undefined ? this.inTrace(trace, run) : run());
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timeout);
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.active.delete(delivery);
    }
    const durationMs = Date.now() - startedAt;
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : null;
    if (reason instanceof ProcessorTimeoutError) error = reason;
    else if (controller.signal.aborted) {
      // Cancelled (the gateway already ended the batch) or shutting down (the batch stays in flight; the
      // reconciler gives it a new job). Either way this delivery ends without an ACK.
      logger.info({ reason: (reason as Error | undefined)?.message }, 'batch aborted');
      return 'aborted';
    }
    if (error === null) {
      const result = await this.store.ack(channelKey, batchId, fence, 'processed');
      if (!result.current) {
        logger.warn({ fence }, 'late ACK refused: this batch was taken over or cancelled');
        return 'stale';
      }
      this.publishEvent({ type: QueueEventType.Completed, channelKey, at: Date.now(), batchId, size: batch.size, durationMs, replies });
      if (result.nextSeq !== null) await this.dispatcher.kick(channelKey);
      return 'processed';
    }
    const message = error instanceof Error ? error.message : String(error);
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 < attempts) {
      logger.warn({ err: error, attempt: job.attemptsMade + 1, attempts }, 'processor failed; the batch runs again (the channel waits)');
      throw error; // BullMQ retries with backoff; the batch stays in flight, so order holds
    }
    const result = await this.store.failFinally(channelKey, batchId, fence, this.onBatchFailed, message);
    if (!result.current) return 'stale';
    logger.error({ err: error, attempts, policy: this.onBatchFailed }, this.onBatchFailed === 'block' ? 'batch failed every attempt: channel blocked until an operator acts' : 'batch failed every attempt: dead-lettered, the channel moves on');
    this.publishEvent({ type: QueueEventType.Failed, channelKey, at: Date.now(), batchId, size: batch.size, durationMs, error: message, timeout: error instanceof ProcessorTimeoutError });
    if (result.nextSeq !== null) await this.dispatcher.kick(channelKey);
    return 'failed';
  }

  /** `ctx.typing()`: the gateway that answers the channel shows it; an aborted run asks for nothing. */
  private async requestTyping(signal: AbortSignal, claimed: ClaimedBatch): Promise<void> {
    if (signal.aborted) return;
    const { batch } = claimed;
    const gatewayId = boundGatewayOf(parseChannelKey(batch.channelKey).platform, batch);
    await this.control.publish({ type: 'typing', channelKey: batch.channelKey, batchId: batch.id, ...(gatewayId === undefined ? {} : { gatewayId }) });
  }

  private publishEvent(event: QueueEvent): void {
    this.onEvent?.(event);
    void this.control.publish({ type: 'event', event });
  }

  /** Stops taking jobs; running batches get `timeoutMs`, then their signals abort (they re-run elsewhere). */
  shutdown(timeoutMs = 10_000): Promise<void> {
    this.stopped ??= this.close(timeoutMs);
    return this.stopped;
  }

  private async close(timeoutMs: number): Promise<void> {
    this.offControl?.();
    const worker = this.worker;
    if (worker !== null) {
      const closing = worker.close();
      const timer = setTimeout(() => {
        for (const run of this.active.values()) run.controller.abort(new ShuttingDownError());
      }, timeoutMs);
      try {
        await closing;
      } finally {
        clearTimeout(timer);
      }
    }
    this.resolveRun?.();
  }
}

/** Resolves when the signal aborts (never rejects: the caller reads the reason from the signal). */
function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
