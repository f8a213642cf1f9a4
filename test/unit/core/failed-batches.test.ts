import { describe, expect, it } from 'vitest';
import { FailedBatches } from '../../../src/core/failed-batches.js';
import { MessageBatch, type QueuedMessage } from '../../../src/core/model.js';

const batchOf = (channel: string, ...texts: string[]): MessageBatch =>
  new MessageBatch(`web:${channel}`, {
    messages: texts.map((text, i): QueuedMessage => ({ id: `${channel}-${i}`, platform: 'web', channelId: channel, userId: 'u', userName: 'U', text, queuedAt: i, extra: {}, raw: { big: true } })),
  });

describe('FailedBatches', () => {
  it('lists failed batches newest first, as JSON without raw payloads', () => {
    const failed = new FailedBatches(100);
    failed.add(batchOf('a', 'one', 'two'), 'threw', 1);
    failed.add(batchOf('b', 'three'), 'timed out', 2);
    const [b, a] = failed.newest(10);
    expect(b).toMatchObject({ channelKey: 'web:b', error: 'timed out', failedAt: 2 });
    expect(a!.batch.messages.map((m) => m.text)).toEqual(['one', 'two']);
    expect(a!.batch.messages[0]).not.toHaveProperty('raw');
    expect(failed.newest(1).map((d) => d.channelKey)).toEqual(['web:b']);
  });

  it('forgets the oldest past its message bound, keeps a lone oversized batch, and keeps nothing at 0', () => {
    const failed = new FailedBatches(3);
    failed.add(batchOf('a', '1', '2'), 'x', 1);
    failed.add(batchOf('b', '3'), 'x', 2);
    failed.add(batchOf('c', '4'), 'x', 3); // 4 messages > 3: 'a' goes
    expect(failed.newest(10).map((d) => d.channelKey)).toEqual(['web:c', 'web:b']);
    failed.add(batchOf('d', '5', '6', '7', '8'), 'x', 4);
    expect(failed.newest(10).map((d) => d.channelKey)).toEqual(['web:d']);
    const none = new FailedBatches(0);
    none.add(batchOf('e', '9'), 'x', 5);
    expect(none.newest(10)).toEqual([]);
  });
});
