import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { QueueEventType, type QueueEvent } from '../core/events.js';
import type { AdminHost } from './host.js';
import { BucketHistogram, type HistogramSeries } from './bucket-histogram.js';
import { LabelTally } from './label-tally.js';
import { TurnMetrics } from './turn-metrics.js';

/** Buckets of `batchgate_batch_size` (messages per flushed batch). */
export const BATCH_SIZE_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1_000];
/** Buckets of `batchgate_flush_lateness_seconds`: a healthy timer flushes within a few ms of its deadline. */
export const LATENESS_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Buckets of `batchgate_processing_seconds` and `batchgate_batch_wait_seconds`: LLM calls take seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Lifetime tallies since start, for `/api/v1/stats` and the dashboard's rate charts (monotonic). */
export interface MetricTotals {
  messagesReceived: number;
  batchesFlushed: number;
  cancelled: number;
  dropped: number;
  processorErrors: number;
  repliesDropped: number;
}

/** Per-bucket (not cumulative) counts of the batch-size histogram, for the dashboard's bar chart. */
export interface BatchSizeDistribution {
  /** Upper bound of each bucket; the last one is `+Inf`. */
  le: Array<number | '+Inf'>;
  counts: number[];
}

/**
 * The gateway's Prometheus metrics (listed in docs/admin-api.md) on a registry of its own, so two gateways in one process
 * never share series. Event-driven series are fed by `queue.on` (synchronous and exact: a bus consumer
 * may drop items under backpressure, and a counter must not); gauges are computed at scrape time from
 * the queue's own state.
 *
 * Each series has one owner in a cluster, so a sum over every `/metrics` endpoint counts each thing once:
 * a gateway counts what it did (messages it accepted, batches its steps sealed, drops, cancels, replies it
 * delivered); in distributed mode the run series ({@link RunMetrics}) belong to the workers, and the
 * events workers relay to every gateway feed only the live views and `totals`.
 */
export class AdminMetrics {
  readonly registry = new Registry();
  readonly totals: MetricTotals = { messagesReceived: 0, batchesFlushed: 0, cancelled: 0, dropped: 0, processorErrors: 0, repliesDropped: 0 };
  private readonly sizeCounts = new Array<number>(BATCH_SIZE_BUCKETS.length + 1).fill(0);
  // Per-message and per-batch series are tallied in plain numbers and handed to prom-client at scrape time:
  // its labelled `inc` and its `observe` allocate and hash a label object on every call (~1 µs each, profiled).
  private readonly received = new LabelTally();
  private readonly flushed = new LabelTally();
  private readonly batchSize: BucketHistogram;
  private readonly lateness: BucketHistogram;
  /** Series of the batches this process runs; null in distributed mode, where workers run (and count) them. */
  private readonly runs: RunMetrics | null;
  private readonly processingCancelled: HistogramSeries;
  private readonly cancelled: Counter<'reason'>;
  private readonly dropped: Counter<'reason'>;
  /** Edits and deletes of messages, by where the message was (`applied`). */
  private readonly changes: Counter<'kind' | 'applied'>;
  /** Replies a distributed gateway itself dropped (its reply router, for a cancelled batch); embedded mode counts them in `runs`. */
  private readonly gatewayRepliesDropped: Counter<'reason'> | null;
  /** Holds, typing signals and the turn classifier. */
  private readonly turns: TurnMetrics;

