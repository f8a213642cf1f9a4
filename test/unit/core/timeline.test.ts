import { describe, expect, it } from 'vitest';
import { QueueEventType, type QueueEvent } from '../../../src/core/events.js';
import { MemoryTimeline, timelineEntry } from '../../../src/core/timeline.js';

const base = { channelKey: 'p:c', at: 1_000 };

describe('timelineEntry: one mapping from queue events to decisions', () => {
  it.each<[string, QueueEvent, Record<string, unknown> | null]>([
    ['opened', { ...base, type: QueueEventType.Appended, batchId: 'b1', messageId: 'm1', opened: true, deadline: 6_000 }, { type: 'opened', batchId: 'b1', messageIds: ['m1'] }],
    ['appended', { ...base, type: QueueEventType.Appended, batchId: 'b1', messageId: 'm2', opened: false }, { type: 'appended', batchId: 'b1', messageIds: ['m2'] }],
    ['typing hold', { ...base, type: QueueEventType.Held, batchId: 'b1', reason: 'typing', deadline: 11_000 }, { type: 'held', batchId: 'b1', reason: 'typing', detail: 'until 1970-01-01T00:00:11.000Z' }],
    ['content hold', { ...base, type: QueueEventType.Held, batchId: 'b1', reason: 'trailingColon', deadline: 16_000 }, { type: 'held', reason: 'trailingColon' }],
    ['sealed', { ...base, type: QueueEventType.Flushed, batchId: 'b1', size: 2, reason: 'window', deadline: 900, latenessMs: 100 }, { type: 'sealed', batchId: 'b1', reason: 'window', detail: '2 messages' }],
    ['sealed by keyword', { ...base, type: QueueEventType.Flushed, batchId: 'b1', size: 1, reason: 'keyword', deadline: 1_000, latenessMs: 0 }, { type: 'sealed', reason: 'keyword', detail: '1 message' }],
    ['started', { ...base, type: QueueEventType.Started, batchId: 'b1', size: 2, waitMs: 3, messageIds: ['m1', 'm2'] }, { type: 'started', messageIds: ['m1', 'm2'], detail: '2 messages, waited 3 ms' }],
    ['completed', { ...base, type: QueueEventType.Completed, batchId: 'b1', size: 2, durationMs: 40, replies: 1 }, { type: 'completed', detail: '1 reply in 40 ms' }],
    ['failed', { ...base, type: QueueEventType.Failed, batchId: 'b1', size: 2, durationMs: 40, error: 'boom', timeout: false }, { type: 'failed', detail: 'boom' }],
    ['timed out', { ...base, type: QueueEventType.Failed, batchId: 'b1', size: 2, durationMs: 40, error: 'timeout', timeout: true }, { type: 'cancelled', reason: 'timeout' }],
    ['cancel', { ...base, type: QueueEventType.Cancelled, batchId: 'b1', size: 2, durationMs: 5, reason: 'cancel' }, { type: 'cancelled', reason: 'operator' }],
    ['stop', { ...base, type: QueueEventType.Cancelled, batchId: 'b1', size: 2, durationMs: 5, reason: 'stop' }, { type: 'cancelled', reason: 'operator' }],
    ['shutdown', { ...base, type: QueueEventType.Cancelled, batchId: 'b1', size: 2, durationMs: 5, reason: 'shutdown' }, { type: 'cancelled', reason: 'shutdown' }],
    ['edit', { ...base, type: QueueEventType.Cancelled, batchId: 'b1', size: 2, durationMs: 5, reason: 'edit' }, { type: 'cancelled', reason: 'edit' }],
    ['interrupt', { ...base, type: QueueEventType.Interrupted, batchId: 'b1', size: 2 }, { type: 'cancelled', batchId: 'b1', reason: 'interrupt' }],
    ['merged', { ...base, type: QueueEventType.Merged, batchId: 'b9', size: 7, batches: 3 }, { type: 'merged', batchId: 'b9', reason: 'overflow', detail: '3 batches (7 messages) merged into one' }],
    ['dropped', { ...base, type: QueueEventType.Dropped, count: 2, reason: 'overflow', batchId: 'b1' }, { type: 'dropped', batchId: 'b1', reason: 'overflow', detail: '2 messages' }],
    ['rejected', { ...base, type: QueueEventType.Dropped, count: 1, reason: 'rejected' }, { type: 'dropped', reason: 'rejected' }],
    ['cleared', { ...base, type: QueueEventType.Cleared, removed: 4 }, { type: 'cleared', detail: '4 messages removed' }],
    ['paused', { ...base, type: QueueEventType.Paused, cancelled: false }, { type: 'paused' }],
    ['resumed', { ...base, type: QueueEventType.Resumed }, { type: 'resumed' }],
    ['edited', { ...base, type: QueueEventType.Edited, messageId: 'm1', applied: 'pending', batchId: 'b1' }, { type: 'edited', messageIds: ['m1'], reason: 'pending' }],
    ['deleted', { ...base, type: QueueEventType.Deleted, messageId: 'm1', applied: 'in-flight' }, { type: 'deleted', messageIds: ['m1'], reason: 'in-flight' }],
    ['steered', { ...base, type: QueueEventType.Steered, batchId: 'b1', messageIds: ['m3'] }, { type: 'steered', batchId: 'b1', messageIds: ['m3'] }],
    ['over-warn', { ...base, type: QueueEventType.OverWarn, queuedBatches: 8, limit: 10 }, null],
    ['under-warn', { ...base, type: QueueEventType.UnderWarn, queuedBatches: 1, limit: 10 }, null],
    ['reply dropped', { ...base, type: QueueEventType.ReplyDropped, batchId: 'b1' }, null],
    ['usage', { ...base, type: QueueEventType.Usage, batchId: 'b1', model: 'm', promptTokens: 1, completionTokens: 1 }, null],
  ])('%s', (_name, event, expected) => {
    const entry = timelineEntry(event);
    if (expected === null) expect(entry).toBeNull();
    else expect(entry).toMatchObject({ at: 1_000, ...expected });
  });

  it('names every event type the queue reports', () => {
    const mapped = new Set(['message.appended', 'batch.held', 'batch.flushed', 'batch.started', 'batch.completed', 'batch.failed', 'batch.cancelled', 'batch.interrupted', 'batch.merged', 'message.dropped', 'queue.cleared', 'channel.paused', 'channel.resumed', 'message.edited', 'message.deleted', 'batch.steered', 'queue.over-warn', 'queue.under-warn', 'reply.dropped', 'processor.usage']);
    expect(new Set(Object.values(QueueEventType))).toEqual(mapped);
  });
});

