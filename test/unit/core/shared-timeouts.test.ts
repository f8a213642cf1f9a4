import { describe, expect, it } from 'vitest';
import { SharedTimeouts, type TimeoutLinks, type TimeoutList } from '../../../src/core/shared-timeouts.js';
import { FakeTime } from '../../helpers/fake-time.js';

class Item implements TimeoutLinks<Item> {
  timeoutAt = Infinity;
  timeoutPrev: Item | null = null;
  timeoutNext: Item | null = null;
  timeoutList: TimeoutList<Item> | null = null;
  constructor(readonly name: string) {}
}

function setup() {
  const time = new FakeTime(0);
  const expired: Array<[string, number]> = [];
  const timeouts = new SharedTimeouts<Item>(time, time, (item) => expired.push([item.name, time.now()]));
  return { time, expired, timeouts };
}

describe('SharedTimeouts', () => {
  it('expires each item exactly its duration after it was added, in order, with one timer per duration', async () => {
    const { time, expired, timeouts } = setup();
    timeouts.add(new Item('a'), 0, 1_000);
    await time.advance(300);
    timeouts.add(new Item('b'), 300, 1_000);
    timeouts.add(new Item('c'), 300, 500);
    expect(time.pendingTimers).toBe(2);
    await time.advance(2_000);
    expect(expired).toEqual([
      ['c', 800],
      ['a', 1_000],
      ['b', 1_300],
    ]);
    expect(time.pendingTimers).toBe(0);
  });

  it('a removed item never expires; removing the head re-arms for the next; an empty list holds no timer', async () => {
    const { time, expired, timeouts } = setup();
    const a = new Item('a');
    const b = new Item('b');
    const c = new Item('c');
    timeouts.add(a, 0, 1_000);
    await time.advance(100);
    timeouts.add(b, 100, 1_000);
    timeouts.add(c, 100, 1_000);
    timeouts.remove(a);
    timeouts.remove(c);
    timeouts.remove(c); // not tracked any more: a no-op
    await time.advance(1_500);
    expect(expired).toEqual([['b', 1_100]]);
    timeouts.add(a, time.now(), 50);
    timeouts.remove(a);
    expect(time.pendingTimers).toBe(0);
    await time.advance(100);
    expect(expired).toHaveLength(1);
  });

  it('an item added while others expire keeps its own deadline', async () => {
    const time = new FakeTime(0);
    const expired: Array<[string, number]> = [];
    const late = new Item('late');
    const timeouts: SharedTimeouts<Item> = new SharedTimeouts<Item>(time, time, (item) => {
      expired.push([item.name, time.now()]);
      if (item.name === 'a') timeouts.add(late, time.now(), 1_000);
    });
    timeouts.add(new Item('a'), 0, 1_000);
    timeouts.add(new Item('b'), 0, 1_000);
    await time.advance(500);
    timeouts.add(new Item('c'), 500, 1_000);
    await time.advance(3_000);
    expect(expired).toEqual([
      ['a', 1_000],
      ['b', 1_000],
      ['c', 1_500],
      ['late', 2_000],
    ]);
  });

  it('a timer that fires before the deadline by the clock expires nothing and re-arms', async () => {
    const time = new FakeTime(0);
    const expired: string[] = [];
    // A scheduler that fires 1 ms early, as Node's timers may against a performance.now() clock.
    const early = { setTimeout: (fn: () => void, ms: number) => time.setTimeout(fn, ms > 1 ? ms - 1 : ms), clearTimeout: (h: object) => time.clearTimeout(h) };
    const timeouts = new SharedTimeouts<Item>(time, early, (item) => expired.push(`${item.name}@${time.now()}`));
    timeouts.add(new Item('a'), 0, 10);
    await time.advance(9);
    expect(expired).toEqual([]);
    await time.advance(5);
    expect(expired).toEqual(['a@10']);
  });
});
