import { describe, expect, it, vi } from 'vitest';
import type { QueueEvent } from '../../../src/core/events.js';
import { AdapterError, ErrorCode } from '../../../src/errors.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { eventCallback, messageEvent, nextTs } from '../../fakes/slack/index.js';
import { startSlackHarness, type SlackHarness } from './harness.js';

const WAIT = { timeout: 10_000, interval: 20 };

function reply(channelId: string, text: string, extra: Partial<OutboundMessage> = {}): OutboundMessage {
  return { platform: 'slack', channelId, text, batchId: 'batch-1', inReplyTo: [], ...extra };
}

/** Posts `texts` as one burst in `channel`, waits until all were accepted, returns their message ids. */
async function burst(h: SlackHarness, channel: string, texts: string[], threadTs?: string): Promise<string[]> {
  const before = h.accepted.length;
  for (const text of texts) {
    const res = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ channel, text, ...(threadTs ? { thread_ts: threadTs } : {}) })));
    expect(res.status).toBe(200);
  }
  await vi.waitFor(() => expect(h.accepted.length).toBe(before + texts.length), WAIT);
  return h.accepted.slice(before).map((m) => m.id);
}

function started(channelKey: string, batchId: string, messageIds: string[]): QueueEvent {
  return { type: 'batch.started', channelKey, batchId, at: Date.now(), size: messageIds.length, waitMs: 0, messageIds };
}

