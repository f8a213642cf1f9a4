import { describe, expect, it } from 'vitest';
import { nextPageFrom } from '../../../src/distributed/distributed-queue.js';

const page = (...startedAt: number[]) => startedAt.map((t) => ({ startedAt: t }));

describe("the reconciler's walk through in-flight batches", () => {
  it('starts over at the oldest after a short page (the walk reached the newest)', () => {
    expect(nextPageFrom(page(10, 20), 3, undefined)).toBeUndefined();
    expect(nextPageFrom(page(), 3, 50)).toBeUndefined();
  });

  it('goes on from the last start time of a full page, inclusive, so batches sharing that ms are not skipped', () => {
    expect(nextPageFrom(page(10, 20, 30), 3, undefined)).toBe(30);
    expect(nextPageFrom(page(30, 30, 40), 3, 30)).toBe(40);
  });

  it('steps past a full page that all shares the ms it started from, so it cannot stall there', () => {
    expect(nextPageFrom(page(30, 30, 30), 3, 30)).toBe(31);
  });
});
