import { Fifo } from './fifo.js';

interface Waiter<T> {
  item: T;
  resolve: (queued: boolean) => void;
  /** performance.now() after which the item is dropped. */
  deadline: number;
}

/**
 * Sends waiting for room in a full bounded queue (a consumer's, or a reply chain's), oldest first, each
 * given up after `timeoutMs`.
 * Every waiter has the same timeout, so deadlines rise along the list: admission and expiry both take
 * from the head, and one timer (for the head) serves them all. The timer is not cancelled when the
 * waiters are admitted: it lapses, finds nobody due and stops, so a consumer that fills up many times a
 * second arms one timer per `timeoutMs`, not one per wait.
 */
export class RoomWaiters<T> {
  /** Set when the consumer joins a channel. */
  timeoutMs = 0;
  private readonly list = new Fifo<Waiter<T>>(4);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onExpired: () => void;

  /** `onExpired` runs for each waiter given up, before its send learns it was dropped. */
  constructor(onExpired: () => void) {
    this.onExpired = onExpired;
  }

  get count(): number {
    return this.list.size;
  }

  /** Settles `true` once {@link RoomWaiters.admitOldest} takes it, `false` when it expires or is released. */
  add(item: T): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.list.push({ item, resolve, deadline: performance.now() + this.timeoutMs });
      if (this.timer === undefined) this.arm(this.timeoutMs);
    });
  }

  /** Removes the oldest waiter, tells its send it was queued and returns its item. Only when `count > 0`. */
  admitOldest(): T {
    const waiter = this.list.shift() as Waiter<T>;
    waiter.resolve(true);
    return waiter.item;
  }

  /** Tells every waiting send it was dropped and returns how many there were. */
  releaseAll(): number {
    let released = 0;
    for (let waiter = this.list.shift(); waiter !== undefined; waiter = this.list.shift()) {
      released++;
      waiter.resolve(false);
    }
    this.stopTimer();
    return released;
  }

  stopTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(ms: number): void {
    // Only bounds a wait: must not keep the process alive on its own.
    this.timer = setTimeout(this.expireDue, Math.max(1, Math.ceil(ms))).unref();
  }

  /** Gives up the waiters whose deadline passed, oldest first, and re-arms for the next one. */
  private readonly expireDue = (): void => {
    this.timer = undefined;
    // Timers may fire a fraction of a millisecond early against performance.now().
    const now = performance.now() + 1;
    for (let waiter = this.list.peek(); waiter !== undefined; waiter = this.list.peek()) {
      if (waiter.deadline > now) {
        this.arm(waiter.deadline - now + 1);
        return;
      }
      this.list.shift();
      this.onExpired();
      waiter.resolve(false);
    }
  };
}
