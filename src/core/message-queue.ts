import type { Logger } from 'pino';
import type { Processor } from '../processors/processor.js';
import { BatchRun, type RunOutcome, type RunPort } from './batch-run.js';
import type { ChannelStats, FinishResult, MessageEdit, TakenBatch } from './batch-store.js';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from './clock.js';
import { QueueEventHub, type BatchingEngine, type ChangeOutcome, type DrainResult, type EditAuthor, type EnqueueResult, type HoldReason, type HoldResult, type QueueTotals, type SettingsView } from './engine.js';
import { runCloseSteps } from './close-steps.js';
import { Intake } from './intake.js';
import { QueueEventType, type QueueEvent } from './events.js';
import { InMemoryBatchStore, type LocalSealResult } from './memory-batch-store.js';
import type { ChannelSlot } from './ready-queue.js';
import type { MessageBatch } from './model.js';
import { SettingsPolicy } from './policy.js';
import type { MessageQueueOptions } from './message-queue-options.js';
import { SealTimer } from './seal-timer.js';
import { SharedTimeouts } from './shared-timeouts.js';
import { WorkerPool } from './worker-pool.js';
import { FailedBatches, type DeadLetter } from './failed-batches.js';
import type { DurableChannel } from './journal.js';

// The result types belong to the engine contract; re-exported here, where the package has always exported them.
export type { DrainResult, EnqueueResult, QueueTotals } from './engine.js';
export type { MessageQueueOptions } from './message-queue-options.js';

