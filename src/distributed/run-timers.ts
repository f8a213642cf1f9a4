import type { BatchRun, RunTimeouts } from '../core/batch-run.js';
import type { Clock, Scheduler, TimerHandle } from '../core/clock.js';

/**
 * A worker's processing timeouts: one timer per run. A worker runs at most its BullMQ concurrency at
 * once, so the embedded engine's shared timers (one per distinct duration, for many thousands of runs)
 * would buy nothing here. A run past its `processingTimeoutMs` is aborted with `timeout`.
 */
export class RunTimers<Owner> implements RunTimeouts<Owner> {
  private readonly timers = new Map<BatchRun<Owner>, TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {}

  /** Runs being timed. */
  get size(): number {
    return this.timers.size;
  }

  add(run: BatchRun<Owner>, startedAt: number, durationMs: number): void {
    this.remove(run);
    const timer = this.scheduler.setTimeout(() => {
      this.timers.delete(run);
      run.abort('timeout');
    }, startedAt + durationMs - this.clock.now());
    this.timers.set(run, timer);
  }

  remove(run: BatchRun<Owner>): void {
    const timer = this.timers.get(run);
    if (timer === undefined) return;
    this.timers.delete(run);
    this.scheduler.clearTimeout(timer);
  }
}
