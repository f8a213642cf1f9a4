import { Worker, type ConnectionOptions, type Job, type WorkerOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { BatchConsumer } from '../core/batch-consumer.js';
import { BatchRun, type RunOutcome, type RunPort } from '../core/batch-run.js';
import { LifecycleError } from '../errors.js';
import type { QueueEvent } from '../core/events.js';
import { systemClock, systemScheduler } from '../core/clock.js';
import { parseChannelKey, type MessageBatch } from '../core/model.js';
import type { Processor } from '../processors/processor.js';
import type { ControlBus } from './control.js';
import { BATCH_QUEUE, bullPrefix, type BatchDispatcher, type BatchJobData } from './dispatcher.js';
import { KeyLayout } from './keys.js';
import { boundGatewayOf, replyStreamFor } from './reply-relay.js';
import { RunTimers } from './run-timers.js';
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

/** What the worker keeps with each run: the claim (its fence) and how the run's end reaches the job. */
interface Delivery {
  claimed: ClaimedBatch;
  ended: (outcome: RunOutcome) => void;
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
  private readonly active = new Map<string, BatchRun<Delivery>>();
  /** What every run here asks of this worker: replies through the fenced store, events on the control channel. */
  private readonly port: RunPort<Delivery>;
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
    this.port = {
      clock: systemClock,
      scheduler: systemScheduler,
      timeouts: new RunTimers(systemClock, systemScheduler),
      logger: this.logger,
      // Every event goes out on the control channel, for the gateways' dashboards and adapters.
      listening: () => true,
      emit: (event) => this.publishEvent(event),
      deliver: (run, reply) => this.store.publishReply(run.key, run.batch.id, run.owner.claimed.fence, reply, replyStreamFor(this.keys, reply, run.batch)),
      typing: (run) => this.requestTyping(run.batch),
      steer: (run) => this.store.steerFenced(run.key, run.batch.id, run.owner.claimed.fence),
      onEnd: (run, outcome) => run.owner.ended(outcome),
    };
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
      if (msg.type === 'steer') {
        for (const run of this.active.values()) if (run.key === msg.channelKey) run.offered();
        return;
      }
      if (msg.type !== 'cancel') return;
      // Every delivery of that batch here (a stalled job can come back to the same worker).
      for (const run of this.active.values()) {
        if (run.batch.id !== msg.batchId) continue;
        this.logger.info({ channelKey: msg.channelKey, batchId: msg.batchId, reason: msg.reason }, 'cancel received: aborting the batch');
        run.abort(msg.reason);
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
    const { claimed } = claim;
    let ended!: (outcome: RunOutcome) => void;
    const outcome = new Promise<RunOutcome>((resolve) => (ended = resolve));
    // Interrupt re-runs (stored with the batch) plus BullMQ retries of this one.
    const input = { ...claimed, attempt: claimed.attempt + job.attemptsMade };
    const run = new BatchRun<Delivery>(this.port, { claimed, ended }, input, this.port.clock.now());
    const onBullAbort = () => run.abort('shutdown');
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    const delivery = `${batchId}/${claimed.fence.token}`;
    this.active.set(delivery, run);
    try {
      // An aborted run ends at once even if its processor ignores the signal: it must not hold the channel
      // or this worker's slot (nor shutdown), and its late replies are refused.
      const trace = job.data.trace;
      if (trace !== undefined && this.inTrace !== undefined) await this.inTrace(trace, async () => run.start(handler));
      else run.start(handler);
      return await this.settle(job, run, await outcome);
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.active.delete(delivery);
    }
  }

  /** Claim → run → here: ACK, retry (BullMQ re-runs the job), or the final failure's policy. */
  private async settle(job: Job<BatchJobData>, run: BatchRun<Delivery>, outcome: RunOutcome): Promise<string> {
    const { key: channelKey, batch } = run;
    const { fence } = run.owner.claimed;
    const logger = run.logger;
    if (outcome.status === 'aborted') {
      // Cancelled, stopped or interrupted (a gateway already ended the batch and reported it), or shutting
      // down (the batch stays in flight; the reconciler gives it a new job): no ACK either way.
      logger.info({ why: outcome.why }, 'batch aborted');
      return 'aborted';
    }
    if (outcome.status === 'processed') {
      const result = await this.store.ack(channelKey, batch.id, fence, 'processed');
      if (!result.current) {
        logger.warn({ fence }, 'late ACK refused: this batch was taken over or cancelled');
        return 'stale';
      }
      run.report(outcome);
      if (result.nextSeq !== null) await this.dispatcher.kick(channelKey);
      return 'processed';
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 < attempts) {
      logger.warn({ err: outcome.cause, attempt: job.attemptsMade + 1, attempts }, 'processor failed; the batch runs again (the channel waits)');
      throw outcome.cause; // BullMQ retries with backoff; the batch stays in flight, so order holds
    }
    const result = await this.store.failFinally(channelKey, batch.id, fence, this.onBatchFailed, outcome.error);
    if (!result.current) return 'stale';
    logger.error({ err: outcome.cause, attempts, policy: this.onBatchFailed }, this.onBatchFailed === 'block' ? 'batch failed every attempt: channel blocked until an operator acts' : 'batch failed every attempt: dead-lettered, the channel moves on');
    run.report(outcome);
    if (result.nextSeq !== null) await this.dispatcher.kick(channelKey);
    return 'failed';
  }

  /** `ctx.typing()`: the gateway that answers the channel shows it (the run asks only while not aborted). */
  private async requestTyping(batch: MessageBatch): Promise<void> {
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
        for (const run of this.active.values()) run.abort('shutdown');
      }, timeoutMs);
      try {
        await closing;
      } catch (err) {
        // The consumer still ends: run() resolves, and the process can disconnect.
        this.logger.error({ err }, 'closing the BullMQ worker failed');
      } finally {
        clearTimeout(timer);
      }
    }
    this.resolveRun?.();
  }
}
