import { describe, expect, it } from 'vitest';
import { fenceStateAfter } from '../../../adapters/discord/split-message.js';
import { AdapterError } from '../../../src/errors.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { discordHarness, until } from './harness.js';

const reply = (channelId: string, text: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  platform: 'discord',
  channelId,
  text,
  batchId: 'batch-1',
  inReplyTo: [],
  ...extra,
});

/** A 3,000-character answer with a code block that has to be cut. */
function longAnswer(): string {
  const code = Array.from({ length: 70 }, (_, i) => `  result.push(compute(${i}, "${'v'.repeat(12)}"));`);
  return ['Here is the fix:', '```js', 'function run() {', ...code, '}', '```', 'That should do it.'].join('\n');
}

describe('DiscordAdapter sends through discord.js REST', () => {
  it('posts a 3,000-character reply as two messages in order, code fences closed and reopened', async () => {
    const h = await discordHarness();
    await h.start();
    const text = longAnswer();
    expect(text.length).toBeGreaterThan(3_000);
    await h.adapter.send(reply(h.fake.channelId, text));

    const posts = h.fake.postedMessages;
    expect(posts).toHaveLength(2);
    expect(posts.map((p) => p.channelId)).toEqual([h.fake.channelId, h.fake.channelId]);
    const [first, second] = posts.map((p) => p.content);
    expect(first?.length).toBeLessThanOrEqual(2_000);
    expect(first?.startsWith('Here is the fix:\n```js\nfunction run() {')).toBe(true);
    expect(first?.endsWith('\n```')).toBe(true);
    expect(second?.startsWith('```js\n')).toBe(true);
    expect(second?.endsWith('}\n```\nThat should do it.')).toBe(true);
    for (const content of [first, second]) expect(fenceStateAfter(content ?? '')).toBeNull();
    // No line of the answer is lost or reordered.
    const lines = (first + '\n' + second).split('\n').filter((l) => l !== '```' && l !== '```js');
    expect(lines).toEqual(text.split('\n').filter((l) => l !== '```' && l !== '```js'));
    // Mentions in a reply never ping roles or @everyone.
    expect(posts[0]?.body.allowed_mentions).toEqual({ parse: ['users'], replied_user: false });
    // The fake echoed both posts; none of them came back to the queue. A user message sent after them
    // arrives after the echoes (the fake dispatches in order), so once it is in, they were handled.
    h.fake.sendUserMessage({ channelId: h.fake.channelId, content: 'marker' });
    await until(() => h.accepted.length >= 1, 'the marker');
    expect(h.accepted.map((m) => m.text)).toEqual(['marker']);
  });

  it('replyTo answers that message with the first piece only', async () => {
    const h = await discordHarness();
    await h.start();
    const asked = h.fake.sendUserMessage({ channelId: h.fake.channelId, content: 'question?' });
    await until(() => h.accepted.length === 1, 'the question');
    await h.adapter.send(reply(h.fake.channelId, 'a'.repeat(1_500) + '\n' + 'b'.repeat(1_500), { replyTo: asked }));
    expect(h.fake.postedMessages.map((p) => p.body.message_reference)).toEqual([{ message_id: asked, fail_if_not_exists: false }, undefined]);
  });

  it('replyToLast answers the batch’s last message; without it, replies are plain posts', async () => {
    const h = await discordHarness({ adapter: { replyToLast: true } });
    await h.start();
    const ids = ['x', 'y'].map((content) => h.fake.sendUserMessage({ channelId: h.fake.threadId, content }));
    await until(() => h.accepted.length === 2, 'two messages');
    await h.adapter.send(reply(h.fake.threadId, 'got both', { inReplyTo: ids }));
    expect(h.fake.postedMessages[0]?.body.message_reference).toEqual({ message_id: ids[1], fail_if_not_exists: false });

    const plain = await discordHarness();
    await plain.start();
    await plain.adapter.send(reply(plain.fake.dmChannelId, 'hi', { inReplyTo: ['1200000000000000001'] }));
    expect(plain.fake.postedMessages.map((p) => [p.channelId, p.body.message_reference])).toEqual([[plain.fake.dmChannelId, undefined]]);
  });

  it('waits out a 429 with Retry-After and still delivers every piece in order', async () => {
    const h = await discordHarness();
    await h.start();
    h.fake.failNextPost(429, 1);
    const text = 'first half '.repeat(150) + '\n' + 'second half '.repeat(150);
    await h.adapter.send(reply(h.fake.channelId, text));

    expect(h.fake.postAttempts.map((a) => a.status)).toEqual([429, 200, 200]);
    const [limited, retried] = h.fake.postAttempts;
    // Retry-After: 1 was honoured (a lower bound only: the machine may be slower, never faster).
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(retried?.content).toBe(limited?.content);
    expect(h.fake.postedMessages.map((p) => p.content.slice(0, 11))).toEqual(['first half ', 'second half']);
  });

  it('rejects with an AdapterError when Discord refuses the post for good', async () => {
    const h = await discordHarness();
    await h.start();
    h.fake.failNextPost(403);
    const err = await h.adapter.send(reply(h.fake.channelId, 'not allowed here')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: 'BG_ERR_ADAPTER', platform: 'discord' });
    expect((err as Error).message).toMatch(/^discord adapter: could not post to channel \d+ \(part 1 of 1\): Missing Permissions/);
    // The adapter still works afterwards.
    await h.adapter.send(reply(h.fake.channelId, 'fine now'));
    expect(h.fake.postedMessages.map((p) => p.content)).toEqual(['fine now']);
  });

  it('posts nothing for an empty reply, and refuses to send after close()', async () => {
    const h = await discordHarness();
    await h.start();
    await h.adapter.send(reply(h.fake.channelId, '  \n '));
    expect(h.fake.postAttempts).toEqual([]);
    await h.adapter.close();
    await expect(h.adapter.send(reply(h.fake.channelId, 'late'))).rejects.toBeInstanceOf(AdapterError);
  });
});
