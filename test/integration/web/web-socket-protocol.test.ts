import { describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../../src/core/events.js';
import { AdapterError, ErrorCode } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { CHANNEL_ID_PATTERN, WebAdapter } from '../../../adapters/web/index.js';
import { TestSocket, startWebHarness, until } from './harness.js';

function event(channelId: string, e: Record<string, unknown> & { type: QueueEvent['type'] }): QueueEvent {
  return { channelKey: `web:${channelId}`, at: Date.now(), ...e } as QueueEvent;
}

function reply(channelId: string, text: string, batchId = 'b1') {
  return { platform: 'web', channelId, text, batchId, inReplyTo: ['m1'] };
}

describe('web adapter: hello and channels', () => {
  it('gives a new browser a url-safe channel id and keeps a valid one it brings back', async () => {
    const h = await startWebHarness();
    const first = await TestSocket.hello(h.wsUrl);
    expect(first.channelId).toMatch(CHANNEL_ID_PATTERN);

    const again = await TestSocket.hello(h.wsUrl, first.channelId);
    expect(again.channelId).toBe(first.channelId);

    for (const bad of ['short', '../../etc/passwd', 'a'.repeat(65), 'has space in it']) {
      const fresh = await TestSocket.hello(h.wsUrl, bad);
      expect(fresh.channelId).toMatch(CHANNEL_ID_PATTERN);
      expect(fresh.channelId).not.toBe(bad);
    }
  });

  it('hands a message to accept as web:<channel> and answers accepted, then shows the open batch to every tab', async () => {
    const h = await startWebHarness();
    const { socket: tab1, channelId } = await TestSocket.hello(h.wsUrl);
    const { socket: tab2 } = await TestSocket.hello(h.wsUrl, channelId);

    tab1.send({ type: 'message', text: '  hello there \n', clientId: 'c-1', userName: 'Ada' });
    const accepted = await tab1.next('accepted');
    expect(h.accepted).toHaveLength(1);
    const msg = h.accepted[0]!;
    expect(msg).toMatchObject({ platform: 'web', channelId, userId: channelId, userName: 'Ada', text: 'hello there', extra: {} });
    expect(msg.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(accepted).toMatchObject({ clientId: 'c-1', id: msg.id, pending: 1 });
    expect(accepted.deadline).toBeGreaterThan(accepted.now);

    const c1 = await tab1.next('collecting');
    const c2 = await tab2.next('collecting');
    expect(c1).toMatchObject({ pending: 1, deadline: accepted.deadline });
    expect(c2).toMatchObject({ pending: 1, deadline: accepted.deadline });
    // The other tab also sees what was typed, so both show the same conversation.
    expect(await tab2.next('user-message')).toMatchObject({ id: msg.id, clientId: 'c-1', text: 'hello there', userName: 'Ada' });

    tab2.send({ type: 'message', text: 'no name given' });
    await tab2.next('accepted');
    expect(h.accepted[1]?.userName).toBe('You');
  });

  it('turns queue events into queued / processing / idle frames and replies into reply frames for that channel only', async () => {
    const h = await startWebHarness();
    const { socket: a1, channelId: a } = await TestSocket.hello(h.wsUrl);
    const { socket: a2 } = await TestSocket.hello(h.wsUrl, a);
    const { socket: b1, channelId: b } = await TestSocket.hello(h.wsUrl);

    h.adapter.onQueueEvent(event(a, { type: 'batch.flushed', batchId: 'b1', size: 3, reason: 'window', deadline: Date.now(), latenessMs: 1 }));
    h.adapter.onQueueEvent(event(a, { type: 'batch.started', batchId: 'b1', size: 3, waitMs: 0, messageIds: ['m1', 'm2', 'm3'] }));
    // Other platforms' events are none of this adapter's business.
    h.adapter.onQueueEvent({ channelKey: `slack:${b}`, at: Date.now(), type: 'batch.started', batchId: 'x', size: 1, waitMs: 0, messageIds: ['q'] });
    await h.adapter.send(reply(a, 'first answer'));
    h.adapter.onQueueEvent(event(a, { type: 'batch.completed', batchId: 'b1', size: 3, durationMs: 5, replies: 1 }));

    for (const tab of [a1, a2]) {
      expect(await tab.next('queued')).toEqual({ type: 'queued', batchId: 'b1', size: 3 });
      expect(await tab.next('processing')).toEqual({ type: 'processing', batchId: 'b1', size: 3 });
      expect(await tab.next('reply')).toMatchObject({ text: 'first answer', batchId: 'b1', inReplyTo: ['m1'] });
      expect(await tab.next('idle')).toEqual({ type: 'idle', batchId: 'b1', outcome: 'completed' });
    }
    // b's tab: a probe reply proves the socket works, and nothing of a's arrived before it.
    await h.adapter.send(reply(b, 'probe'));
    await b1.next('reply');
    expect(b1.frames).toEqual([]);

    h.adapter.onQueueEvent(event(a, { type: 'batch.started', batchId: 'b2', size: 1, waitMs: 0, messageIds: ['m4'] }));
    h.adapter.onQueueEvent(event(a, { type: 'batch.failed', batchId: 'b2', size: 1, durationMs: 5, error: 'boom', timeout: false }));
    expect(await a1.next('idle')).toEqual({ type: 'idle', batchId: 'b2', outcome: 'failed' });
    h.adapter.onQueueEvent(event(a, { type: 'queue.cleared', removed: 2 }));
    expect(await a1.next('idle')).toEqual({ type: 'idle', outcome: 'cleared' });
  });

  it('keeps replies for a channel with no open tab and delivers them, in order, on its next hello', async () => {
    const h = await startWebHarness({ replyBufferPerChannel: 3 });
    const { socket, channelId } = await TestSocket.hello(h.wsUrl);
    socket.ws.close();
    await socket.closed;
    await until(() => h.adapter.socketsOf(channelId) === 0, 'the server to see the tab go');

    for (const n of [1, 2, 3, 4]) await h.adapter.send(reply(channelId, `answer ${n}`, `b${n}`));
    expect(h.adapter.stats()).toMatchObject({ bufferedReplies: 3, droppedReplies: 1 });

    const back = await TestSocket.hello(h.wsUrl, channelId);
    await until(() => back.socket.frames.filter((f) => f.type === 'reply').length === 3, 'three buffered replies');
    expect(back.socket.frames.map((f) => (f.type === 'reply' ? f.text : f.type))).toEqual(['answer 2', 'answer 3', 'answer 4']);
    expect(h.adapter.stats().bufferedReplies).toBe(0);
  });

  it('shows a tab that connects mid-batch what is going on', async () => {
    const h = await startWebHarness();
    const { socket, channelId } = await TestSocket.hello(h.wsUrl);
    socket.send({ type: 'message', text: 'one' });
    await socket.next('collecting');
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.started', batchId: 'b0', size: 1, waitMs: 0, messageIds: ['x'] }));

    const late = await TestSocket.hello(h.wsUrl, channelId);
    expect(await late.socket.next('collecting')).toMatchObject({ pending: 1 });
    expect(await late.socket.next('processing')).toEqual({ type: 'processing', batchId: 'b0', size: 1 });
  });

  it('hands a typing frame over as the channel typing, refuses one before hello, and shows a hold as a later deadline', async () => {
    const h = await startWebHarness();
    const early = await TestSocket.open(h.wsUrl);
    early.send({ type: 'typing' });
    expect(await early.next('error')).toMatchObject({ code: ErrorCode.BadRequest, reason: expect.stringContaining('hello') as string });

    const { socket, channelId } = await TestSocket.hello(h.wsUrl);
    const { socket: other } = await TestSocket.hello(h.wsUrl, channelId);
    socket.send({ type: 'message', text: 'first line', clientId: 'm-1' });
    const first = await socket.next('collecting');
    await other.next('collecting');
    socket.send({ type: 'typing' });
    await until(() => h.typingSignals.length === 1, 'the typing signal');
    // The web chat's author is the browser's channel.
    expect(h.typingSignals).toEqual([{ channelId, userId: channelId }]);

    const held = first.deadline + 7_000;
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.held', batchId: 'b1', reason: 'typing', deadline: held }));
    expect(await socket.next('collecting')).toMatchObject({ deadline: held, pending: 1 });
    expect(await other.next('collecting')).toMatchObject({ deadline: held, pending: 1 });
    // A hold that would not move the deadline later shows nothing new; the next frame is the seal's.
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.held', batchId: 'b1', reason: 'typing', deadline: held - 1 }));
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.flushed', batchId: 'b1', size: 1, reason: 'window', deadline: held, latenessMs: 0 }));
    await socket.next('queued');
    expect(socket.frames.filter((f) => f.type === 'collecting')).toEqual([]);
  });

  it('shows no collecting or typing state for a channel whose typing setting is off', async () => {
    const h = await startWebHarness();
    h.answer = (msg, count) => ({ accepted: true, channelKey: `web:${msg.channelId}`, id: msg.id, deadline: Date.now() + 5_000, pending: count, typing: false });
    const { socket, channelId } = await TestSocket.hello(h.wsUrl);
    socket.send({ type: 'message', text: 'quiet please', clientId: 'q' });
    await socket.next('accepted');
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.flushed', batchId: 'b1', size: 1, reason: 'window', deadline: Date.now(), latenessMs: 0 }));
    h.adapter.onQueueEvent(event(channelId, { type: 'batch.started', batchId: 'b1', size: 1, waitMs: 0, messageIds: ['x'] }));
    await h.adapter.send(reply(channelId, 'done'));
    await socket.next('reply');
    expect(socket.frames.map((f) => f.type)).toEqual([]);
  });
});

describe('web adapter: bad input', () => {
  it('answers each bad frame with a coded error and keeps that socket and the others working', async () => {
    const h = await startWebHarness({ maxTextChars: 100 });
    const { socket: bystander } = await TestSocket.hello(h.wsUrl);
    const early = await TestSocket.open(h.wsUrl);
    early.send({ type: 'message', text: 'before hello', clientId: 'e1' });
    expect(await early.next('error')).toMatchObject({ code: ErrorCode.BadRequest, clientId: 'e1', reason: expect.stringContaining('hello') });

    const { socket: victim } = await TestSocket.hello(h.wsUrl);
    const cases: Array<{ frame: unknown; code: string; reason: RegExp }> = [
      { frame: 'this is not json', code: ErrorCode.BadRequest, reason: /not JSON/ },
      { frame: '{"type":"message","text":"unterminated', code: ErrorCode.BadRequest, reason: /not JSON/ },
      { frame: '[1,2,3]', code: ErrorCode.BadRequest, reason: /object/ },
      { frame: { text: 'no type' }, code: ErrorCode.BadRequest, reason: /type/ },
      { frame: { type: 'subscribe', topic: 'all' }, code: ErrorCode.BadRequest, reason: /unknown message type "subscribe"/ },
      { frame: { type: 'message', text: 42 }, code: ErrorCode.BadRequest, reason: /text/ },
      { frame: { type: 'message', text: '' }, code: ErrorCode.InvalidMessage, reason: /empty/ },
      { frame: { type: 'message', text: ' \n\t ' }, code: ErrorCode.InvalidMessage, reason: /empty/ },
      { frame: { type: 'message', text: 'x'.repeat(101) }, code: ErrorCode.InvalidMessage, reason: /101 characters; the limit is 100/ },
    ];
    for (const c of cases) {
      victim.send(c.frame);
      const err = await victim.next('error');
      expect(err.code, JSON.stringify(c.frame)).toBe(c.code);
      expect(err.reason, JSON.stringify(c.frame)).toMatch(c.reason);
    }
    victim.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await victim.next('error')).toMatchObject({ code: ErrorCode.BadRequest, reason: expect.stringContaining('binary') });
    expect(h.accepted).toHaveLength(0);

    // A refusal from the queue reaches the sender with its reason and the matching code.
    h.answer = () => ({ accepted: false, reason: ErrorCode.QueueFull, detail: '100 batches waiting' });
    victim.send({ type: 'message', text: 'too much', clientId: 'v9' });
    expect(await victim.next('error')).toEqual({ type: 'error', code: ErrorCode.QueueFull, reason: 'queue full: 100 batches waiting', clientId: 'v9' });

    h.answer = (msg, count) => ({ accepted: true, channelKey: `web:${msg.channelId}`, id: msg.id, deadline: Date.now() + 1_000, pending: count, typing: true });
    victim.send({ type: 'message', text: 'still here', clientId: 'v10' });
    expect(await victim.next('accepted')).toMatchObject({ clientId: 'v10' });
    bystander.send({ type: 'message', text: 'unaffected', clientId: 'b1' });
    expect(await bystander.next('accepted')).toMatchObject({ clientId: 'b1' });
  });

  it('closes a socket that sends a frame over maxFrameBytes with 1009 and nobody else', async () => {
    const h = await startWebHarness({ maxFrameBytes: 1_024 });
    const { socket: bystander, channelId } = await TestSocket.hello(h.wsUrl);
    const { socket: big } = await TestSocket.hello(h.wsUrl);
    big.send({ type: 'message', text: 'y'.repeat(2_000) });
    expect(await big.closed).toBe(1009);
    expect(h.accepted).toHaveLength(0);

    bystander.send({ type: 'message', text: 'fine', clientId: 'ok' });
    expect(await bystander.next('accepted')).toMatchObject({ clientId: 'ok' });
    await h.adapter.send(reply(channelId, 'and replies still flow'));
    expect(await bystander.next('reply')).toMatchObject({ text: 'and replies still flow' });
  });
});

describe('web adapter: lifecycle', () => {
  it('refuses to start without its routes, with an AdapterError that says what to do', async () => {
    const adapter = new WebAdapter({ maxFrameBytes: 16_384 });
    const err = await adapter.start({ accept: async () => ({ accepted: false, reason: ErrorCode.InvalidMessage }), logger: silentLogger(), signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe(ErrorCode.Adapter);
    expect((err as AdapterError).message).toMatch(/^web adapter: routes\(\) was not called/);
  });

  it('stops taking messages when the gateway shuts down, and close() says goodbye with 1001, twice safely', async () => {
    const h = await startWebHarness();
    const { socket } = await TestSocket.hello(h.wsUrl);
    expect(h.adapter.ready()).toBe(true);
    h.shutdown.abort();
    socket.send({ type: 'message', text: 'late', clientId: 'late' });
    expect(await socket.next('error')).toMatchObject({ code: ErrorCode.ShuttingDown, clientId: 'late' });
    expect(h.accepted).toHaveLength(0);

    await Promise.all([h.adapter.close(), h.adapter.close()]);
    expect(await socket.closed).toBe(1001);
    expect(h.adapter.ready()).toBe(false);
  });
});

describe('web adapter: resends and static files', () => {
  it('takes a message resent with the same clientId (after a reconnect) only once', async () => {
    const h = await startWebHarness();
    const { socket, channelId } = await TestSocket.hello(h.wsUrl);
    socket.send({ type: 'message', text: 'once', clientId: 'same' });
    const first = await socket.next('accepted');
    socket.ws.close();
    await socket.closed;

    const again = await TestSocket.hello(h.wsUrl, channelId);
    again.socket.send({ type: 'message', text: 'once', clientId: 'same' });
    expect(await again.socket.next('error')).toMatchObject({ code: ErrorCode.Duplicate, clientId: 'same' });
    expect(h.accepted.map((m) => m.id)).toEqual([first.id]);

    // The same clientId in another channel is a different message.
    const other = await TestSocket.hello(h.wsUrl);
    other.socket.send({ type: 'message', text: 'once', clientId: 'same' });
    const third = await other.socket.next('accepted');
    expect(third.id).not.toBe(first.id);
  });

  it('serves the page, script and stylesheet from this server with a strict CSP and revalidation', async () => {
    const h = await startWebHarness();
    const page = await fetch(`${h.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<meta name="viewport"');
    expect(html).toContain('src="/chat.js"');

    for (const [path, type] of [['/chat.js', 'text/javascript'], ['/chat.css', 'text/css']] as const) {
      const res = await fetch(`${h.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      const body = await res.text();
      // Everything is local: no fonts, scripts or images from elsewhere.
      expect(body).not.toMatch(/https?:\/\/|@import|url\(/);
      const etag = res.headers.get('etag');
      expect(etag).toBeTruthy();
      const again = await fetch(`${h.baseUrl}${path}`, { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
    }
    expect(html).not.toMatch(/https?:\/\//);
  });
});
