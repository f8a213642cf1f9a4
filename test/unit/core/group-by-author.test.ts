import { describe, expect, it } from 'vitest';
import { MessageBatch, authorKeyOf } from '../../../src/core/model.js';
import { toOutbound } from '../../../src/core/outbound.js';

const msg = (id: string, channelId: string, userId = 'U1') => ({ id, platform: 'slack', channelId, userId, userName: userId, text: id, queuedAt: 1, extra: {} });

describe('authorKeyOf', () => {
  it('appends the user id after the last slash, keeping a thread channel id whole', () => {
    expect(authorKeyOf('discord:1234', '5678')).toBe('discord:1234/5678');
    expect(authorKeyOf('slack:C1/1700000000.000100', 'U042')).toBe('slack:C1/1700000000.000100/U042');
  });

  it('escapes / and % in a user id, so the last slash always starts the user id', () => {
    const key = authorKeyOf('webhook:room', 'team/ana%');
    expect(key).toBe('webhook:room/team%2Fana%25');
    expect(decodeURIComponent(key.slice(key.lastIndexOf('/') + 1))).toBe('team/ana%');
  });
});

describe('toOutbound for an author batch', () => {
  it('answers in the messages’ channel, threaded to the author’s latest message', () => {
    const batch = new MessageBatch(authorKeyOf('slack:C1/171.5', 'U1'));
    batch.add(msg('C1:1', 'C1/171.5'), 1);
    batch.add(msg('C1:2', 'C1/171.5'), 2);
    expect(toOutbound('hi', batch)).toMatchObject({ platform: 'slack', channelId: 'C1/171.5', replyTo: 'C1:2', inReplyTo: ['C1:1', 'C1:2'] });
  });

  it('leaves a channel batch unthreaded, and a processor’s own replyTo wins', () => {
    const batch = new MessageBatch('slack:C1');
    batch.add(msg('C1:1', 'C1'), 1);
    expect(toOutbound('hi', batch).replyTo).toBeUndefined();
    const authored = new MessageBatch('slack:C1/U1');
    authored.add(msg('C1:1', 'C1'), 1);
    expect(toOutbound({ text: 'hi', replyTo: 'C1:0' }, authored).replyTo).toBe('C1:0');
  });
});
