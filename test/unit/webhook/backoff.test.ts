import { describe, expect, it } from 'vitest';
import { backoffDelayMs, sleep } from '../../../src/delivery/backoff.js';

describe('backoffDelayMs', () => {
  it('doubles the ceiling per retry up to the cap (full jitter: random share of the ceiling)', () => {
    const top = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, 250, 5_000, top))).toEqual([249, 499, 999, 1_999, 3_999, 4_999, 4_999]);
    expect(backoffDelayMs(3, 250, 5_000, () => 0.5)).toBe(500);
    expect(backoffDelayMs(3, 250, 5_000, () => 0)).toBe(0);
  });
});

describe('sleep', () => {
  it('rejects with the reason when aborted, at once or while waiting', async () => {
    const done = new AbortController();
    done.abort(new Error('gone'));
    await expect(sleep(10, done.signal)).rejects.toThrow('gone');
    const later = new AbortController();
    const p = sleep(600_000, later.signal);
    later.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
