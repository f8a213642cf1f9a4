import type { Logger } from 'pino';
import type { Processor } from '../processors/processor.js';
import { BatchRun, type RunOutcome, type RunPort } from './batch-run.js';
import type { ChannelStats, FinishResult, TakenBatch } from './batch-store.js';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from './clock.js';
import { QueueEventHub, type BatchingEngine, type DrainResult, type EnqueueResult, type HoldReason, type HoldResult, type QueueTotals, type SettingsView } from './engine.js';
import { runCloseSteps } from './close-steps.js';
import { Intake } from './intake.js';
import { QueueEventType, type QueueEvent } from './events.js';
import { InMemoryBatchStore, type LocalSealResult } from './memory-batch-store.js';
import { ChannelSlot, ReadyQueue } from './ready-queue.js';
import type { MessageBatch, OutboundMessage } from './model.js';
import { SettingsPolicy } from './policy.js';
import { SharedTimeouts } from './shared-timeouts.js';
import { FailedBatches, type DeadLetter } from './failed-batches.js';
import type { DurableChannel, Journal } from './journal.js';

/** Batch starts and settles between two looks at the deadline heap while the event loop is kept busy. */
const BUSY_SEAL_CHECK_EVERY = 64;
/** Batches one pump starts before it yields to the event loop (and to the deadline timer). */
const PUMP_CHUNK = 1_000;

// The result types belong to the engine contract; re-exported here, where the package has always exported them.
export type { DrainResult, EnqueueResult, QueueTotals } from './engine.js';

/** A batch running in this process: its owner is the channel's slot. */
type QueueRun = BatchRun<ChannelSlot>;

export interface MessageQueueOptions {
  /** The bot. Gets each batch with an AbortSignal and a reply function. */
  processor: Processor;
  /** Where replies go (the gateway publishes them on the bus). Awaited before `ctx.reply` resolves. */
  onReply: (reply: OutboundMessage, batch: MessageBatch) => void | Promise<void>;
  /** Asked by `ctx.typing()`. */
  onTyping?: (channelKey: string) => void | Promise<void>;
  policy?: SettingsPolicy;
  clock?: Clock;
  scheduler?: Scheduler;
  /** Gateway-wide cap on batches running at once. @defaultValue 32 */
  maxConcurrentBatches?: number;
  /** @defaultValue 0.75 */
  queueWarnRatio?: number;
  logger?: Logger;
  /** Windows sealed per timer turn before yielding to the event loop. @defaultValue 5000 */
  sealChunk?: number;
  /** Messages of failed batches kept for {@link MessageQueue.deadLetters} (oldest forgotten first). @defaultValue 1000 */
  keepFailedMessages?: number;
  /**
   * Embedded mode's crash journal: told every durable store step; an acceptance is answered only once
   * the journal says the message is durable. @defaultValue none (nothing survives a crash)
   */
  journal?: Journal;
}

/**
 * Per-channel batching engine (semantics in docs/ARCHITECTURE.md): coalesces bursts into batches, keeps strict order, runs at most
 * one batch per channel and at most `maxConcurrentBatches` overall, and lets operators cancel, stop,
 * resume, clear and insert at the front.
 *
 * State lives in a {@link BatchStore}; this class owns only what belongs to the process: the single
 * deadline timer, the worker pool, running processors and their abort controllers.
 */
export class MessageQueue implements BatchingEngine {
  private readonly store: InMemoryBatchStore;
  private readonly processor: Processor;
  private readonly onReply: MessageQueueOptions['onReply'];
  private readonly onTyping: MessageQueueOptions['onTyping'];
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger | undefined;
  private readonly sealChunk: number;
  private opsSinceSealCheck = 0;
  /** Windows that may still seal inline before the timer turn resets it (see sealWhileBusy). */
  private inlineSealBudget = 0;
  private readonly events: QueueEventHub;
  /** What every run of this queue asks of it (one object for all runs). */
  private readonly runPort: RunPort<ChannelSlot>;
  /** Channels with a dispatchable batch, ordered by the seal order of their queue head. */
  private readonly ready = new ReadyQueue();
  private maxConcurrent: number;
  private running = 0;
  private dispatching = true;
  private closing = false;
  private closed: Promise<void> | null = null;
  private timer: TimerHandle | null = null;
  /** Set while a pump that started a full chunk waits for the next loop turn to go on. */
  private pumpTimer: TimerHandle | null = null;
  private timerAt = Infinity;
  private repliesDropped = 0;
  private idleWaiters: Array<() => void> = [];
  private drainedMessages = 0;
  /** Failed batches, so a bot's failure never makes messages vanish without a trace (GET /api/v1/dead-letters). */
  private readonly failed: FailedBatches;
  /** Intake, settings and stop: the path both engines share. */
  private readonly intake: Intake<LocalSealResult>;
  readonly policy: SettingsPolicy;

