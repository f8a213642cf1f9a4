import type { Logger } from 'pino';
import type { Clock, Scheduler, TimerHandle } from './clock.js';
import type { LocalSealResult } from './memory-batch-store.js';

/** Batch starts and ends between two looks at the deadline heap while the event loop is kept busy. */
const BUSY_SEAL_CHECK_EVERY = 64;

/** The store steps the timer seals with (the in-memory store's: synchronous). */
export interface SealingStore {
  sealDue(now: number, limit: number): LocalSealResult[];
  nextDeadline(): number | null;
}

export interface SealTimerOptions {
  store: SealingStore;
  clock: Clock;
  scheduler: Scheduler;
  /** Windows sealed per timer turn before yielding to the event loop. */
  sealChunk: number;
  logger: Logger | undefined;
  /** A window the timer sealed: mark its batch ready, start nothing yet. */
  onSealed(sealed: LocalSealResult): void;
  /** A timer turn sealed every window due: start batches. */
  afterTurn(): void;
}

/**
 * The embedded engine's one deadline timer: armed for the earliest open window, it seals due windows in
 * chunks (yielding between chunks) and re-arms for the next. A timer that fires early seals nothing and
 * re-arms, so a window never closes before its deadline.
 */
export class SealTimer {
  private readonly options: SealTimerOptions;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private opsSinceSealCheck = 0;
  /** Windows that may still seal inline before the timer turn resets it (see sealWhileBusy). */
  private inlineSealBudget = 0;

  constructor(options: SealTimerOptions) {
    this.options = options;
  }

  /** True while the timer is armed. */
  get armed(): boolean {
    return this.timer !== null;
  }

  /** Arms the timer for `deadline` if it is earlier than the one armed. */
  arm(deadline: number): void {
    if (deadline >= this.timerAt) return;
    const { scheduler, clock } = this.options;
    if (this.timer !== null) scheduler.clearTimeout(this.timer);
    this.timerAt = deadline;
    const delay = Math.max(0, Math.ceil(deadline - clock.now()));
    this.timer = scheduler.setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const { store, clock, sealChunk } = this.options;
    this.inlineSealBudget = sealChunk;
    const now = clock.now();
    try {
      const sealed = store.sealDue(now, sealChunk);
      // Seal every due window of this turn before starting any batch: sealing is cheap, starting runs
      // processors, and a window's flush time is when it seals.
      for (const s of sealed) this.options.onSealed(s);
      const next = store.nextDeadline();
      // More already due (a full chunk): yield to the event loop and keep sealing before starting
      // batches, so a burst of windows is not held back by the processors of its first chunks.
      if (next === null || next > now) this.options.afterTurn();
      if (next !== null) this.arm(next);
    } catch (err) {
      this.options.logger?.error({ err }, 'sealing due windows failed; retrying');
      this.arm(now + 100);
    }
  }

  /**
   * A long run of batch starts (a pump after a burst sealed) or of ends (their microtasks) keeps the
   * event loop, and so the deadline timer, from running: windows falling due meanwhile would seal late,
   * and a window's flush time is when it seals. So every BUSY_SEAL_CHECK_EVERY starts or ends, when a
   * deadline has passed, due windows seal right here. Their batches are marked ready behind those already
   * waiting: oldest seal still starts first. At most one chunk seals this way per timer turn, so a chain
   * of ends that seals and starts more batches cannot hold the event loop for a whole burst: it
   * drains, the loop turns, and the timer resets the budget.
   */
  sealWhileBusy(): void {
    if (++this.opsSinceSealCheck < BUSY_SEAL_CHECK_EVERY) return;
    this.opsSinceSealCheck = 0;
    if (this.inlineSealBudget <= 0) return;
    const { store, clock } = this.options;
    const next = store.nextDeadline();
    const now = clock.now();
    if (next === null || next > now) return;
    const sealed = store.sealDue(now, this.inlineSealBudget);
    this.inlineSealBudget -= sealed.length;
    for (const s of sealed) this.options.onSealed(s);
    this.disarmIfNoDeadline();
  }

  /**
   * Windows that close outside the timer (sealed inline, cleared, disarmed) leave it armed for a deadline
   * that is gone; with none left it is cleared, so an idle queue holds no timer.
   */
  disarmIfNoDeadline(): void {
    if (this.timer === null || this.options.store.nextDeadline() !== null) return;
    this.stop();
  }

  /** Clears the timer (shutdown). */
  stop(): void {
    if (this.timer !== null) this.options.scheduler.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}