/** A batch running in this process: its owner is the channel's slot. */
type QueueRun = BatchRun<ChannelSlot>;

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
  /** The one deadline timer, which seals due windows. */
  private readonly sealTimer: SealTimer;
  /** Channels waiting for a slot, and the runs in slots. */
  private readonly pool: WorkerPool;
  private readonly events: QueueEventHub;
  /** What every run of this queue asks of it (one object for all runs). */
  private readonly runPort: RunPort<ChannelSlot>;
  private closing = false;
  private closed: Promise<void> | null = null;
  private repliesDropped = 0;
  private readonly typingCounts = { signals: 0, held: 0 };
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
      steer: (run) => this.store.steer(run.key, run.batch.id, this.clock.now()),
      onEnd: (run, outcome) => this.onRunEnd(run, outcome),
    };
    const journal = options.journal;
    this.store = new InMemoryBatchStore({ policy: this.policy, emit, listening, queueWarnRatio: options.queueWarnRatio, journal });
    this.sealTimer = new SealTimer({
      store: this.store,
      clock: this.clock,
      scheduler: this.scheduler,
      sealChunk: options.sealChunk ?? 5_000,
      logger: this.logger,
      onSealed: (sealed) => this.onSealed(sealed, false),
      afterTurn: () => this.pool.pump(),
    });
    this.pool = new WorkerPool({
      maxConcurrent: options.maxConcurrentBatches ?? 32,
      scheduler: this.scheduler,
      beforeStart: () => this.sealTimer.sealWhileBusy(),
      start: (slot) => this.startNext(slot),
    });
    this.intake = new Intake<LocalSealResult>({
      store: this.store,
      clock: this.clock,
      closing: () => this.closing,
      arm: (deadline) => this.sealTimer.arm(deadline),
      sealed: (sealed) => this.onSealed(sealed),
      frontInserted: (sealed) => this.pool.markReadyUnlessRunning(sealed.slot, sealed.headSeq),
      resumed: (channelKey, nextSeq) => {
        const slot = this.store.slotOf(channelKey);
        if (slot !== undefined) this.pool.markReadyUnlessRunning(slot, nextSeq);
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
    for (const s of sealed) this.pool.markReadyUnlessRunning(s.slot, s.headSeq);
  }

  /** Installs channels recovered from the journal: paused stay paused, queued batches wait to run, open windows re-arm. */
  recover(channels: DurableChannel[]): void {
    const sealed = this.store.load(channels, this.clock.now());
    for (const s of sealed) this.pool.markReadyUnlessRunning(s.slot, s.headSeq);
    const next = this.store.nextDeadline();
    if (next !== null) this.sealTimer.arm(next);
  }

  // ── dispatch and the worker pool ────────────────────────────────────────

  private onSealed(sealed: LocalSealResult, pump = true): void {
    const run = sealed.slot.run;
    if (run !== null && sealed.mode === 'interrupt') {
      run.abort('interrupt');
      return;
    }
    // Steer: the batch waits in the queue (nothing is lost if the run never takes it) and the run hears of it.
    if (run !== null && sealed.mode === 'steer') run.offered();
    this.pool.markReadyUnlessRunning(sealed.slot, sealed.headSeq, pump);
  }

  private runOf(key: string): QueueRun | undefined {
    return this.store.slotOf(key)?.run ?? undefined;
  }

  /** Takes the channel's next batch and runs it; false when the store had none to give. */
  private startNext(slot: ChannelSlot): boolean {
    const now = this.clock.now();
    let taken: TakenBatch | null = null;
    try {
      taken = this.store.take(slot.key, now, slot);
    } catch (err) {
      this.logger?.error({ err, channelKey: slot.key }, 'taking the next batch failed');
    }
    if (taken === null) return false;
    // A record whose channel left memory and came back meanwhile hands over to the live one.
    this.startRun(slot.live ? slot : this.store.slotOf(slot.key)!, taken, now);
    return true;
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
      this.sealTimer.sealWhileBusy();
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
        // An edit re-runs the batch as changed, like an interrupt (the store changed it in place).
        if (outcome.why === 'interrupt' || outcome.why === 'edit') return this.store.interrupt(key, batch.id, now);
        if (outcome.why === 'shutdown') return this.store.release(key, batch.id, now);
        return this.store.finish(key, batch.id, 'cancelled', now, owner);
    }
  }

  /** Frees the run's worker slot and marks its channel ready when it has a next batch. */
  private continueChannel(run: QueueRun, result: FinishResult): void {
    this.pool.release();
    if (result.nextSeq === null) {
      this.pool.pump();
      return;
    }
    // The channel has work left, so the store still holds it; its record is the run's unless it was replaced.
    const slot = run.owner.live ? run.owner : this.store.slotOf(run.key);
    // Marked even while dispatch is paused: pump() checks `dispatching`, and startProcessing() pumps.
    if (slot !== undefined) this.pool.markReady(slot, result.nextSeq);
    else this.pool.pump();
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
    this.pool.dispatching = true;
    this.pool.pump();
  }

  /** Stops dispatching gateway-wide (windows keep sealing); running batches finish. */
  pauseDispatch(): void {
    this.pool.dispatching = false;
  }

  /** Disarms the open batch's flush deadline; its messages stay pending until the next message or a flush. */
  async cancelBatchTimer(channelKey: string): Promise<boolean> {
    const disarmed = this.store.disarm(channelKey);
    this.sealTimer.disarmIfNoDeadline();
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
    const deadline = this.store.hold(channelKey, holdMs, this.clock.now(), reason);
    if (deadline === null) return { held: false };
    this.logger?.debug({ channelKey, reason, deadline }, 'open batch held');
    return { held: true, deadline };
  }

  /** A typing signal: an author of the open batch holds it for `typingHoldMs`; never opens one. */
  async typing(channelKey: string, userId: string): Promise<HoldResult> {
    const deadline = this.store.typing(channelKey, userId, this.clock.now());
    this.typingCounts.signals++;
    if (deadline === null) return { held: false };
    this.typingCounts.held++;
    return { held: true, deadline };
  }

  /** Discards the open batch and the queued batches (not the one in flight); returns messages removed. */
  async clear(channelKey: string): Promise<number> {
    const removed = this.store.clear(channelKey, this.clock.now());
    this.sealTimer.disarmIfNoDeadline();
    return this.intake.durable(removed);
  }

  /** A message changed on its platform (see {@link BatchingEngine.edit}). */
  edit(channelKey: string, messageId: string, text: string, author?: EditAuthor): Promise<ChangeOutcome> {
    return this.change(channelKey, messageId, { text, ...author });
  }

  /** A message was deleted on its platform (see {@link BatchingEngine.remove}). */
  remove(channelKey: string, messageId: string): Promise<ChangeOutcome> {
    return this.change(channelKey, messageId, null);
  }

  private change(channelKey: string, messageId: string, edit: MessageEdit | null): Promise<ChangeOutcome> {
    const result = this.store.change(channelKey, messageId, edit, this.clock.now());
    if (result.abort === true) this.runOf(channelKey)?.abort('edit');
    if (result.sealed !== undefined) this.pool.markReadyUnlessRunning(result.sealed.slot, result.sealed.headSeq);
    // A delete that emptied the open batch leaves no deadline to wake up for.
    if (result.applied === 'pending' && edit === null) this.sealTimer.disarmIfNoDeadline();
    return this.intake.durable({ applied: result.applied });
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
    const { pool } = this;
    return { repliesDropped: this.repliesDropped, running: pool.running, waitingForSlot: pool.waiting, maxConcurrentBatches: pool.maxConcurrent, typing: { ...this.typingCounts } };
  }

  /** Channels holding state right now (idle ones are evicted). */
  activeChannels(): number {
    return this.store.activeChannels();
  }

  /** True while the queue has an armed deadline timer. */
  get timerArmed(): boolean {
    return this.sealTimer.armed;
  }

  // ── shutdown ────────────────────────────────────────────────────────────

  private runningRuns(): QueueRun[] {
    const runs: QueueRun[] = [];
    for (const slot of this.store.slots()) if (slot.run !== null) runs.push(slot.run);
    return runs;
  }

  /** Resolves when nothing runs and nothing waits for a slot. */
  whenIdle(): Promise<void> {
    return this.pool.whenIdle();
  }

  /**
   * Shutdown: refuse new messages, flush every open window at once, let batches run for up to
   * `timeoutMs`, then abort what still runs and hand back everything that did not run, for the spool.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.closing = true;
    this.drainedMessages = 0;
    const sealed = await this.store.sealAll('shutdown', this.clock.now());
    for (const s of sealed) this.pool.markReadyUnlessRunning(s.slot, s.headSeq);
    this.sealTimer.stop();
    let timer: TimerHandle | null = null;
    const timedOut = await Promise.race([
      this.whenIdle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = this.scheduler.setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    if (timer !== null) this.scheduler.clearTimeout(timer);
    this.pool.dispatching = false;
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
    this.pool.stop();
    this.sealTimer.stop();
  }
}
