import type { Counter } from 'prom-client';

/**
 * Counts per label value in plain numbers, moved into a prom-client Counter when Prometheus scrapes (from the
 * counter's `collect`). A labelled `counter.inc` hashes and validates its label object on every call, and
 * `labels()` children do the same; a Map look-up of a short constant string is a fraction of that.
 */
export class LabelTally {
  private readonly counts = new Map<string, number>();
  private readonly moved = new Map<string, number>();

  add(labelValue: string, n: number): void {
    this.counts.set(labelValue, (this.counts.get(labelValue) ?? 0) + n);
  }

  /** Adds what was counted since the last call to `counter` (a value seen for the first time shows up, even at 0). */
  moveInto(counter: Counter<string>, labelName: string): void {
    for (const [value, count] of this.counts) {
      const before = this.moved.get(value);
      if (before === count) continue;
      counter.inc({ [labelName]: value }, count - (before ?? 0));
      this.moved.set(value, count);
    }
  }
}
