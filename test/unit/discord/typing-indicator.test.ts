import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypingIndicator } from '../../../adapters/discord/typing.js';
import type { QueueEvent } from '../../../src/core/events.js';

const INTERVAL = 8_000;
const key = (channelId: string) => `discord:${channelId}`;

function ev(type: QueueEvent['type'], channelId: string, batchId: string): QueueEvent {
  const base = { channelKey: key(channelId), at: Date.now(), batchId, size: 1 };
  switch (type) {
    case 'batch.flushed':
      return { ...base, type, reason: 'window', deadline: Date.now(), latenessMs: 0 };
    case 'batch.started':
      return { ...base, type, waitMs: 0, messageIds: ['m'] };
    case 'batch.completed':
      return { ...base, type, durationMs: 1, replies: 1 };
    case 'batch.cancelled':
      return { ...base, type, durationMs: 1, reason: 'stop' };
    case 'batch.failed':
      return { ...base, type, durationMs: 1, error: 'x', timeout: false };
    case 'channel.paused':
      return { channelKey: key(channelId), at: Date.now(), type, cancelled: false };
    case 'channel.resumed':
      return { channelKey: key(channelId), at: Date.now(), type };
    case 'queue.cleared':
      return { channelKey: key(channelId), at: Date.now(), type, removed: 1 };
    default:
      throw new Error(`not used here: ${type}`);
  }
}

describe('TypingIndicator (fake timers)', () => {
  let sent: string[];
  let logs: string[];
  let indicator: TypingIndicator;
  let fail = false;

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    logs = [];
    fail = false;
    indicator = new TypingIndicator({
      send: (channelId) => {
        sent.push(channelId);
        return fail ? Promise.reject(new Error('403 Missing Permissions')) : Promise.resolve();
      },
      logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) }),
      intervalMs: INTERVAL,
    });
  });
  afterEach(() => {
    indicator.close();
    vi.useRealTimers();
  });

  it('types at once, refreshes every interval while the batch is open and running, stops at completion', async () => {
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 20_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['c1']);
    await vi.advanceTimersByTimeAsync(INTERVAL * 2);
    expect(sent).toHaveLength(3);
    indicator.onQueueEvent(ev('batch.flushed', 'c1', 'b1'));
    indicator.onQueueEvent(ev('batch.started', 'c1', 'b1'));
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(sent).toHaveLength(4);
    indicator.onQueueEvent(ev('batch.completed', 'c1', 'b1'));
    await vi.advanceTimersByTimeAsync(INTERVAL * 5);
    expect(sent).toHaveLength(4);
    expect(indicator.active('c1')).toBe(false);
  });

  it('a batch that flushed at once reports its events before the accept resolves: still types until it completes', async () => {
    indicator.onQueueEvent(ev('batch.flushed', 'c1', 'b1'));
    indicator.onQueueEvent(ev('batch.started', 'c1', 'b1'));
    indicator.accepted('c1', { typing: true, pending: 0 });
    await vi.advanceTimersByTimeAsync(INTERVAL + 1);
    expect(sent).toEqual(['c1', 'c1']);
    indicator.onQueueEvent(ev('batch.completed', 'c1', 'b1'));
    await vi.advanceTimersByTimeAsync(INTERVAL * 3);
    expect(sent).toHaveLength(2);
  });

  it('pauses with the channel and resumes with it while a batch still waits', async () => {
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 1_000 });
    indicator.onQueueEvent(ev('batch.flushed', 'c1', 'b1'));
    await vi.advanceTimersByTimeAsync(0);
    indicator.onQueueEvent(ev('channel.paused', 'c1', ''));
    await vi.advanceTimersByTimeAsync(INTERVAL * 3);
    expect(sent).toEqual(['c1']);
    indicator.onQueueEvent(ev('channel.resumed', 'c1', ''));
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['c1', 'c1']);
  });

  it('clear drops waiting batches but keeps typing for the one in flight', async () => {
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 1_000 });
    indicator.onQueueEvent(ev('batch.flushed', 'c1', 'run'));
    indicator.onQueueEvent(ev('batch.started', 'c1', 'run'));
    indicator.onQueueEvent(ev('batch.flushed', 'c1', 'wait'));
    indicator.onQueueEvent(ev('queue.cleared', 'c1', ''));
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(indicator.active('c1')).toBe(true);
    indicator.onQueueEvent(ev('batch.cancelled', 'c1', 'run'));
    expect(indicator.active('c1')).toBe(false);
  });

  it('an open batch whose flush event never comes stops typing shortly after its deadline', async () => {
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 5_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    const count = sent.length;
    expect(count).toBeLessThanOrEqual(3); // 0 s, 8 s, 16 s at most (deadline 5 s + 10 s grace)
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(count);
    expect(indicator.active('c1')).toBe(false);
  });

  it('after the bot posts, the next refresh counts from the post', async () => {
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 60_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(1);
    indicator.replied('c1');
    await vi.advanceTimersByTimeAsync(INTERVAL - 1);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
  });

  it('typing: false from a later accept stops it; failures are logged once', async () => {
    fail = true;
    indicator.accepted('c1', { typing: true, pending: 1, deadline: Date.now() + 60_000 });
    await vi.advanceTimersByTimeAsync(INTERVAL * 2);
    expect(sent).toHaveLength(3);
    expect(logs.filter((l) => l.includes('typing indicator failed'))).toHaveLength(1);
    indicator.accepted('c1', { typing: false, pending: 2 });
    await vi.advanceTimersByTimeAsync(INTERVAL * 3);
    expect(sent).toHaveLength(3);
  });
});