describe('MemoryTimeline', () => {
  const appended = (channelKey: string, n: number): QueueEvent => ({ type: QueueEventType.Appended, channelKey, at: n, batchId: 'b', messageId: `m${n}`, opened: false });

  it('keeps the last `size` entries per channel, oldest first, and answers the newest `limit`', async () => {
    const timeline = new MemoryTimeline(5);
    for (let n = 1; n <= 12; n++) timeline.record(appended('p:a', n));
    timeline.record(appended('p:b', 100));
    expect((await timeline.read('p:a', 200)).map((e) => e.at)).toEqual([8, 9, 10, 11, 12]);
    expect((await timeline.read('p:a', 2)).map((e) => e.at)).toEqual([11, 12]);
    expect((await timeline.read('p:b', 200)).map((e) => e.at)).toEqual([100]);
    expect(await timeline.read('p:unknown', 200)).toEqual([]);
  });

  it('skips events that are no decision', async () => {
    const timeline = new MemoryTimeline(5);
    timeline.record({ type: QueueEventType.OverWarn, channelKey: 'p:a', at: 1, queuedBatches: 1, limit: 1 });
    expect(timeline.channelCount).toBe(0);
  });

  it('bounds the channels it holds: the one heard from longest ago leaves first', async () => {
    const timeline = new MemoryTimeline(3, 2);
    timeline.record(appended('p:a', 1));
    timeline.record(appended('p:b', 2));
    timeline.record(appended('p:a', 3)); // a is heard from again: b is now the oldest
    timeline.record(appended('p:c', 4));
    expect(timeline.channelCount).toBe(2);
    expect(await timeline.read('p:b', 10)).toEqual([]);
    expect((await timeline.read('p:a', 10)).map((e) => e.at)).toEqual([1, 3]);
    expect((await timeline.read('p:c', 10)).map((e) => e.at)).toEqual([4]);
  });
});
