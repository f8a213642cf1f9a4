import type { Logger } from 'pino';
import type { SealResult } from '../core/batch-store.js';
import type { DistributedBatchStore } from './store-steps.js';

/** How often the Redis-clock offset is measured again. */
const CLOCK_SYNC_MS = 5_000;

export interface FlusherOptions {
  store: DistributedBatchStore;
  /** Sealed windows go here (the dispatcher kicks their channels). */
  onSealed: (sealed: SealResult[]) => void;
  /** Safety poll for deadlines this gateway never heard of (armed by a gateway that died). */
  pollMs: number;
  logger: Logger;
  /** Windows sealed per script call. @defaultValue 500 */
  chunk?: number;
}

/**
 * Seals due windows in Redis. One timer at the earliest deadline this gateway knows (from its appends and
 * from the store), plus a slow safety poll. Deadlines are on Redis's clock: the local timer only decides
 * when to ask; the SEAL script decides whether a window is due, so an early or duplicate wake-up (or a
 * race with another gateway) never seals early or twice.
 */
export class Flusher {
  private readonly store: DistributedBatchStore;
  private readonly onSealed: FlusherOptions['onSealed'];
  private readonly pollMs: number;
  private readonly logger: Logger;
  private readonly chunk: number;
  /** Redis time minus local time, refreshed every {@link CLOCK_SYNC_MS}. */
  private offsetMs = 0;
  private syncedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | null = null;
  private sealing: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(options: FlusherOptions) {
    this.store = options.store;
    this.onSealed = options.onSealed;
    this.pollMs = options.pollMs;
    this.logger = options.logger;
    this.chunk = options.chunk ?? 500;
  }

  async start(): Promise<void> {
    await this.syncClock();
    this.poll = setInterval(() => {
      // The offset only drifts slowly: one TIME every few seconds, not one per poll.
      if (Date.now() - this.syncedAt >= CLOCK_SYNC_MS) void this.syncClock().catch(() => undefined);
      this.wake();
    }, this.pollMs);
    this.poll.unref();
    this.wake();
  }

  private async syncClock(): Promise<void> {
    const before = Date.now();
    const redis = await this.store.redisNow();
    const after = Date.now();
    this.offsetMs = redis - (before + after) / 2;
    this.syncedAt = after;
  }

  /** A Redis-clock time on this process's clock (for countdowns shown to users). */
  toLocalTime(redisMs: number): number {
    return Math.round(redisMs - this.offsetMs);
  }

  /** Arms the timer for a deadline (Redis ms) if it is earlier than the one armed. */
  arm(deadline: number): void {
    if (this.stopped || !(deadline < this.timerAt)) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = deadline;
    // +1: setTimeout truncates to whole ms, and Redis's TIME has µs; waking a hair late saves a re-arm.
    const delay = Math.max(0, Math.ceil(deadline - (Date.now() + this.offsetMs)) + 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.wake();
    }, delay);
  }

  /** Seals what is due now; overlapping wake-ups fold into one more pass. */
  wake(): void {
    if (this.stopped) return;
    if (this.sealing !== null) {
      this.again = true;
      return;
    }
    this.sealing = this.sealDue()
      .catch((err: unknown) => this.logger.warn({ err }, 'sealing due windows failed; the poll retries'))
      .finally(() => {
        this.sealing = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async sealDue(): Promise<void> {
    let sealedAny = false;
    for (;;) {
      // No time of ours: the SEAL script reads Redis TIME.
      const sealed = await this.store.sealDue(undefined, this.chunk);
      if (sealed.length > 0) {
        sealedAny = true;
        this.onSealed(sealed);
      }
      if (sealed.length < this.chunk) break;
    }
    const next = await this.store.nextDeadline();
    // A deadline still due after a pass that sealed nothing is left to the poll, not a hot loop.
    if (next !== null && (sealedAny || next > Date.now() + this.offsetMs)) this.arm(next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.poll !== null) clearInterval(this.poll);
    this.timer = null;
    this.poll = null;
    await this.sealing;
  }
}