  constructor(private readonly host: AdminHost) {
    const registers = [this.registry];
    const distributed = host.config.redis.url !== '';
    collectDefaultMetrics({ register: this.registry });
    const received = this.received;
    new Counter({
      name: 'batchgate_messages_received_total',
      help: 'Messages the gateway accepted into a channel, by platform.',
      labelNames: ['platform'],
      registers,
      collect() {
        received.moveInto(this, 'platform');
      },
    });
    const flushed = this.flushed;
    new Counter({
      name: 'batchgate_batches_flushed_total',
      help: 'Batches sealed, by flush reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        flushed.moveInto(this, 'reason');
      },
    });
    this.batchSize = new BucketHistogram('batchgate_batch_size', 'Messages per flushed batch.', BATCH_SIZE_BUCKETS, registers);
    this.lateness = new BucketHistogram('batchgate_flush_lateness_seconds', 'Actual flush time minus the deadline, for timer flushes (reason window or maxWait).', LATENESS_BUCKETS, registers);
    this.runs = distributed ? null : new RunMetrics(registers);
    // Cancels run at a gateway (which ends the batch in the store), whichever process ran the batch.
    this.processingCancelled = (this.runs?.processing ?? processingHistogram(registers)).series('cancelled');
    this.cancelled = new Counter({ name: 'batchgate_cancelled_total', help: 'In-flight batches aborted, by reason (cancel, stop, shutdown, edit).', labelNames: ['reason'], registers });
    this.dropped = new Counter({ name: 'batchgate_dropped_total', help: 'Messages dropped, by reason (overflow, rejected, cleared, shutdown).', labelNames: ['reason'], registers });
    this.changes = new Counter({
      name: 'batchgate_message_changes_total',
      help: 'Edits and deletes of messages, by kind (edit, delete) and where the message was (pending, in-flight, done, unknown).',
      labelNames: ['kind', 'applied'],
      registers,
    });
    this.gatewayRepliesDropped = this.runs === null ? repliesDroppedCounter(registers) : null;
    this.registerScrapeTimeSeries(registers, distributed);
    this.turns = new TurnMetrics(registers, () => host.queue.totals());
    // Known label values start at 0, so `rate()` and `increase()` see a series before its first event.
    for (const reason of ['cancel', 'stop', 'shutdown', 'edit']) this.cancelled.inc({ reason }, 0);
    for (const kind of ['edit', 'delete']) for (const applied of ['pending', 'in-flight', 'done', 'unknown']) this.changes.inc({ kind, applied }, 0);
    for (const reason of ['overflow', 'rejected', 'cleared', 'shutdown']) this.dropped.inc({ reason }, 0);
  }

  /** Counts a message taken into a channel (adapters through `gateway.accept`, and admin injections). */
  countReceived(platform: string): void {
    this.received.add(platform, 1);
    this.totals.messagesReceived++;
  }

  /** Feeds the event-driven series; cheap enough to run inside the queue's step. */
  observe(event: QueueEvent): void {
    switch (event.type) {
      case QueueEventType.Flushed: {
        this.flushed.add(event.reason, 1);
        this.batchSize.observe(event.size);
        const bucket = BATCH_SIZE_BUCKETS.findIndex((le) => event.size <= le);
        this.sizeCounts[bucket === -1 ? BATCH_SIZE_BUCKETS.length : bucket]!++;
        this.totals.batchesFlushed++;
        // Size, admin and shutdown flushes happen when asked, not at a timer deadline: no lateness to report.
        if (event.reason === 'window' || event.reason === 'maxWait') this.lateness.observe(Math.max(0, event.latenessMs) / 1_000);
        break;
      }
      case QueueEventType.Started:
      case QueueEventType.Completed:
        if (event.relayed !== true) this.runs?.observe(event);
        break;
      case QueueEventType.Failed:
        if (event.relayed !== true) this.runs?.observe(event);
        this.totals.processorErrors++;
        break;
      case QueueEventType.Cancelled:
        this.processingCancelled.observe(event.durationMs / 1_000);
        this.cancelled.inc({ reason: event.reason });
        this.totals.cancelled++;
        break;
      case QueueEventType.Dropped:
        this.dropped.inc({ reason: event.reason }, event.count);
        this.totals.dropped += event.count;
        break;
      case QueueEventType.Cleared:
        if (event.removed > 0) {
          this.dropped.inc({ reason: 'cleared' }, event.removed);
          this.totals.dropped += event.removed;
        }
        break;
      case QueueEventType.ReplyDropped:
        if (event.relayed !== true) {
          if (this.runs !== null) this.runs.observe(event);
          else this.gatewayRepliesDropped?.inc({ reason: event.reason ?? 'aborted' });
        }
        this.totals.repliesDropped++;
        break;
      case QueueEventType.Usage:
        if (event.relayed !== true) this.runs?.observe(event);
        break;
      case QueueEventType.Held:
        if (event.relayed !== true) this.turns.held(event.reason);
        break;
      case QueueEventType.Edited:
      case QueueEventType.Deleted:
        this.changes.inc({ kind: event.type === QueueEventType.Edited ? 'edit' : 'delete', applied: event.applied });
        break;
      default:
        break;
    }
  }

  batchSizeDistribution(): BatchSizeDistribution {
    return { le: [...BATCH_SIZE_BUCKETS, '+Inf'], counts: [...this.sizeCounts] };
  }

  /** The Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }> {
    return renderRegistry(this.registry);
  }

  /**
   * Gauges and reply counters read from the queue and the reply router when Prometheus scrapes. In
   * distributed mode the channel gauges are cluster state read from Redis (every gateway shows the same
   * value: aggregate them with `max`), and the slot gauges are the workers'.
   */
  private registerScrapeTimeSeries(registers: Registry[], distributed: boolean): void {
    const host = this.host;
    const ratio = host.config.batching.queueWarnRatio;
    // One list() per scrape serves the three channel gauges (it is O(channels)).
    let snapshot: Promise<{ pending: number; queued: number; inFlight: number; overWarn: number; active: number }> | null = null;
    const channels = () => {
      // `await` rather than `.then`: the queue's read methods may answer synchronously.
      snapshot ??= (async () => {
        const list = await host.queue.list();
        setImmediate(() => (snapshot = null));
        let pending = 0;
        let queued = 0;
        let inFlight = 0;
        let overWarn = 0;
        let active = 0;
        for (const c of list) {
          if (!c.active) continue;
          active++;
          pending += c.pending;
          queued += c.queuedMessages;
          if (c.processing) inFlight++;
          if (c.queuedBatches >= Math.max(1, Math.ceil(c.settings.maxQueuedBatches * ratio))) overWarn++;
        }
        return { pending, queued, inFlight, overWarn, active };
      })();
      return snapshot;
    };
    new Gauge({
      name: 'batchgate_queue_depth',
      help: 'Messages waiting, by state: pending (open batches) or queued (sealed, behind the in-flight one).',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await channels();
        this.set({ state: 'pending' }, c.pending);
        this.set({ state: 'queued' }, c.queued);
      },
    });
    new Gauge({
      name: 'batchgate_in_flight',
      help: 'Channels with a batch in flight.',
      registers,
      async collect() {
        this.set((await channels()).inFlight);
      },
    });
    new Gauge({
      name: 'batchgate_channels_over_warn',
      help: 'Channels whose waiting batches passed queueWarnRatio of maxQueuedBatches.',
      registers,
      async collect() {
        this.set((await channels()).overWarn);
      },
    });
    new Gauge({
      name: 'batchgate_channels_active',
      help: 'Channels holding state (open, queued, in flight, paused or overridden).',
      registers,
      async collect() {
        this.set((await channels()).active);
      },
    });
    if (!distributed) {
      slotGauges(registers, () => host.queue.totals());
      new Gauge({
        name: 'batchgate_waiting_for_slot',
        help: 'Channels with a sealed batch waiting for a free slot under maxConcurrentBatches.',
        registers,
        collect() {
          this.set(host.queue.totals().waitingForSlot);
        },
      });
    }
    // The reply router keeps its own monotonic tallies; the counters follow them by delta at each scrape.
    const seen = new Map<string, number>();
    const follow = (counter: Counter<'platform'>, field: 'sent' | 'failed') => () => {
      for (const [platform, stats] of Object.entries(host.replyStats())) {
        const id = `${field}:${platform}`;
        const delta = stats[field] - (seen.get(id) ?? 0);
        seen.set(id, stats[field]);
        if (delta > 0) counter.inc({ platform }, delta);
        else if (delta === 0 && (seen.get(id) ?? 0) === 0) counter.inc({ platform }, 0);
      }
    };
    const sent: Counter<'platform'> = new Counter({
      name: 'batchgate_replies_sent_total',
      help: 'Replies delivered by adapters, by platform.',
      labelNames: ['platform'],
      registers,
      collect: () => follow(sent, 'sent')(),
    });
    const failed: Counter<'platform'> = new Counter({
      name: 'batchgate_replies_failed_total',
      help: 'Replies an adapter failed to deliver, by platform.',
      labelNames: ['platform'],
      registers,
      collect: () => follow(failed, 'failed')(),
    });
  }
}

