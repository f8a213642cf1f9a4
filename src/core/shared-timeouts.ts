import type { Clock, Scheduler, TimerHandle } from './clock.js';

/** The links an item carries while it is tracked (intrusive: no node object per item). */
export interface TimeoutLinks<T> {
  timeoutAt: number;
  timeoutPrev: T | null;
  timeoutNext: T | null;
  timeoutList: TimeoutList<T> | null;
}

/** Items that share one duration, in the order they were added, which is also the order they expire in. */
export class TimeoutList<T> {
  head: T | null = null;
  tail: T | null = null;
  timer: TimerHandle | null = null;

  constructor(readonly durationMs: number) {}
}

/**
 * Timeouts for many items with few distinct durations (runs and their `processingTimeoutMs`): items of
 * one duration expire in the order they were added, so each duration keeps a FIFO list checked by one
 * timer armed for its head, instead of a `setTimeout` per item. Removing an item is O(1); a list that
 * empties clears its timer, so nothing is left armed once every item is gone. The timer only ever fires
 * at or after the head's deadline by the clock (a timer that fires early re-arms), like a per-item timer.
 */
export class SharedTimeouts<T extends TimeoutLinks<T>> {
  private readonly lists = new Map<number, TimeoutList<T>>();

  constructor(
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly onExpire: (item: T) => void,
  ) {}

  /** Tracks `item`, expiring `durationMs` after `startedAt` (a time of the clock). */
  add(item: T, startedAt: number, durationMs: number): void {
    let list = this.lists.get(durationMs);
    if (list === undefined) {
      list = new TimeoutList<T>(durationMs);
      this.lists.set(durationMs, list);
    }
    item.timeoutAt = startedAt + durationMs;
    item.timeoutList = list;
    item.timeoutNext = null;
    item.timeoutPrev = list.tail;
    if (list.tail === null) list.head = item;
    else list.tail.timeoutNext = item;
    list.tail = item;
    if (list.timer === null) this.arm(list);
  }

  /** Stops tracking `item`; a no-op when it is not tracked. */
  remove(item: T): void {
    const list = item.timeoutList;
    if (list === null) return;
    const { timeoutPrev: prev, timeoutNext: next } = item;
    if (prev === null) list.head = next;
    else prev.timeoutNext = next;
    if (next === null) list.tail = prev;
    else next.timeoutPrev = prev;
    item.timeoutList = null;
    item.timeoutPrev = null;
    item.timeoutNext = null;
    if (list.head === null) {
      if (list.timer !== null) this.scheduler.clearTimeout(list.timer);
      list.timer = null;
      this.lists.delete(list.durationMs);
    }
    // A removed head leaves the timer armed for its deadline: when it fires it re-arms for the new head.
  }

  private arm(list: TimeoutList<T>): void {
    const delay = Math.max(0, Math.ceil(list.head!.timeoutAt - this.clock.now()));
    list.timer = this.scheduler.setTimeout(() => this.fire(list), delay);
  }

  private fire(list: TimeoutList<T>): void {
    list.timer = null;
    const now = this.clock.now();
    let head = list.head;
    while (head !== null && head.timeoutAt <= now) {
      this.remove(head);
      this.onExpire(head);
      head = list.head;
    }
    if (list.head !== null && list.timer === null) this.arm(list);
  }
}
