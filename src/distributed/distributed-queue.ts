import type { Logger } from 'pino';
import type { ChannelStats, MessageEdit, SealResult } from '../core/batch-store.js';
import { systemClock } from '../core/clock.js';
import { runCloseSteps } from '../core/close-steps.js';
import { QueueEventHub, type BatchingEngine, type ChangeOutcome, type DrainResult, type EditAuthor, type EnqueueResult, type HoldReason, type HoldResult, type QueueTotals, type SettingsView } from '../core/engine.js';
import { QueueEventType, type QueueEvent } from '../core/events.js';
import { Intake } from '../core/intake.js';
import { MessageBatch, type QueuedMessage } from '../core/model.js';
import type { ControlBus } from './control.js';
import { jobIdOf as jobIdFor, type BatchDispatcher } from './dispatcher.js';
import type { Flusher } from './flusher.js';
import type { DeadLetter, DistributedBatchStore } from './store-steps.js';

export interface DistributedQueueOptions {
  store: DistributedBatchStore;
  dispatcher: BatchDispatcher;
  flusher: Flusher;
  control: ControlBus;
  /** Written into each message's `extra.gatewayId`: web-chat replies come back to this gateway. */
  gatewayId: string;
  /** True while the command connection to Redis is up. */
  redisReady: () => boolean;
  /** Keep messages' `raw` payload (config `distributed.keepRaw`). */
  keepRaw: boolean;
  /** Reconciler period. */
  reconcileMs: number;
  /** In-flight batches one reconcile pass examines; successive passes walk on through the rest. */
  reconcileBatch: number;
  maxConcurrentBatches: number;
  logger: Logger;
}

/**
 * The gateway's batching engine in distributed mode: the same {@link BatchingEngine} the embedded
 * MessageQueue offers, with the state in Redis and the batches run by workers. This process appends,
 * seals due windows, hands batches to BullMQ and answers operators; it runs no processor.
 */
export class DistributedQueue implements BatchingEngine {
  private readonly store: DistributedBatchStore;
  private readonly dispatcher: BatchDispatcher;
  private readonly flusher: Flusher;
  private readonly control: ControlBus;
  private readonly gatewayId: string;
  private readonly redisReady: () => boolean;
  private readonly keepRaw: boolean;
  private readonly reconcileMs: number;
  private readonly reconcileBatch: number;
  private readonly maxConcurrentBatches: number;
  private readonly logger: Logger;
  private readonly events: QueueEventHub;
  /** Intake, settings and stop: the same path as the embedded engine's. */
  private readonly intake: Intake<SealResult>;
  private dispatching = true;
  /** Channels kicked while dispatch was paused (start-up): kicked on startProcessing(). */
  private readonly heldKicks = new Set<string>();
  private closing = false;
  private closed: Promise<void> | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private reconciling: Promise<void> | null = null;
  /** Where the next pass resumes among in-flight batches (start time, Redis ms); undefined: the oldest. */
  private reconcileFrom: number | undefined = undefined;
  private running = 0;
  private repliesDropped = 0;
  private readonly typingCounts = { signals: 0, held: 0 };
  private readonly offControl: () => void;

  constructor(options: DistributedQueueOptions) {
    this.store = options.store;
    this.dispatcher = options.dispatcher;
    this.flusher = options.flusher;
    this.control = options.control;
    this.gatewayId = options.gatewayId;
    this.redisReady = options.redisReady;
    this.keepRaw = options.keepRaw;
    this.reconcileMs = options.reconcileMs;
    this.reconcileBatch = options.reconcileBatch;
    this.maxConcurrentBatches = options.maxConcurrentBatches;
    this.logger = options.logger;
    this.events = new QueueEventHub(options.logger);
    this.intake = new Intake<SealResult>({
      store: options.store,
      clock: systemClock,
      storeKeepsTime: true,
      closing: () => this.closing,
      available: options.redisReady,
      prepare: (msg) => this.prepare(msg),
      // Not persisted, so not accepted: the sender retries (503 + Retry-After).
      refuseFailedAppend: true,
      arm: (deadline) => this.flusher.arm(deadline),
      sealed: (sealed) => this.onSealed([sealed]),
      frontInserted: (sealed) => this.kick(sealed.channelKey),
      resumed: (channelKey) => this.kick(channelKey),
      cancelInFlight: (channelKey, why) => this.cancelInFlight(channelKey, why),
      // Deadlines are on Redis's clock; answers on this process's.
      localTime: (deadline) => this.flusher.toLocalTime(deadline),
      logger: options.logger,
    });
    this.offControl = options.control.on((msg) => {
      if (msg.type === 'event') this.relay(msg.event);
    });
  }