/** `batchgate_processing_seconds`: whoever ends a batch observes its run time under the outcome. */
function processingHistogram(registers: Registry[]): BucketHistogram {
  return new BucketHistogram('batchgate_processing_seconds', 'Processor run time per batch, by outcome.', DURATION_BUCKETS, registers, 'outcome');
}

/** `batchgate_running_batches` and `batchgate_max_concurrent_batches` of the process that runs batches. */
function slotGauges(registers: Registry[], read: () => { running: number; maxConcurrentBatches: number }): void {
  new Gauge({
    name: 'batchgate_running_batches',
    help: 'Batches running now in this process (compare with batchgate_max_concurrent_batches).',
    registers,
    collect() {
      this.set(read().running);
    },
  });
  new Gauge({
    name: 'batchgate_max_concurrent_batches',
    help: 'The batching.maxConcurrentBatches cap of this process.',
    registers,
    collect() {
      this.set(read().maxConcurrentBatches);
    },
  });
}

async function renderRegistry(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** `batchgate_replies_dropped_total{reason}`, every known reason starting at 0. */
function repliesDroppedCounter(registers: Registry[]): Counter<'reason'> {
  const counter = new Counter({
    name: 'batchgate_replies_dropped_total',
    help: 'Replies never delivered, by reason: cancelled (the batch was cancelled, stopped or interrupted, the reply queued or retrying included), aborted (ctx.reply after a timeout or shutdown), backpressure (the channel held the most undelivered replies the gateway keeps per channel for the whole bus write timeout).',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['cancelled', 'aborted', 'backpressure']) counter.inc({ reason }, 0);
  return counter;
}

/**
 * The series of the batches a process runs: sealed → started (`batchgate_batch_wait_seconds`), the run
 * (`batchgate_processing_seconds{outcome="completed"|"failed"}`), `batchgate_processor_errors_total`,
 * `batchgate_replies_dropped_total` and `batchgate_llm_tokens_total`. The embedded gateway owns them; in distributed mode each worker does.
 */
export class RunMetrics {
  readonly processing: BucketHistogram;
  private readonly wait: BucketHistogram;
  private readonly completed: HistogramSeries;
  private readonly failed: HistogramSeries;
  private readonly processorErrors: Counter<'kind'>;
  private readonly repliesDropped: Counter<'reason'>;
  private readonly llmTokens: Counter<'kind' | 'model'>;

  constructor(registers: Registry[]) {
    this.processing = processingHistogram(registers);
    this.completed = this.processing.series('completed');
    this.failed = this.processing.series('failed');
    this.wait = new BucketHistogram('batchgate_batch_wait_seconds', 'Sealed to started: how long a batch waited for its channel and a slot.', DURATION_BUCKETS, registers);
    this.processorErrors = new Counter({ name: 'batchgate_processor_errors_total', help: 'Batches whose processor threw or timed out.', labelNames: ['kind'], registers });
    this.repliesDropped = repliesDroppedCounter(registers);
    this.llmTokens = new Counter({ name: 'batchgate_llm_tokens_total', help: 'Tokens used by model calls (prompt or completion), as the endpoint reported them.', labelNames: ['kind', 'model'], registers });
    for (const kind of ['error', 'timeout']) this.processorErrors.inc({ kind }, 0);
  }

  observe(event: QueueEvent): void {
    switch (event.type) {
      case QueueEventType.Started:
        this.wait.observe(Math.max(0, event.waitMs) / 1_000);
        break;
      case QueueEventType.Completed:
        this.completed.observe(event.durationMs / 1_000);
        break;
      case QueueEventType.Failed:
        this.failed.observe(event.durationMs / 1_000);
        this.processorErrors.inc({ kind: event.timeout ? 'timeout' : 'error' });
        break;
      case QueueEventType.ReplyDropped:
        this.repliesDropped.inc({ reason: event.reason ?? 'aborted' });
        break;
      case QueueEventType.Usage:
        this.llmTokens.inc({ kind: 'prompt', model: event.model }, event.promptTokens);
        this.llmTokens.inc({ kind: 'completion', model: event.model }, event.completionTokens);
        break;
      default:
        break;
    }
  }
}

/** A distributed-mode worker's `/metrics`: its runs, its slots, and the default process metrics. */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly runs: RunMetrics;

  constructor(slots: () => { running: number; maxConcurrentBatches: number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.runs = new RunMetrics(registers);
    slotGauges(registers, slots);
  }

  /** Feeds the run series with an event of a batch this worker ran. */
  observe(event: QueueEvent): void {
    this.runs.observe(event);
  }

  render(): Promise<{ contentType: string; body: string }> {
    return renderRegistry(this.registry);
  }
}
