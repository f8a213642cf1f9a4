import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../../adapters/webhook/dedupe.js';

describe('RecentIds', () => {
  it('claims an id once within the TTL and again after it', () => {
    let now = 0;
    const ids = new RecentIds(1_000, 100, () => now);
    expect(ids.claim('a')).toBe(true);
    expect(ids.claim('a')).toBe(false);
    now = 999;
    expect(ids.claim('a')).toBe(false);
    now = 1_000;
    expect(ids.claim('a')).toBe(true);
  });

  it('expires old ids as time passes, so memory follows the TTL', () => {
    let now = 0;
    const ids = new RecentIds(100, 1_000, () => now);
    for (let i = 0; i < 50; i++) ids.claim(`m${i}`);
    now = 150;
    ids.claim('fresh');
    expect(ids.size).toBe(1);
  });

  it('forgets the oldest ids past the cap', () => {
    const ids = new RecentIds(60_000, 3, () => 0);
    for (const id of ['a', 'b', 'c', 'd']) expect(ids.claim(id)).toBe(true);
    expect(ids.size).toBe(3);
    expect(ids.claim('a')).toBe(true); // evicted by the cap, so it is new again
    expect(ids.claim('d')).toBe(false);
  });

  it('release lets an id be claimed again', () => {
    const ids = new RecentIds(60_000, 10, () => 0);
    ids.claim('x');
    ids.release('x');
    expect(ids.claim('x')).toBe(true);
  });
});
