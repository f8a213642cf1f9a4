import { describe, expect, it } from 'vitest';
import type { Clock, Scheduler } from '../../../src/core/clock.js';
import { QueueEventType, type QueueEvent } from '../../../src/core/events.js';
import { MessageQueue } from '../../../src/core/message-queue.js';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { FakeTime } from '../../helpers/fake-time.js';

const message = (channelId: string, text = 'x') => ({ id: `${channelId}-${text}`, platform: 'test', channelId, userId: 'u1', text });

describe('MessageQueue under a burst of windows', () => {
  it('a burst that becomes ready at once starts over several loop turns, oldest seal first', async () => {
    const time = new FakeTime();
    let continuations = 0;
    // Counts the zero-delay timers the queue arms to go on starting after a full chunk.
    const scheduler: Scheduler = {
      setTimeout: (fn, ms) =>
        time.setTimeout(() => {
          if (ms === 0) continuations++;
          fn();
        }, ms),
      clearTimeout: (handle) => time.clearTimeout(handle),
    };
    const started: Array<{ channelId: string; turn: number }> = [];
    const queue = new MessageQueue({
      processor: async (batch) => {
        started.push({ channelId: batch.channelId, turn: continuations });
      },
      onReply: () => {},
      clock: time,
      scheduler,
      policy: new SettingsPolicy({ windowMs: 100 }),
      maxConcurrentBatches: 100_000,
    });
    const n = 2_500;
    for (let i = 0; i < n; i++) await queue.enqueue(message(`c${i}`));
    await time.advance(100);
    expect(started.map((s) => s.channelId)).toEqual(Array.from({ length: n }, (_, i) => `c${i}`));
    // 1,000 per turn: the first thousand before any continuation, the rest after one and two.
    expect([0, 999, 1_000, 1_999, 2_000, 2_499].map((i) => started[i]!.turn)).toEqual([0, 0, 1, 1, 2, 2]);
    await queue.whenIdle();
    expect(queue.totals().running).toBe(0);
    await queue.close();
  });

  it('a window that falls due while a long burst starts seals within a few batches, never early', async () => {
    const time = new FakeTime();
    // Processors that take 0.1 ms of (synchronous) CPU each: the clock moves while the loop is busy,
    // the fake scheduler (like a real timer blocked behind the busy loop) does not fire meanwhile.
    let busyMs = 0;
    const clock: Clock = { now: () => time.now() + busyMs };
    const events: QueueEvent[] = [];
    const queue = new MessageQueue({
      processor: async () => {
        busyMs += 0.1;
      },
      onReply: () => {},
      clock,
      scheduler: time,
      policy: new SettingsPolicy({ windowMs: 100 }),
      maxConcurrentBatches: 100_000,
    });
    queue.on((e) => events.push(e));
    for (let i = 0; i < 900; i++) await queue.enqueue(message(`a${i}`));
    await time.advance(50);
    await queue.enqueue(message('late'));
    await time.advance(50); // the 900 windows seal and start: the clock passes 'late's deadline meanwhile
    await time.advance(100);
    const flushed = events.filter((e) => e.type === QueueEventType.Flushed);
    const late = flushed.find((e) => e.channelKey === 'test:late')!;
    expect(late.latenessMs).toBeGreaterThanOrEqual(0);
    expect(late.latenessMs).toBeLessThan(10); // ≤ 64 batches of 0.1 ms, not the whole burst (90 ms)
    const startedOrder = events.filter((e) => e.type === QueueEventType.Started).map((e) => e.channelKey);
    expect(startedOrder).toHaveLength(901);
    expect(startedOrder.at(-1)).toBe('test:late'); // sealed last, so it starts last
    await queue.close();
  });
});
