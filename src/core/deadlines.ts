/**
 * A binary min-heap of (time, item) pairs: the one structure behind "one timer for many deadlines".
 * Entries are never removed from the middle; callers keep the time of each item's live entry and skip
 * entries that no longer match when they pop (lazy deletion), which keeps every operation O(log n) and
 * lets a sliding window move its deadline later without touching the heap at all. Equal times pop in
 * insertion order, so channels that went quiet in the same millisecond seal in arrival order.
 */
export class DeadlineHeap<T> {
  private readonly times: number[] = [];
  private readonly items: T[] = [];
  private readonly order: number[] = [];
  private inserted = 0;

  get size(): number {
    return this.times.length;
  }

  push(time: number, item: T): void {
    const times = this.times;
    const items = this.items;
    const order = this.order;
    const seq = this.inserted++;
    let i = times.length;
    times.push(time);
    items.push(item);
    order.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (pt < time || (pt === time && order[parent]! < seq)) break;
      times[i] = pt;
      items[i] = items[parent]!;
      order[i] = order[parent]!;
      i = parent;
    }
    times[i] = time;
    items[i] = item;
    order[i] = seq;
  }

  /** Earliest time, or Infinity when empty. */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  peekItem(): T | undefined {
    return this.items[0];
  }

  /** Removes the earliest entry; call only when size > 0. */
  pop(): T {
    const times = this.times;
    const items = this.items;
    const order = this.order;
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastItem = items.pop()!;
    const lastSeq = order.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (times[r]! < times[l]! || (times[r] === times[l] && order[r]! < order[l]!)) ? r : l;
        const ct = times[c]!;
        if (ct > lastTime || (ct === lastTime && order[c]! > lastSeq)) break;
        times[i] = ct;
        items[i] = items[c]!;
        order[i] = order[c]!;
        i = c;
      }
      times[i] = lastTime;
      items[i] = lastItem;
      order[i] = lastSeq;
    }
    return top;
  }

  clear(): void {
    this.times.length = 0;
    this.items.length = 0;
    this.order.length = 0;
  }
}