describe('slack adapter, sending and receipts', () => {
  it('three events in a window → one chat.postMessage with the combined reply; thread replies go into the thread', async () => {
    const h = await startSlackHarness();
    const ids = await burst(h, 'C0CHAN001', ['one', 'two', 'three']);
    // What the gateway does when the window closes: one batch, one reply.
    await h.adapter.send(reply('C0CHAN001', h.accepted.map((m) => m.text).join('\n'), { inReplyTo: ids }));
    expect(h.fake.posts()).toEqual([expect.objectContaining({ channel: 'C0CHAN001', text: 'one\ntwo\nthree' })]);
    expect(h.fake.posts()[0]).not.toHaveProperty('thread_ts');

    const parent = nextTs();
    h.fake.addMessage('C0CHAN001', parent); // the message the thread hangs off
    await burst(h, 'C0CHAN001', ['in thread'], parent);
    const threadChannel = h.accepted.at(-1)?.channelId ?? '';
    expect(threadChannel).toBe(`C0CHAN001/${parent}`);
    await h.adapter.send(reply(threadChannel, 'answer in thread'));
    expect(h.fake.posts()[1]).toMatchObject({ channel: 'C0CHAN001', thread_ts: parent, text: 'answer in thread' });
  });

  it('splits a long reply into posts of at most 3,000 characters, in order, losing no words', async () => {
    const h = await startSlackHarness();
    const words = Array.from({ length: 1_500 }, (_, i) => `word${i}`);
    const text = words.join(' ');
    await h.adapter.send(reply('C0CHAN001', text));
    const posts = h.fake.posts();
    expect(posts.length).toBeGreaterThan(1);
    for (const p of posts) expect((p.text ?? '').length).toBeLessThanOrEqual(3_000);
    expect(posts.map((p) => p.text).join(' ').split(' ')).toEqual(words);
  });

  it('waits out a 429 (Retry-After: 1) and delivers every part in order', async () => {
    const h = await startSlackHarness({ adapter: { textLimit: 11 } });
    h.fake.failNextPost(429, 1);
    const startedAt = Date.now();
    await h.adapter.send(reply('C0CHAN001', 'first part second part'));
    const attempts = h.fake.callsTo('chat.postMessage');
    expect(attempts.map((c) => c.status)).toEqual([429, 200, 200]);
    expect(h.fake.posts().map((p) => p.text)).toEqual(['first part', 'second part']);
    // The retry came after the server's Retry-After, not before (a floor, not a timing bound).
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(950);
    expect(h.logs.some((l) => l.msg === 'slack rate limit: waiting Retry-After' && l.retryAfterSec === 1)).toBe(true);
  });

  it('a 429 in the middle of a split reply keeps the order of the parts', async () => {
    const h = await startSlackHarness({ adapter: { textLimit: 5 } });
    h.fake.failNextPost(429, 1, 1, 1);
    await h.adapter.send(reply('C0CHAN001', 'aaaa bbbb cccc'));
    expect(h.fake.callsTo('chat.postMessage').map((c) => [c.args.text, c.status])).toEqual([
      ['aaaa', 200],
      ['bbbb', 429],
      ['bbbb', 200],
      ['cccc', 200],
    ]);
    expect(h.fake.posts().map((p) => p.text)).toEqual(['aaaa', 'bbbb', 'cccc']);
  });

  it('rejects with an AdapterError when Slack refuses the post for good', async () => {
    const h = await startSlackHarness();
    const err = await h.adapter.send(reply('', 'to nowhere')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe(ErrorCode.Adapter);
    expect((err as AdapterError).message).toMatch(/slack adapter: chat\.postMessage .*channel_not_found/);
  });

  it('receipts: 👀 on accepted messages, swapped for ✅ when the batch completed and its reply was posted (reply first, event later)', async () => {
    const h = await startSlackHarness();
    const ids = await burst(h, 'C0RCPT001', ['a', 'b', 'c']);
    const where = ids.map((id) => ({ channel: id.split(':')[0] ?? '', ts: id.split(':')[1] ?? '' }));
    await vi.waitFor(() => expect(where.map((w) => h.fake.reactionsOn(w.channel, w.ts))).toEqual([['eyes'], ['eyes'], ['eyes']]), WAIT);

    h.adapter.onQueueEvent({ type: 'batch.flushed', channelKey: 'slack:C0RCPT001', batchId: 'b1', at: Date.now(), size: 3, reason: 'window', deadline: Date.now(), latenessMs: 0 });
    h.adapter.onQueueEvent(started('slack:C0RCPT001', 'b1', ids));
    // Events and replies travel on different bus channels: the reply can be posted before batch.completed arrives.
    await h.adapter.send(reply('C0RCPT001', 'a\nb\nc', { batchId: 'b1', inReplyTo: ids }));
    await h.adapter.idle();
    expect(where.map((w) => h.fake.reactionsOn(w.channel, w.ts))).toEqual([['eyes'], ['eyes'], ['eyes']]);
    h.adapter.onQueueEvent({ type: 'batch.completed', channelKey: 'slack:C0RCPT001', batchId: 'b1', at: Date.now(), size: 3, durationMs: 5, replies: 1 });
    await h.adapter.idle();
    expect(where.map((w) => h.fake.reactionsOn(w.channel, w.ts))).toEqual([['white_check_mark'], ['white_check_mark'], ['white_check_mark']]);
    expect(h.fake.calls.filter((c) => c.method.startsWith('reactions.')).every((c) => c.response.ok === true)).toBe(true);
  });

  it('receipts: a cancelled or failed batch loses its 👀 and gets no ✅', async () => {
    const h = await startSlackHarness();
    const [cancelled = ''] = await burst(h, 'C0RCPT002', ['cancel me']);
    const [failed = ''] = await burst(h, 'C0RCPT003', ['fail me']);
    h.adapter.onQueueEvent(started('slack:C0RCPT002', 'bc', [cancelled]));
    h.adapter.onQueueEvent(started('slack:C0RCPT003', 'bf', [failed]));
    h.adapter.onQueueEvent({ type: 'batch.cancelled', channelKey: 'slack:C0RCPT002', batchId: 'bc', at: Date.now(), size: 1, durationMs: 1, reason: 'cancel' });
    h.adapter.onQueueEvent({ type: 'batch.failed', channelKey: 'slack:C0RCPT003', batchId: 'bf', at: Date.now(), size: 1, durationMs: 1, error: 'boom', timeout: false });
    await h.adapter.idle();
    for (const id of [cancelled, failed]) {
      const [channel = '', ts = ''] = id.split(':');
      expect(h.fake.reactionsOn(channel, ts)).toEqual([]);
    }
    // The add landed before the remove even though the batch ended at once: no stuck 👀, no errors.
    expect(h.fake.calls.filter((c) => c.method.startsWith('reactions.')).map((c) => [c.method, c.response.ok])).toEqual([
      ['reactions.add', true],
      ['reactions.add', true],
      ['reactions.remove', true],
      ['reactions.remove', true],
    ]);
  });

  it('receipts: a batch that ends before accept answers never leaves a stuck 👀', async () => {
    const h = await startSlackHarness();
    let release!: () => void;
    h.holdAccept = new Promise<void>((r) => (release = r));
    const event = messageEvent({ channel: 'C0FAST001', text: 'instant' });
    const id = `C0FAST001:${String(event.ts)}`;
    expect((await h.fake.postEvent(h.eventsUrl, eventCallback(event))).status).toBe(200);
    // Batching disabled + a fast processor: the whole batch runs before accept's promise resolves.
    h.adapter.onQueueEvent(started('slack:C0FAST001', 'bfast', [id]));
    h.adapter.onQueueEvent({ type: 'batch.completed', channelKey: 'slack:C0FAST001', batchId: 'bfast', at: Date.now(), size: 1, durationMs: 1, replies: 1 });
    await h.adapter.send(reply('C0FAST001', 'instant', { batchId: 'bfast', inReplyTo: [id] }));
    release();
    await vi.waitFor(() => expect(h.fake.reactionsOn('C0FAST001', String(event.ts))).toEqual(['white_check_mark']), WAIT);
    await h.adapter.idle();
    expect(h.fake.calls.filter((c) => c.method.startsWith('reactions.')).map((c) => [c.method, c.args.name])).toEqual([['reactions.add', 'white_check_mark']]);
  });

  it('receipts follow the channel typing setting and the receiptReaction key (empty = off)', async () => {
    const quiet = await startSlackHarness({ typing: false });
    const [id = ''] = await burst(quiet, 'C0QUIET01', ['shh']);
    quiet.adapter.onQueueEvent(started('slack:C0QUIET01', 'bq', [id]));
    quiet.adapter.onQueueEvent({ type: 'batch.completed', channelKey: 'slack:C0QUIET01', batchId: 'bq', at: Date.now(), size: 1, durationMs: 1, replies: 1 });
    await quiet.adapter.send(reply('C0QUIET01', 'shh', { batchId: 'bq', inReplyTo: [id] }));
    await quiet.adapter.idle();
    expect(quiet.fake.calls.filter((c) => c.method.startsWith('reactions.'))).toEqual([]);

    const off = await startSlackHarness({ adapter: { receiptReaction: '' } });
    await burst(off, 'C0OFF0001', ['no receipts']);
    await off.adapter.idle();
    expect(off.fake.calls.filter((c) => c.method.startsWith('reactions.'))).toEqual([]);

    const custom = await startSlackHarness({ adapter: { receiptReaction: 'hourglass', doneReaction: '' } });
    const [cid = ''] = await burst(custom, 'C0CUSTOM1', ['custom']);
    const [channel = '', ts = ''] = cid.split(':');
    await vi.waitFor(() => expect(custom.fake.reactionsOn(channel, ts)).toEqual(['hourglass']), WAIT);
    custom.adapter.onQueueEvent(started('slack:C0CUSTOM1', 'bx', [cid]));
    custom.adapter.onQueueEvent({ type: 'batch.completed', channelKey: 'slack:C0CUSTOM1', batchId: 'bx', at: Date.now(), size: 1, durationMs: 1, replies: 1 });
    await custom.adapter.send(reply('C0CUSTOM1', 'custom', { batchId: 'bx', inReplyTo: [cid] }));
    await custom.adapter.idle();
    expect(custom.fake.reactionsOn(channel, ts)).toEqual([]);
  });
});
