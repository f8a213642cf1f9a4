import type { Scheduler, TimerHandle } from './clock.js';
import { ReadyQueue, type ChannelSlot } from './ready-queue.js';

/** Batches one pump starts before it yields to the event loop (and to the deadline timer). */
const PUMP_CHUNK = 1_000;

export interface WorkerPoolOptions {
  /** Cap on batches running at once. */
  maxConcurrent: number;
  scheduler: Scheduler;
  /** Called before each start (the deadline timer's look at windows due while the loop is busy). */
  beforeStart(): void;
  /** Starts the channel's next batch in a slot taken for it; false when it had none to start (the slot is freed). */
  start(slot: ChannelSlot): boolean;
}

/**
 * The embedded engine's worker pool: channels with a dispatchable batch wait in a {@link ReadyQueue}
 * (oldest seal first), and at most `maxConcurrent` run at once. A burst that became ready at once starts
 * over several loop turns (chunks of PUMP_CHUNK), so windows falling due meanwhile seal on time and I/O is
 * not held back by one long run of starts.
 */
export class WorkerPool {
  private readonly options: WorkerPoolOptions;
  private readonly ready = new ReadyQueue();
  /** Batches running now. */
  running = 0;
  /** False while dispatch is paused gateway-wide (windows keep sealing). */
  dispatching = true;
  /** Set while a pump that started a full chunk waits for the next loop turn to go on. */
  private pumpTimer: TimerHandle | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(options: WorkerPoolOptions) {
    this.options = options;
  }

  get maxConcurrent(): number {
    return this.options.maxConcurrent;
  }

  /** Channels waiting for a slot. */
  get waiting(): number {
    return this.ready.size;
  }

  /** Marks a channel ready unless a batch of it runs (that batch's end marks it, never before). */
  markReadyUnlessRunning(slot: ChannelSlot, seq: number, pump = true): void {
    if (slot.run !== null) return;
    this.markReady(slot, seq, pump);
  }

  markReady(slot: ChannelSlot, seq: number, pump = true): void {
    if (!this.ready.mark(slot, seq)) return;
    if (pump) this.pump();
  }

  /** A run ended: its slot is free. */
  release(): void {
    this.running--;
  }

  /** Starts batches while slots are free, oldest seal first. */
  pump(): void {
    if (this.pumpTimer !== null) return; // a continuation is already waiting for its turn
    const { options } = this;
    let started = 0;
    while (this.dispatching && this.running < options.maxConcurrent && this.ready.size > 0) {
      if (started === PUMP_CHUNK) {
        this.pumpTimer = options.scheduler.setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, 0);
        return;
      }
      options.beforeStart();
      const slot = this.ready.next();
      if (slot === undefined) break;
      this.running++;
      started++;
      if (!options.start(slot)) this.running--;
    }
    this.checkIdle();
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

  /** Stops dispatching and clears a waiting continuation (shutdown). */
  stop(): void {
    this.dispatching = false;
    if (this.pumpTimer !== null) this.options.scheduler.clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
  }
}
