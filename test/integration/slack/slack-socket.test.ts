import { describe, expect, it, vi } from 'vitest';
import { eventCallback, messageEvent } from '../../fakes/slack/index.js';
import { startSlackHarness } from './harness.js';

const WAIT = { timeout: 10_000, interval: 20 };

describe('slack adapter, Socket Mode (real Bolt SocketModeReceiver, fake socket)', () => {
  it('a burst through events_api envelopes reaches accept in order, every envelope acked, one reply posted', async () => {
    const h = await startSlackHarness({ mode: 'socket' });
    expect(h.adapter.ready()).toBe(true);
    expect(h.fake.callsTo('apps.connections.open').map((c) => c.token)).toEqual([h.fake.appToken]);
    const envelopes = ['one', 'two', 'three'].map((text) => h.fake.sendEnvelope(eventCallback(messageEvent({ channel: 'C0SOCK001', text }))));
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toEqual(['one', 'two', 'three']), WAIT);
    await vi.waitFor(() => expect([...h.fake.acks].sort()).toEqual([...envelopes].sort()), WAIT);
    expect(h.accepted.every((m) => m.channelId === 'C0SOCK001')).toBe(true);

    await h.adapter.send({ platform: 'slack', channelId: 'C0SOCK001', text: 'one\ntwo\nthree', batchId: 'b1', inReplyTo: h.accepted.map((m) => m.id) });
    expect(h.fake.posts()).toEqual([expect.objectContaining({ channel: 'C0SOCK001', text: 'one\ntwo\nthree' })]);
  });

  it('a redelivered envelope (retry_attempt 1, same event_id) is acked again but accepted once; bots are ignored', async () => {
    const h = await startSlackHarness({ mode: 'socket' });
    const body = eventCallback(messageEvent({ text: 'only once' }));
    const first = h.fake.sendEnvelope(body);
    const retry = h.fake.sendEnvelope(body, { retryAttempt: 1, retryReason: 'timeout' });
    const bot = h.fake.sendEnvelope(eventCallback(messageEvent({ subtype: 'bot_message', bot_id: 'B0OTHER01', text: 'beep', user: undefined })));
    const sentinel = h.fake.sendEnvelope(eventCallback(messageEvent({ text: 'sentinel' })));
    await vi.waitFor(() => expect(h.fake.acks).toEqual(expect.arrayContaining([first, retry, bot, sentinel])), WAIT);
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toContain('sentinel'), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['only once', 'sentinel']);
  });

  it('after disconnect (refresh_requested) the client reconnects and later messages still arrive', async () => {
    const h = await startSlackHarness({ mode: 'socket' });
    h.fake.sendEnvelope(eventCallback(messageEvent({ channel: 'C0SOCK002', text: 'before' })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(1), WAIT);

    h.fake.disconnectSocket('refresh_requested');
    await vi.waitFor(() => expect(h.adapter.ready()).toBe(false), WAIT);
    // socket-mode waits clientPingTimeout (5 s) before reconnecting; allow generously.
    await vi.waitFor(() => expect(h.fake.connections()).toBe(2), { timeout: 20_000, interval: 50 });
    await h.fake.waitForSocket(20_000);
    await vi.waitFor(() => expect(h.adapter.ready()).toBe(true), { timeout: 20_000, interval: 50 });
    expect(h.fake.callsTo('apps.connections.open')).toHaveLength(2);

    const after = ['after one', 'after two'].map((text) => h.fake.sendEnvelope(eventCallback(messageEvent({ channel: 'C0SOCK002', text }))));
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toEqual(['before', 'after one', 'after two']), WAIT);
    await vi.waitFor(() => expect(h.fake.acks).toEqual(expect.arrayContaining(after)), WAIT);
  }, 45_000);

  it('close() disconnects the socket and ready() turns false', async () => {
    const h = await startSlackHarness({ mode: 'socket' });
    expect(h.adapter.ready()).toBe(true);
    await h.adapter.close();
    await h.adapter.close(); // idempotent
    expect(h.adapter.ready()).toBe(false);
    await vi.waitFor(() => expect(() => h.fake.sendEnvelope({})).toThrow(/no open Socket Mode connection/), WAIT);
  });
});