  constructor(options: MessageQueueOptions) {
    this.processor = options.processor;
    this.onReply = options.onReply;
    this.onTyping = options.onTyping;
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.logger = options.logger;
    this.maxConcurrent = options.maxConcurrentBatches ?? 32;
    this.sealChunk = options.sealChunk ?? 5_000;
    this.failed = new FailedBatches(options.keepFailedMessages ?? 1_000);
    this.policy = options.policy ?? new SettingsPolicy();
    this.events = new QueueEventHub(this.logger);
    // Processing timeouts of running batches: one timer per distinct `processingTimeoutMs`, not per run.
    const timeouts = new SharedTimeouts<QueueRun>(this.clock, this.scheduler, (run) => void run.abort('timeout'));
    const emit = (event: QueueEvent) => this.events.emit(event);
    const listening = () => this.events.listening;
    this.runPort = {
      clock: this.clock,
      scheduler: this.scheduler,
      timeouts,
      logger: this.logger,
      listening,
      emit: (event) => {
        if (event.type === QueueEventType.ReplyDropped) this.repliesDropped++;
        this.events.emit(event);
      },
      deliver: (run, reply) => this.onReply(reply, run.batch),
      typing: (run) => this.onTyping?.(run.key),
      onEnd: (run, outcome) => this.onRunEnd(run, outcome),
    };
    const journal = options.journal;
    this.store = new InMemoryBatchStore({ policy: this.policy, emit, listening, queueWarnRatio: options.queueWarnRatio, journal });
    this.intake = new Intake<LocalSealResult>({
      store: this.store,
      clock: this.clock,
      closing: () => this.closing,
      arm: (deadline) => this.arm(deadline),
      sealed: (sealed) => this.onSealed(sealed),
      frontInserted: (sealed) => this.markReadyUnlessRunning(sealed.slot, sealed.headSeq),
      resumed: (channelKey, nextSeq) => {
        const slot = this.store.slotOf(channelKey);
        if (slot !== undefined) this.markReadyUnlessRunning(slot, nextSeq);
      },
      cancelInFlight: (channelKey, why) => this.runOf(channelKey)?.abort(why) ?? false,
      ...(journal !== undefined ? { durable: <T>(value: T) => journal.whenDurable(value) } : {}),
      logger: this.logger,
    });
  }

  // ── events ────────────────────────────────────────────────────────────────

  /** Subscribes to the event stream; returns the unsubscribe. */
  on(listener: (event: QueueEvent) => void): () => void {
    return this.events.on(listener);
  }

  // ── intake ────────────────────────────────────────────────────────────────

  /**
   * Adds a message to its channel's open batch. Bad input throws an InvalidMessageError naming the field;
   * a full queue (overflow `reject`) or a closing gateway resolves `accepted: false`.
   */
  enqueue(input: unknown): Promise<EnqueueResult> {
    return this.intake.enqueue(input);
  }

  /** Puts a message or a batch ahead of everything waiting in its channel (not ahead of the one in flight). */
  enqueueFront(item: MessageBatch | unknown): Promise<EnqueueResult> {
    return this.intake.enqueueFront(item);
  }

  /** Spool replay: sealed batches go to the back of their channels' queues, in the given order. */
  async restore(batches: MessageBatch[]): Promise<void> {
    const sealed = this.store.restore(batches, this.clock.now());
    for (const s of sealed) this.markReadyUnlessRunning(s.slot, s.headSeq);
  }

  /** Installs channels recovered from the journal: paused stay paused, queued batches wait to run, open windows re-arm. */
  recover(channels: DurableChannel[]): void {
    const sealed = this.store.load(channels, this.clock.now());
    for (const s of sealed) this.markReadyUnlessRunning(s.slot, s.headSeq);
    const next = this.store.nextDeadline();
    if (next !== null) this.arm(next);
  }

  // ── the one deadline timer ──────────────────────────────────────────────

