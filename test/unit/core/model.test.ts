import { describe, expect, it } from 'vitest';
import { EmptyBatchError } from '../../../src/errors.js';
import { MessageBatch, createBatchId, parseChannelKey, type QueuedMessage } from '../../../src/core/model.js';

const m = (id: string, userId: string, userName: string, text: string, queuedAt: number): QueuedMessage => ({
  id, platform: 'slack', channelId: 'C1/17.1', userId, userName, text, queuedAt, extra: { thread: '17.1' }, raw: { secret: true },
});

describe('MessageBatch', () => {
  it('slides its window on add and knows its channel and authors', () => {
    const b = new MessageBatch('slack:C1/17.1', { at: 0 });
    expect(() => b.channelId).toThrow(EmptyBatchError);
    b.add(m('1', 'U1', 'Ana', 'hey', 10), 10);
    b.add(m('2', 'U2', 'Bo', 'hi', 20), 20);
    b.add(m('3', 'U1', 'Ana', 'so', 30), 30);
    expect([b.firstAt, b.lastAt, b.size, b.channelId]).toEqual([10, 30, 3, 'C1/17.1']);
    expect(b.uniqueAuthors()).toEqual([{ userId: 'U1', userName: 'Ana' }, { userId: 'U2', userName: 'Bo' }]);
    expect(b.text()).toBe('Ana: hey\nBo: hi\nAna: so');
  });

  it('round-trips through JSON with a version and without raw payloads', () => {
    const b = new MessageBatch('slack:C1/17.1', { messages: [m('1', 'U1', 'Ana', 'hey', 10)] });
    b.flushReason = 'window';
    const json = JSON.parse(JSON.stringify(b));
    expect(json.v).toBe(1);
    expect(json.messages[0].raw).toBeUndefined();
    const back = MessageBatch.fromJSON(json);
    expect(back.toJSON()).toEqual(b.toJSON());
    expect(() => MessageBatch.fromJSON({ ...json, v: 99 })).toThrow(/version/);
  });

  it('makes unique ids that sort by creation', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => createBatchId(1_700_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
  });

  it('splits channel keys at the first colon', () => {
    expect(parseChannelKey('webhook:room:1')).toEqual({ platform: 'webhook', channelId: 'room:1' });
  });
});
