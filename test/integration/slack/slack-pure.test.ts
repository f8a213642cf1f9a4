import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeSlackEvent, parseSlackChannelId, parseSlackMessageId, slackMessageId, splitText } from '../../../adapters/slack/index.js';
import { RecentKeys } from '../../../src/core/recent-keys.js';

// The pure parts of the Slack adapter (no I/O); kept beside its integration tests.

describe('splitText', () => {
  it('keeps short text whole and cuts long text at paragraph, line, then word boundaries', () => {
    expect(splitText('hi', 10)).toEqual(['hi']);
    expect(splitText('', 10)).toEqual(['']);
    expect(splitText('aaaa\n\nbbbb cc', 10)).toEqual(['aaaa', 'bbbb cc']);
    expect(splitText('aaaa bb\ncccc', 10)).toEqual(['aaaa bb', 'cccc']);
    expect(splitText('abcdefghijklmnop', 10)).toEqual(['abcdefghij', 'klmnop']);
  });

  it('never splits a surrogate pair', () => {
    const parts = splitText('aaaaaaaaa😀bbb', 10);
    expect(parts).toEqual(['aaaaaaaaa', '😀bbb']);
  });

  it('property: every part fits, order and words are kept, no lone surrogates', () => {
    const word = fc.stringMatching(/^[a-z😀é]{1,14}$/u);
    const sep = fc.constantFrom(' ', '\n', '\n\n', '  ');
    const text = fc.array(fc.tuple(word, sep), { maxLength: 80 }).map((ws) => ws.map(([w, s]) => w + s).join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 4, max: 60 }), (t, limit) => {
        const parts = splitText(t, limit);
        for (const p of parts) {
          expect(p.length).toBeLessThanOrEqual(limit);
          expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(p)).toBe(false);
        }
        // Cuts fall between words or inside an over-long word, so gluing the parts back restores the characters.
        expect(parts.join('').replace(/\s+/g, '')).toBe(t.replace(/\s+/g, ''));
      }),
      { numRuns: 300 },
    );
  });
});

describe('normalizeSlackEvent', () => {
  const self = { botUserId: 'U0BOT', botId: 'B0BOT' };
  const base = { type: 'message', channel: 'C1', user: 'U1', text: 'hi', ts: '1700000000.000200' };

  it('uses channel:ts as the id and a thread as its own channel', () => {
    const r = normalizeSlackEvent({ ...base, thread_ts: '1700000000.000100' }, self);
    expect(r).toMatchObject({ message: { id: 'C1:1700000000.000200', channelId: 'C1/1700000000.000100', extra: { threadTs: '1700000000.000100' } } });
    // A thread's parent (thread_ts === ts) is an ordinary channel message.
    expect(normalizeSlackEvent({ ...base, thread_ts: base.ts }, self)).toMatchObject({ message: { channelId: 'C1' } });
    expect(normalizeSlackEvent({ ...base, subtype: 'thread_broadcast', thread_ts: '1700000000.000100' }, self)).toMatchObject({ message: { channelId: 'C1/1700000000.000100' } });
  });

  it('says why it ignores an event', () => {
    expect(normalizeSlackEvent({ ...base, subtype: 'bot_message' }, self)).toEqual({ ignored: 'bot' });
    expect(normalizeSlackEvent({ ...base, bot_id: 'B9' }, self)).toEqual({ ignored: 'bot' });
    expect(normalizeSlackEvent({ ...base, user: 'U0BOT' }, self)).toEqual({ ignored: 'self' });
    for (const subtype of ['message_changed', 'message_deleted', 'message_replied', 'channel_join', 'channel_topic', 'me_message'])
      expect(normalizeSlackEvent({ ...base, subtype }, self)).toEqual({ ignored: 'subtype' });
    expect(normalizeSlackEvent({ ...base, ts: undefined }, self)).toEqual({ ignored: 'incomplete' });
    expect(normalizeSlackEvent({ ...base, type: 'reaction_added' }, self)).toEqual({ ignored: 'not a message' });
  });

  it('drops only a leading mention of the app from the text and keeps files', () => {
    const r = normalizeSlackEvent({ ...base, subtype: 'file_share', text: '<@U0BOT>: look at <@U2>', files: [{ id: 'F1', name: 'a.png', mimetype: 'image/png', url_private: 'https://files/a' }] }, self);
    expect(r).toMatchObject({ message: { text: 'look at <@U2>', extra: { mentions: ['U0BOT', 'U2'], mentionsBot: true, files: [{ id: 'F1', name: 'a.png' }] } } });
  });
});

describe('ids and recent keys', () => {
  it('round-trips message ids and channel ids', () => {
    expect(parseSlackMessageId(slackMessageId('C1', '1.2'))).toEqual({ channel: 'C1', ts: '1.2' });
    expect(parseSlackMessageId('nonsense')).toBeUndefined();
    expect(parseSlackChannelId('C1/1.2')).toEqual({ channel: 'C1', threadTs: '1.2' });
    expect(parseSlackChannelId('C1')).toEqual({ channel: 'C1' });
  });

  it('RecentKeys: a key is a duplicate within the TTL, new after it, and the size stays bounded', () => {
    let now = 0;
    const keys = new RecentKeys(3, 1_000, () => now);
    expect(keys.addAllIfNew(['event:1', 'msg:a'])).toBe(true);
    expect(keys.addAllIfNew(['event:2', 'msg:a'])).toBe(false); // same message under another event id
    now = 5_000;
    expect(keys.addIfNew('event:1')).toBe(true);
    for (const k of ['x', 'y', 'z', 'w']) keys.addIfNew(k);
    expect(keys.size).toBe(3);
  });
});