  /** Arms the single timer for `deadline` if it is earlier than the one armed. */
  private arm(deadline: number): void {
    if (deadline >= this.timerAt) return;
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timerAt = deadline;
    const delay = Math.max(0, Math.ceil(deadline - this.clock.now()));
    this.timer = this.scheduler.setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    this.inlineSealBudget = this.sealChunk;
    const now = this.clock.now();
    try {
      const sealed = this.store.sealDue(now, this.sealChunk);
      // Seal every due window of this turn before starting any batch: sealing is cheap, starting runs
      // processors, and a window's flush time is when it seals.
      for (const s of sealed) this.onSealed(s, false);
      const next = this.store.nextDeadline();
      // More already due (a full chunk): yield to the event loop and keep sealing before starting
      // batches, so a burst of windows is not held back by the processors of its first chunks.
      if (next === null || next > now) this.pump();
      if (next !== null) this.arm(next);
    } catch (err) {
      this.logger?.error({ err }, 'sealing due windows failed; retrying');
      this.arm(now + 100);
    }
  }

  /**
   * A long run of batch starts (a pump after a burst sealed) or of settles (their microtasks) keeps the
   * event loop, and so the deadline timer, from running: windows falling due meanwhile would seal late,
   * and a window's flush time is when it seals. So every BUSY_SEAL_CHECK_EVERY starts or settles, when a
   * deadline has passed, due windows seal right here. Their batches are
   * marked ready behind those already waiting: oldest seal still starts first. At most one chunk seals
   * this way per timer turn, so a chain of settles that seals and starts more batches cannot hold the
   * event loop for a whole burst: it drains, the loop turns, and the timer resets the budget.
   */
  private sealWhileBusy(): void {
    if (++this.opsSinceSealCheck < BUSY_SEAL_CHECK_EVERY) return;
    this.opsSinceSealCheck = 0;
    if (this.inlineSealBudget <= 0) return;
    const next = this.store.nextDeadline();
    const now = this.clock.now();
    if (next === null || next > now) return;
    const sealed = this.store.sealDue(now, this.inlineSealBudget);
    this.inlineSealBudget -= sealed.length;
    for (const s of sealed) this.onSealed(s, false);
    this.disarmIfNoDeadline();
  }

  /**
   * Windows that close outside the timer (sealed inline, cleared, disarmed) leave it armed for a deadline
   * that is gone; with none left it is cleared, so an idle queue holds no timer.
   */
  private disarmIfNoDeadline(): void {
    if (this.timer === null || this.store.nextDeadline() !== null) return;
    this.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  // ── dispatch and the worker pool ────────────────────────────────────────

  private onSealed(sealed: LocalSealResult, pump = true): void {
    const run = sealed.slot.run;
    if (run !== null && sealed.mode === 'interrupt') {
      run.abort('interrupt');
      return;
    }
    this.markReadyUnlessRunning(sealed.slot, sealed.headSeq, pump);
  }

  private markReadyUnlessRunning(slot: ChannelSlot, seq: number, pump = true): void {
    // A channel with a batch in flight is re-queued by that batch's finish, never before.
    if (slot.run !== null) return;
    this.markReady(slot, seq, pump);
  }

  private markReady(slot: ChannelSlot, seq: number, pump = true): void {
    if (!this.ready.mark(slot, seq)) return;
    if (pump) this.pump();
  }

  private runOf(key: string): QueueRun | undefined {
    return this.store.slotOf(key)?.run ?? undefined;
  }

  /** Starts batches while slots are free, oldest seal first. */
  private pump(): void {
    if (this.pumpTimer !== null) return; // a continuation is already waiting for its turn
    let started = 0;
    while (this.dispatching && this.running < this.maxConcurrent && this.ready.size > 0) {
      if (started === PUMP_CHUNK) {
        // A burst that became ready at once starts over several loop turns, so windows falling due
        // meanwhile seal on time (the timer gets its turn) and I/O is not held back by one long run.
        this.pumpTimer = this.scheduler.setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, 0);
        return;
      }
      this.sealWhileBusy();
      const slot = this.ready.next();
      if (slot === undefined) break;
      this.running++;
      started++;
      this.startNext(slot);
    }
    this.checkIdle();
  }

  private startNext(slot: ChannelSlot): void {
    const now = this.clock.now();
    let taken: TakenBatch | null = null;
    try {
      taken = this.store.take(slot.key, now, slot);
    } catch (err) {
      this.logger?.error({ err, channelKey: slot.key }, 'taking the next batch failed');
    }
    if (taken === null) {
      this.running--;
      this.pump();
      return;
    }
    // A record whose channel left memory and came back meanwhile hands over to the live one.
    this.startRun(slot.live ? slot : this.store.slotOf(slot.key)!, taken, now);
  }

  private startRun(slot: ChannelSlot, taken: TakenBatch, now: number): void {
    const run = new BatchRun(this.runPort, slot, taken, now);
    slot.run = run;
    run.start(this.processor);
  }