  /** Starts sealing due windows and reconciling. */
  async start(): Promise<void> {
    await this.flusher.start();
    this.reconcileTimer = setInterval(() => {
      this.reconciling ??= this.reconcile().finally(() => (this.reconciling = null));
    }, this.reconcileMs);
    this.reconcileTimer.unref();
  }

  /** Events from this gateway's store steps. */
  emit(event: QueueEvent): void {
    this.events.emit(event);
  }

  /** Events a worker published: emitted like local ones, marked `relayed` (the worker counts them in its own metrics). */
  private relay(event: QueueEvent): void {
    if (event.type === QueueEventType.ReplyDropped) this.repliesDropped++;
    event.relayed = true;
    this.emit(event);
  }

  on(listener: (event: QueueEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** False while Redis is unreachable: readiness and intake depend on it. */
  available(): boolean {
    return this.redisReady();
  }

  // ── intake ────────────────────────────────────────────────────────────────

  enqueue(input: unknown): Promise<EnqueueResult> {
    return this.intake.enqueue(input);
  }

  /** Tags the message with this gateway (for web-chat replies) and drops `raw` unless kept. */
  private prepare(msg: QueuedMessage): QueuedMessage {
    const out: QueuedMessage = { ...msg, extra: { ...msg.extra, gatewayId: this.gatewayId } };
    if (!this.keepRaw) delete out.raw;
    return out;
  }

  enqueueFront(item: MessageBatch | unknown): Promise<EnqueueResult> {
    return this.intake.enqueueFront(item);
  }

  async restore(batches: MessageBatch[]): Promise<void> {
    const sealed = await this.store.restore(batches);
    for (const s of sealed) this.kick(s.channelKey);
  }

  // ── dispatch ──────────────────────────────────────────────────────────────

  /** Dispatches freshly sealed batches (from an append, an admin flush, or the flusher). */
  onSealed(sealed: SealResult[]): void {
    for (const s of sealed) {
      if (s.mode === 'interrupt') void this.interrupt(s.channelKey);
      else if (s.waits !== true) this.kick(s.channelKey);
      // Steer: the batch waits in Redis for the running one to take it (or runs next); its worker hears of it.
      else if (s.mode === 'steer') {
        void this.control.publish({ type: 'steer', channelKey: s.channelKey });
        this.dispatcher.rememberTrace(s.batchId);
      }
      // Dispatched later, maybe by a worker: its trace context waits in Redis (tracing on; else a no-op).
      else this.dispatcher.rememberTrace(s.batchId);
    }
  }

  /** Hands the channel's next batch to BullMQ (no-op when one is in flight or it is paused). */
  private kick(channelKey: string): void {
    if (!this.dispatching) {
      this.heldKicks.add(channelKey);
      return;
    }
    this.dispatcher.kick(channelKey).catch((err: unknown) => this.logger.warn({ err, channelKey }, 'dispatch failed; the reconciler retries'));
  }

  /** Interrupt mode: the in-flight batch is aborted and its messages re-run merged in front of the new ones. */
  private async interrupt(channelKey: string): Promise<void> {
    try {
      const batchId = await this.store.inFlightId(channelKey);
      if (batchId !== null) {
        const result = await this.store.interrupt(channelKey, batchId);
        if (result.current) await this.control.publish({ type: 'cancel', channelKey, batchId, reason: 'interrupt' });
      }
    } catch (err) {
      this.logger.warn({ err, channelKey }, 'interrupt failed; the batch in flight runs on');
    }
    this.kick(channelKey);
  }

  /** Finds work a crash left half done: ready channels nobody took, in-flight batches without a job. */
  private async reconcile(): Promise<void> {
    try {
      // Read from Redis, not counted from events: a dead or frozen worker never reports its end.
      this.running = await this.store.inFlightCount();
      const ready = await this.store.readyChannels(500);
      for (const key of ready) this.kick(key);
      const before = (await this.store.redisNow()) - this.reconcileMs;
      const limit = this.reconcileBatch;
      const page = await this.store.inFlightBefore(before, limit, this.reconcileFrom);
      // Walk on next time: with more than `limit` healthy batches in flight, always reading the oldest
      // ones would never reach a newer orphan.
      this.reconcileFrom = nextPageFrom(page, limit, this.reconcileFrom);
      for (const b of page) {
        const job = await this.dispatcher.queue.getJob(jobIdFor(b.batchId));
        if (job) {
          // A job BullMQ itself gave up on (e.g. its worker could not reach Redis to record an attempt)
          // would hold the channel forever: replace it. Our own final failures never leave one in flight.
          if ((await job.getState()) !== 'failed') continue;
          await job.remove();
          this.logger.warn({ channelKey: b.channelKey, batchId: b.batchId }, 'batch in flight whose job failed outside the processor: dispatching it again');
        } else {
          this.logger.warn({ channelKey: b.channelKey, batchId: b.batchId, enqueued: b.enqueued }, 'batch in flight without a job: dispatching it again');
        }
        await this.dispatcher.send(b.channelKey, b.batchId);
      }
    } catch (err) {
      this.logger.warn({ err }, 'reconcile pass failed');
    }
  }

  // ── operator actions ──────────────────────────────────────────────────────

  async cancelCurrent(channelKey: string): Promise<boolean> {
    return this.cancelInFlight(channelKey, 'cancel');
  }

  private async cancelInFlight(channelKey: string, reason: 'cancel' | 'stop'): Promise<boolean> {
    const batchId = await this.store.inFlightId(channelKey);
    if (batchId === null) return false;
    const stats = await this.store.stats(channelKey);
    const result = await this.store.finish(channelKey, batchId, 'cancelled');
    if (!result.current) return false;
    // The fence already stops the worker from replying or ACKing; the message aborts its signal now.
    await this.control.publish({ type: 'cancel', channelKey, batchId, reason });
    const startedAt = stats?.inFlight?.startedAt ?? Date.now();
    this.emit({ type: QueueEventType.Cancelled, channelKey, at: Date.now(), batchId, size: stats?.inFlight?.size ?? 0, durationMs: Math.max(0, Date.now() - startedAt), reason });
    if (result.nextSeq !== null) this.kick(channelKey);
    return true;
  }

  stop(channelKey: string): Promise<{ paused: boolean; cancelled: boolean }> {
    return this.intake.stop(channelKey);
  }

  resume(channelKey: string): Promise<{ paused: boolean }> {
    return this.intake.resume(channelKey);
  }

  async startProcessing(channelKey?: string): Promise<void> {
    if (channelKey !== undefined) {
      await this.resume(channelKey);
      return;
    }
    this.dispatching = true;
    const held = [...this.heldKicks];
    this.heldKicks.clear();
    for (const key of held) this.kick(key);
  }

  pauseDispatch(): void {
    this.dispatching = false;
  }

  async flush(channelKey: string): Promise<boolean> {
    const sealed = await this.store.seal(channelKey, 'admin');
    if (sealed) this.onSealed([sealed]);
    return sealed !== null;
  }

  /** Deadlines are on Redis's clock; the answer is on this process's. */
  async hold(channelKey: string, holdMs: number, reason: HoldReason): Promise<HoldResult> {
    return this.held(await this.store.hold(channelKey, holdMs, undefined, reason));
  }

  /** The author check and the hold are one script: another gateway's append or seal cannot come between. */
  async typing(channelKey: string, userId: string): Promise<HoldResult> {
    const deadline = await this.store.typing(channelKey, userId);
    this.typingCounts.signals++;
    if (deadline !== null) this.typingCounts.held++;
    return this.held(deadline);
  }

  private held(deadline: number | null): HoldResult {
    return deadline === null ? { held: false } : { held: true, deadline: this.flusher.toLocalTime(deadline) };
  }

  async clear(channelKey: string): Promise<number> {
    return this.store.clear(channelKey);
  }

  edit(channelKey: string, messageId: string, text: string, author?: EditAuthor): Promise<ChangeOutcome> {
    return this.change(channelKey, messageId, { text, ...author });
  }

  remove(channelKey: string, messageId: string): Promise<ChangeOutcome> {
    return this.change(channelKey, messageId, null);
  }

  /**
   * The change script decides; an in-flight batch it changed (interrupt mode) is then interrupted like a
   * newer batch would, and its worker told to abort with reason `edit`.
   */
  private async change(channelKey: string, messageId: string, edit: MessageEdit | null): Promise<ChangeOutcome> {
    const result = await this.store.change(channelKey, messageId, edit);
    if (result.abort === true && result.batchId !== undefined) {
      try {
        const batchId = result.batchId;
        const stats = await this.store.stats(channelKey);
        const ended = await this.store.interrupt(channelKey, batchId);
        if (ended.current) {
          await this.control.publish({ type: 'cancel', channelKey, batchId, reason: 'edit' });
          // As cancelInFlight: the gateway that ended the batch reports it (the worker's abort reports nothing).
          const startedAt = stats?.inFlight?.startedAt ?? Date.now();
          this.emit({ type: QueueEventType.Cancelled, channelKey, at: Date.now(), batchId, size: stats?.inFlight?.size ?? 0, durationMs: Math.max(0, Date.now() - startedAt), reason: 'edit' });
        }
      } catch (err) {
        this.logger.warn({ err, channelKey }, 're-running an edited batch failed; the batch in flight runs on');
      }
      this.kick(channelKey);
    }
    if (result.sealed !== undefined) this.onSealed([result.sealed]);
    return { applied: result.applied };
  }

  // ── settings and reading ──────────────────────────────────────────────────

  getSettings(channelKey: string): Promise<SettingsView> {
    return this.intake.getSettings(channelKey);
  }

  setSettings(channelKey: string, input: unknown): Promise<SettingsView> {
    return this.intake.setSettings(channelKey, input);
  }

  deleteSettings(channelKey: string): Promise<SettingsView> {
    return this.intake.deleteSettings(channelKey);
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    return this.store.deadLetters(limit);
  }

  async stats(channelKey: string): Promise<ChannelStats | null> {
    return this.store.stats(channelKey);
  }

  async list(): Promise<ChannelStats[]> {
    return this.store.list();
  }

  /** `running`: batches in flight cluster-wide, as of the last reconcile pass (every `reconcileMs`). */
  totals(): QueueTotals {
    return { repliesDropped: this.repliesDropped, running: this.running, waitingForSlot: 0, maxConcurrentBatches: this.maxConcurrentBatches, typing: { ...this.typingCounts } };
  }

  // ── shutdown ──────────────────────────────────────────────────────────────

  /**
   * Distributed shutdown leaves the state in Redis: open windows stay open for another gateway's
   * flusher, queued batches stay queued, running ones finish on their workers. Nothing to spool.
   */
  async drain(): Promise<DrainResult> {
    this.closing = true;
    await this.stopTimers();
    return { drained: 0, waiting: [] };
  }

  private async stopTimers(): Promise<void> {
    if (this.reconcileTimer !== null) clearInterval(this.reconcileTimer);
    this.reconcileTimer = null;
    await this.flusher.stop();
    await this.reconciling;
  }

  /** Stops following the control channel and the timers; idempotent, and each step runs even if one fails. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      await runCloseSteps(this.logger, [
        ['control', this.offControl],
        ['timers', () => this.stopTimers()],
      ]);
    })();
    return this.closed;
  }
}


/**
 * Where the reconciler's next page starts. A short page means the walk reached the end: start over at the
 * oldest. A full page goes on from its last start time (inclusive, so batches sharing that ms are not
 * skipped), or past it when the whole page shares one ms, so the walk cannot stall on it.
 */
export function nextPageFrom(page: ReadonlyArray<{ startedAt: number }>, limit: number, from: number | undefined): number | undefined {
  if (page.length < limit) return undefined;
  const last = page.at(-1)!.startedAt;
  return last === from ? last + 1 : last;
}