  /**
   * A run ended (its processor settled, or it was aborted: cancel, stop, interrupt, timeout, shutdown).
   * An aborted run releases its slot and its channel at once: a processor that ignores its signal can no
   * longer reply (ctx.reply checks the run) and must not hold the channel hostage.
   */
  private onRunEnd(run: QueueRun, outcome: RunOutcome): void {
    const slot = run.owner;
    if (slot.run === run) slot.run = null;
    const now = this.clock.now();
    let result: FinishResult;
    try {
      result = this.endInStore(run, outcome, now);
    } catch (err) {
      this.logger?.error({ err }, 'store step failed after a batch ended');
      result = { current: false, nextSeq: null };
    }
    const { batch, key } = run;
    if (run.abortedBy === null) {
      this.sealWhileBusy();
      if (this.closing) this.drainedMessages += batch.size;
    }
    if (outcome.status === 'failed') {
      if (outcome.timeout) this.logger?.warn({ channelKey: key, batchId: batch.id, timeoutMs: run.settings.processingTimeoutMs }, 'processor timed out; the channel moves on');
      else this.logger?.warn({ err: outcome.cause, channelKey: key, batchId: batch.id }, 'processor failed; the channel moves on');
      this.failed.add(batch, outcome.error, now);
    }
    run.report(outcome, now);
    this.continueChannel(run, result);
  }

  /** The store step that takes an ended run's batch out of flight. */
  private endInStore(run: QueueRun, outcome: RunOutcome, now: number): FinishResult {
    const { key, batch, owner } = run;
    switch (outcome.status) {
      case 'processed':
        return this.store.finish(key, batch.id, 'processed', now, owner);
      case 'failed':
        return this.store.finish(key, batch.id, 'failed', now, owner);
      case 'aborted':
        if (outcome.why === 'interrupt') return this.store.interrupt(key, batch.id, now);
        if (outcome.why === 'shutdown') return this.store.release(key, batch.id, now);
        return this.store.finish(key, batch.id, 'cancelled', now, owner);
    }
  }

  /** Frees the run's worker slot and marks its channel ready when it has a next batch. */
  private continueChannel(run: QueueRun, result: FinishResult): void {
    this.running--;
    if (result.nextSeq === null) {
      this.pump();
      return;
    }
    // The channel has work left, so the store still holds it; its record is the run's unless it was replaced.
    const slot = run.owner.live ? run.owner : this.store.slotOf(run.key);
    // Marked even while dispatch is paused: pump() checks `dispatching`, and startProcessing() pumps.
    if (slot !== undefined) this.markReady(slot, result.nextSeq);
    else this.pump();
  }

  // ── operator actions ────────────────────────────────────────────────────

  /** Aborts the channel's in-flight batch; its messages are recorded as cancelled. */
  async cancelCurrent(channelKey: string): Promise<boolean> {
    return this.intake.durable(this.runOf(channelKey)?.abort('cancel') ?? false);
  }

  /** Cancel + pause: nothing is dispatched until resume; new messages keep collecting. */
  stop(channelKey: string): Promise<{ paused: boolean; cancelled: boolean }> {
    return this.intake.stop(channelKey);
  }

  /** Seed name for {@link stop}. */
  stopProcessing(channelKey: string): Promise<{ paused: boolean; cancelled: boolean }> {
    return this.stop(channelKey);
  }

  resume(channelKey: string): Promise<{ paused: boolean }> {
    return this.intake.resume(channelKey);
  }

  /** Seed name: with a key, resumes that channel; without, resumes dispatching gateway-wide. */
  async startProcessing(channelKey?: string): Promise<void> {
    if (channelKey !== undefined) {
      await this.resume(channelKey);
      return;
    }
    this.dispatching = true;
    this.pump();
  }

  /** Stops dispatching gateway-wide (windows keep sealing); running batches finish. */
  pauseDispatch(): void {
    this.dispatching = false;
  }

  /** Disarms the open batch's flush deadline; its messages stay pending until the next message or a flush. */
  async cancelBatchTimer(channelKey: string): Promise<boolean> {
    const disarmed = this.store.disarm(channelKey);
    this.disarmIfNoDeadline();
    return disarmed;
  }

  /** Seals the channel's open batch now. */
  async flush(channelKey: string): Promise<boolean> {
    const sealed = await this.store.seal(channelKey, 'admin', this.clock.now());
    if (sealed) this.onSealed(sealed);
    return sealed !== null;
  }

  /** Keeps the channel's open batch open for at least `holdMs` more (capped by maxWaitMs); never opens one. */
  async hold(channelKey: string, holdMs: number, reason: HoldReason): Promise<HoldResult> {
    const deadline = this.store.hold(channelKey, holdMs, this.clock.now());
    if (deadline === null) return { held: false };
    this.logger?.debug({ channelKey, reason, deadline }, 'open batch held');
    return { held: true, deadline };
  }

  /** Discards the open batch and the queued batches (not the one in flight); returns messages removed. */
  async clear(channelKey: string): Promise<number> {
    const removed = this.store.clear(channelKey, this.clock.now());
    this.disarmIfNoDeadline();
    return this.intake.durable(removed);
  }

  // ── settings ────────────────────────────────────────────────────────────

  getSettings(channelKey: string): Promise<SettingsView> {
    return this.intake.getSettings(channelKey);
  }

  /** Validates and merges a partial override; throws InvalidSettingsError naming each failing field. */
  setSettings(channelKey: string, input: unknown): Promise<SettingsView> {
    return this.intake.setSettings(channelKey, input);
  }

  deleteSettings(channelKey: string): Promise<SettingsView> {
    return this.intake.deleteSettings(channelKey);
  }

  // ── reading ─────────────────────────────────────────────────────────────

  /** The latest failed batches (processor threw, rejected or timed out), newest first. */
  async deadLetters(limit: number): Promise<DeadLetter[]> {
    return this.failed.newest(limit);
  }

  async stats(channelKey: string): Promise<ChannelStats | null> {
    return this.store.stats(channelKey);
  }

  async list(): Promise<ChannelStats[]> {
    return this.store.list();
  }

  /** True while a batch of the channel runs in this process. */
  isChannelProcessing(channelKey: string): boolean {
    return this.runOf(channelKey) !== undefined;
  }

  /** Sealed batches waiting behind the in-flight one. */
  async queueSize(channelKey: string): Promise<number> {
    return (await this.store.stats(channelKey))?.queuedBatches ?? 0;
  }

  totals(): QueueTotals {
    return { repliesDropped: this.repliesDropped, running: this.running, waitingForSlot: this.ready.size, maxConcurrentBatches: this.maxConcurrent };
  }

  /** Channels holding state right now (idle ones are evicted). */
  activeChannels(): number {
    return this.store.activeChannels();
  }

  /** True while the queue has an armed deadline timer. */
  get timerArmed(): boolean {
    return this.timer !== null;
  }

  // ── shutdown ────────────────────────────────────────────────────────────

  private runningRuns(): QueueRun[] {
    const runs: QueueRun[] = [];
    for (const slot of this.store.slots()) if (slot.run !== null) runs.push(slot.run);
    return runs;
  }

  private checkIdle(): void {
    if (this.running > 0 || this.ready.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing runs and nothing waits for a slot. */
  whenIdle(): Promise<void> {
    if (this.running === 0 && this.ready.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Shutdown: refuse new messages, flush every open window at once, let batches run for up to
   * `timeoutMs`, then abort what still runs and hand back everything that did not run, for the spool.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.closing = true;
    this.drainedMessages = 0;
    const sealed = await this.store.sealAll('shutdown', this.clock.now());
    for (const s of sealed) this.markReadyUnlessRunning(s.slot, s.headSeq);
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    let timer: TimerHandle | null = null;
    const timedOut = await Promise.race([
      this.whenIdle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = this.scheduler.setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    if (timer !== null) this.scheduler.clearTimeout(timer);
    this.dispatching = false;
    if (timedOut) {
      const runs = this.runningRuns();
      this.logger?.warn({ running: runs.length, timeoutMs }, 'shutdown timeout: aborting batches still running');
      for (const run of runs) run.abort('shutdown');
    }
    const waiting = await this.store.drainWaiting();
    return { drained: this.drainedMessages, waiting };
  }

  /**
   * Stops the timers, aborts what still runs (back to the head of its queue) and closes the store. Call
   * after {@link drain}. Idempotent; a step that fails is logged and the rest still run.
   */
  close(): Promise<void> {
    this.closed ??= runCloseSteps(this.logger, [
      ['stop dispatching', () => this.stopTimers()],
      ['abort running batches', () => {
        for (const run of this.runningRuns()) run.abort('shutdown');
      }],
      ['close the store', () => this.store.close()],
    ]);
    return this.closed;
  }

  private stopTimers(): void {
    this.closing = true;
    this.dispatching = false;
    if (this.timer !== null) this.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (this.pumpTimer !== null) this.scheduler.clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
  }
}
