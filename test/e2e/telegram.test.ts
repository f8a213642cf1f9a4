import { Bot, GrammyError } from 'grammy';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { TELEGRAM_EDIT_INTERVAL_MS, type TelegramAdapter, type TelegramExtra } from '../../adapters/telegram/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { MessageBatch } from '../../src/core/model.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import type { Processor } from '../../src/processors/processor.js';
import { BOB, FORUM_CHAT, GROUP_CHAT, OTHER_BOT, PRIVATE_CHAT, photoSizes, startFakeTelegram, type FakeTelegram } from '../fakes/telegram/index.js';
import { heldProcessor } from '../helpers/held-processor.js';
import { freePort } from '../helpers/redis-server.js';
import { streamFeed } from '../helpers/stream-feed.js';
import { tempState } from '../helpers/temp-state.js';

/**
 * Telegram end to end: the real gateway (config → TelegramAdapter on grammY → MessageQueue → processor →
 * replies → sendMessage) against the fake Bot API on loopback. Assertions read what a Telegram user would
 * see (the fake's sendMessage / sendChatAction log) and the batches the processor got.
 */

interface Running {
  tg: FakeTelegram;
  gateway: Gateway;
  batches: MessageBatch[];
  events: QueueEvent[];
  adapter(): TelegramAdapter;
}

/** Answers each batch with `<n>: <texts joined by " / ">`, unless the test brings its own processor. */
const recordingProcessor =
  (batches: MessageBatch[]): Processor =>
  async (batch, ctx) => {
    batches.push(batch);
    await ctx.reply(`${batch.size}: ${batch.messages.map((m) => m.text).join(' / ')}`);
  };

async function startGateway(options: { processor?: Processor; batching?: Record<string, unknown>; telegram?: Record<string, unknown>; port?: number } = {}): Promise<Running> {
  const tg = await startFakeTelegram();
  const batches: MessageBatch[] = [];
  const config = parseConfig(
    {
      http: { port: options.port ?? 0 },
      state: tempState(),
      batching: { defaults: { windowMs: 1_000, ...options.batching } },
      adapters: { web: { enabled: false }, webhook: { enabled: false }, telegram: { enabled: true, token: tg.token, apiUrl: tg.apiUrl, ...options.telegram } },
    },
    {},
  );
  const gateway = createGateway({ config, logger: pino({ level: 'silent' }), processor: options.processor ?? recordingProcessor(batches) });
  onTestFinished(async () => {
    // The bot stops polling (confirming its offset) before its server goes away.
    await gateway.close();
    await tg.close();
  });
  await gateway.start();
  const events: QueueEvent[] = [];
  gateway.queue.on((e) => events.push(e));
  return { tg, gateway, batches, events, adapter: () => gateway.adapters.find((a) => a.platform === 'telegram') as TelegramAdapter };
}

/** Texts the bot posted, once there are at least `n`. */
async function sentTexts(tg: FakeTelegram, n: number): Promise<string[]> {
  await tg.waitFor(() => tg.sent.length >= n, `${n} sent messages`);
  return tg.sent.map((s) => s.text);
}

/** Resolves with the next accepted message, so a sender can pace itself from what the gateway took. */
function nextAccepted(gateway: Gateway): Promise<void> {
  return new Promise((resolve) => {
    const off = gateway.onAccepted(() => {
      off();
      resolve();
    });
  });
}

describe('Telegram through the real gateway, grammY and the fake Bot API', () => {
  it('a burst in a private chat → one batch and one reply; typing went up while it collected', async () => {
    const { tg, batches, events } = await startGateway();
    for (const text of ['hi', 'quick question', 'the deploy failed']) tg.sendUserMessage({ text });

    expect(await sentTexts(tg, 1)).toEqual(['3: hi / quick question / the deploy failed']);
    expect(tg.sent[0]).toMatchObject({ chatId: PRIVATE_CHAT.id });
    expect(tg.sent[0]!.threadId).toBeUndefined();
    expect(batches.map((b) => b.channelKey)).toEqual([`telegram:${PRIVATE_CHAT.id}`]);
    expect(batches[0]!.messages[0]).toMatchObject({ userId: '1001', userName: 'Alice', extra: { chatType: 'private', username: 'alice' } });

    const flushed = events.find((e) => e.type === 'batch.flushed');
    const typing = tg.chatActions.filter((a) => a.chatId === PRIVATE_CHAT.id);
    expect(typing.length).toBeGreaterThanOrEqual(1);
    expect(typing[0]!.action).toBe('typing');
    expect(typing[0]!.at).toBeLessThanOrEqual(flushed!.at);
    expect(tg.calls.filter((c) => c.method === 'sendMessage')).toHaveLength(1);
  });

  it('a 3-photo album sent 1.5 s apart under a 1 s window → one batch with the three files and captions', async () => {
    const { tg, gateway, batches } = await startGateway({ batching: { windowMs: 1_000, maxWaitMs: 30_000 } });
    const captions = ['first', 'second', 'third'];
    for (const [i, caption] of captions.entries()) {
      const taken = nextAccepted(gateway);
      tg.sendUserMessage({ chat: GROUP_CHAT, from: BOB, caption, photo: photoSizes(`p${i + 1}`), mediaGroupId: 'album-1' });
      await taken;
      // The scenario: Telegram's album items come about 1.5 s apart, past the 1 s window.
      if (i < captions.length - 1) await new Promise((resolve) => setTimeout(resolve, 1_500));
    }

    expect(await sentTexts(tg, 1)).toEqual(['3: first / second / third']);
    expect(batches).toHaveLength(1);
    const extras = batches[0]!.messages.map((m) => m.extra as TelegramExtra);
    expect(extras.map((e) => e.mediaGroupId)).toEqual(['album-1', 'album-1', 'album-1']);
    expect(extras.map((e) => e.caption)).toEqual(captions);
    expect(extras.map((e) => e.files.map((f) => [f.kind, f.fileId]))).toEqual([[['photo', 'p1-large']], [['photo', 'p2-large']], [['photo', 'p3-large']]]);
    expect(batches[0]!.messages.map((m) => m.userName)).toEqual(['Bob Stone', 'Bob Stone', 'Bob Stone']);
  });

  it('a 429 on sendMessage is waited out: the reply arrives once, after retry_after', async () => {
    const { tg } = await startGateway({ batching: { windowMs: 200 } });
    tg.failNext('sendMessage', { retryAfter: 1 });
    tg.sendUserMessage({ text: 'hello' });

    expect(await sentTexts(tg, 1)).toEqual(['1: hello']);
    const attempts = tg.calls.filter((c) => c.method === 'sendMessage');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(990);
    // Nothing else was posted: a later message's reply is the second post.
    tg.sendUserMessage({ text: 'sentinel' });
    expect(await sentTexts(tg, 2)).toEqual(['1: hello', '1: sentinel']);
  });

  it('a reply longer than 4096 characters is split into messages that each fit, in order', async () => {
    const words = Array.from({ length: 1_500 }, (_, i) => `word${i}`);
    const long = words.join(' ');
    const { tg } = await startGateway({ batching: { windowMs: 200 }, processor: async (_batch, ctx) => void (await ctx.reply(long)) });
    tg.sendUserMessage({ text: 'tell me everything' });

    await tg.waitFor(() => tg.sent.map((s) => s.text).join(' ').split(' ').length >= words.length, 'every word posted');
    const parts = tg.sent.map((s) => s.text);
    expect(parts.length).toBe(Math.ceil(long.length / 4_096));
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4_096);
    expect(parts.join(' ')).toBe(long);
    expect(tg.calls.filter((c) => c.method === 'sendMessage').every((c) => c.status === 200)).toBe(true);
  });

  it('each forum topic is its own channel and its reply goes back into the topic', async () => {
    const { tg, batches } = await startGateway({ batching: { windowMs: 300 } });
    tg.sendUserMessage({ chat: FORUM_CHAT, text: 'in topic 42', threadId: 42 });
    tg.sendUserMessage({ chat: FORUM_CHAT, text: 'in topic 43', threadId: 43 });
    tg.sendUserMessage({ chat: FORUM_CHAT, from: BOB, text: 'also 42', threadId: 42 });
    tg.sendUserMessage({ chat: FORUM_CHAT, text: 'in General' });

    await sentTexts(tg, 3);
    const byChannel = Object.fromEntries(batches.map((b) => [b.channelKey, b.messages.map((m) => m.text)]));
    expect(byChannel).toEqual({
      [`telegram:${FORUM_CHAT.id}/42`]: ['in topic 42', 'also 42'],
      [`telegram:${FORUM_CHAT.id}/43`]: ['in topic 43'],
      [`telegram:${FORUM_CHAT.id}`]: ['in General'],
    });
    const threadOf = Object.fromEntries(tg.sent.map((s) => [s.text, s.threadId ?? null]));
    expect(threadOf).toEqual({ '2: in topic 42 / also 42': 42, '1: in topic 43': 43, '1: in General': null });
  });

  it("other bots' messages, the bot's own and edits never start a batch; edits are counted", async () => {
    const { tg, batches, adapter } = await startGateway({ batching: { windowMs: 200 } });
    const original = tg.sendUserMessage({ chat: GROUP_CHAT, text: 'hello' });
    expect(await sentTexts(tg, 1)).toEqual(['1: hello']);
    tg.sendUserMessage({ chat: GROUP_CHAT, from: OTHER_BOT, text: 'I am a bot' });
    tg.sendUserMessage({ chat: GROUP_CHAT, from: tg.bot, text: '1: hello' });
    tg.editUserMessage(original, 'hello (edited)');
    // Updates are handled in order: once the sentinel is answered, the three before it were seen.
    tg.sendUserMessage({ chat: GROUP_CHAT, text: 'sentinel' });
    expect(await sentTexts(tg, 2)).toEqual(['1: hello', '1: sentinel']);
    expect(batches.map((b) => b.messages.map((m) => m.text))).toEqual([['hello'], ['sentinel']]);
    expect(adapter().stats().editsIgnored).toBe(1);
  });

  it('a refused message gets one notice replying to it', async () => {
    const held = heldProcessor();
    const { tg } = await startGateway({ processor: held.processor, batching: { disabled: true, overflow: 'reject', maxQueuedBatches: 1 } });
    onTestFinished(() => held.release());
    tg.sendUserMessage({ text: 'one' }); // runs (held)
    tg.sendUserMessage({ text: 'two' }); // waits: the queue is at its bound
    const refused = tg.sendUserMessage({ text: 'three' });

    expect(await sentTexts(tg, 1)).toEqual([expect.stringContaining("this channel's queue is full")]);
    expect(tg.sent[0]).toMatchObject({ chatId: PRIVATE_CHAT.id, replyTo: refused.message_id });
    held.release();
    expect(await sentTexts(tg, 3)).toEqual([expect.stringContaining('queue is full'), 'done: one', 'done: two']);
  });
});

describe('Telegram webhook mode', () => {
  it('setWebhook at start; updates arrive with the secret; a wrong or missing secret is refused; a redelivery is taken once', async () => {
    const port = await freePort();
    const secret = 'hook-secret_123';
    const url = `http://127.0.0.1:${port}/telegram/webhook`;
    const { tg, gateway, batches } = await startGateway({ port, batching: { windowMs: 200 }, telegram: { mode: 'webhook', webhookSecret: secret, webhookUrl: url } });
    expect(tg.webhook()).toEqual({ url, secretToken: secret });
    expect(tg.calls.some((c) => c.method === 'getUpdates')).toBe(false);

    const update = { update_id: 555, message: { message_id: 900, date: 1, chat: PRIVATE_CHAT, from: BOB, text: 'forged' } };
    const post = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(update) });
    const wrong = await post({ 'x-telegram-bot-api-secret-token': 'not-the-secret' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('X-Telegram-Bot-Api-Secret-Token');
    expect((await post({})).status).toBe(401);

    tg.sendUserMessage({ text: 'via webhook' });
    expect(await sentTexts(tg, 1)).toEqual(['1: via webhook']);
    expect(tg.webhookDeliveries.map((d) => d.status)).toEqual([200]);

    // Telegram redelivers an update it got no answer for: the same update_id is taken once.
    const right = { 'x-telegram-bot-api-secret-token': secret };
    expect((await post(right)).status).toBe(200);
    expect((await post(right)).status).toBe(200);
    expect(await sentTexts(tg, 2)).toEqual(['1: via webhook', '1: forged']);
    expect(batches.map((b) => b.messages.map((m) => m.text))).toEqual([['via webhook'], ['forged']]);
    expect((await gateway.queue.stats(`telegram:${PRIVATE_CHAT.id}`))?.counters.received).toBe(2);
  });
});

describe('Telegram streamed replies (ctx.reply(asyncIterable) → sendMessage, then editMessageText)', () => {
  const WAIT = { timeout: 15_000, interval: 20 };
  /** Gaps between consecutive times, in ms. */
  const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
  const callsOf = (tg: FakeTelegram, method: string) => tg.calls.filter((c) => c.method === method);

  it('one message in the topic, edited no more often than the interval, ending with the whole answer', async () => {
    const feed = streamFeed();
    const { tg } = await startGateway({ batching: { windowMs: 200 }, processor: async (_batch, ctx) => void (await ctx.reply(feed.stream())) });
    tg.sendUserMessage({ chat: FORUM_CHAT, text: 'explain batching', threadId: 42 });
    feed.push('Batching ');
    await tg.waitFor(() => tg.sent.length === 1, 'the first post');
    feed.push('collects ');
    feed.push('messages');
    await tg.waitFor(() => tg.sent[0]!.text === 'Batching collects messages', 'the first edit');
    feed.push(' and answers once.');
    feed.end();
    await tg.waitFor(() => tg.sent[0]!.text === 'Batching collects messages and answers once.', 'the last edit');

    expect(tg.sent).toHaveLength(1);
    expect(tg.sent[0]).toMatchObject({ chatId: FORUM_CHAT.id, threadId: 42 });
    const posts = callsOf(tg, 'sendMessage');
    expect(posts.map((c) => [c.status, c.body.text, c.body.message_thread_id])).toEqual([[200, 'Batching ', 42]]);
    const edits = callsOf(tg, 'editMessageText');
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.every((c) => c.status === 200 && Number(c.body.chat_id) === FORUM_CHAT.id && Number(c.body.message_id) === tg.sent[0]!.messageId)).toBe(true);
    expect(edits.at(-1)!.body.text).toBe('Batching collects messages and answers once.');
    for (const gap of gaps([posts[0]!.at, ...edits.map((c) => c.at)])) expect(gap).toBeGreaterThanOrEqual(TELEGRAM_EDIT_INTERVAL_MS);
  });

  it('cancelled from the admin API mid-stream: the message keeps what it showed, marked as stopped; later pieces never show', async () => {
    const feed = streamFeed();
    let told: boolean | undefined;
    const { tg, gateway } = await startGateway({
      batching: { windowMs: 200 },
      processor: async (batch, ctx) => {
        if (batch.messages[0]!.text === 'sentinel') await ctx.reply('sentinel answered');
        else told = await ctx.reply(feed.stream());
      },
    });
    tg.sendUserMessage({ text: 'write a long story' });
    feed.push('Once upon a time');
    await tg.waitFor(() => tg.sent.length === 1, 'the first post');

    const res = await fetch(`${gateway.url}/api/v1/channels/${encodeURIComponent(`telegram:${PRIVATE_CHAT.id}`)}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { cancelled: boolean }).cancelled).toBe(true);
    await tg.waitFor(() => tg.sent[0]!.text === 'Once upon a time … (stopped)', 'the stopped mark');
    await vi.waitFor(() => expect(told).toBe(false), WAIT);
    // The generator waits for its next piece; once it has one, the reader's return() ends it.
    feed.push(', a dragon');
    await vi.waitFor(() => expect(feed.returned()).toBe(true), WAIT);

    // The channel's next batch is answered after the cancelled one: by then nothing more of the stream showed.
    tg.sendUserMessage({ text: 'sentinel' });
    expect(await sentTexts(tg, 2)).toEqual(['Once upon a time … (stopped)', 'sentinel answered']);
    expect(callsOf(tg, 'editMessageText').filter((c) => c.status === 200).map((c) => c.body.text)).toEqual(['Once upon a time … (stopped)']);
  });

  it('a stream longer than 4096 characters: the message shows the start that fits, the rest follows as new messages', async () => {
    // About 6,300 characters: one message's worth and a bit more.
    const words = Array.from({ length: 800 }, (_, i) => `word${i}`);
    const long = words.join(' ');
    const feed = streamFeed();
    const { tg } = await startGateway({ batching: { windowMs: 200 }, processor: async (_batch, ctx) => void (await ctx.reply(feed.stream())) });
    tg.sendUserMessage({ text: 'tell me everything' });
    feed.push(words.slice(0, 10).join(' '));
    await tg.waitFor(() => tg.sent.length === 1, 'the first post');
    feed.push(long.slice(tg.sent[0]!.text.length));
    feed.end();

    await tg.waitFor(() => tg.sent.map((s) => s.text).join(' ') === long, 'every word shown');
    expect(tg.sent.length).toBe(2);
    for (const s of tg.sent) expect(s.text.length).toBeLessThanOrEqual(4_096);
    expect(tg.sent[0]!.text.length).toBeGreaterThan(4_000);
    expect(tg.calls.filter((c) => c.method === 'sendMessage' || c.method === 'editMessageText').every((c) => c.status === 200)).toBe(true);
  });

  it('an edit that changes nothing is harmless; an edit of a message Telegram does not know is refused', async () => {
    const { tg, adapter } = await startGateway({ batching: { windowMs: 200 } });
    tg.sendUserMessage({ text: 'hello' });
    expect(await sentTexts(tg, 1)).toEqual(['1: hello']);
    const reply = { platform: 'telegram', channelId: String(PRIVATE_CHAT.id), text: '1: hello', batchId: 'b-edit', inReplyTo: [] };
    await expect(adapter().editor.edit(String(tg.sent[0]!.messageId), reply)).resolves.toBeUndefined();
    expect(callsOf(tg, 'editMessageText').map((c) => c.status)).toEqual([400]);
    await expect(adapter().editor.edit('987654', { ...reply, text: 'changed' })).rejects.toThrow(/message to edit not found/);
    expect(tg.sent.map((s) => [s.text, s.edits])).toEqual([['1: hello', 0]]);

    // What the fake answers, as grammY reads it.
    const bot = new Bot(tg.token, { client: { apiRoot: tg.apiUrl } });
    const refusal = await bot.api.editMessageText(PRIVATE_CHAT.id, 987654, 'x').catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(GrammyError);
    expect(refusal).toMatchObject({ error_code: 400, description: 'Bad Request: message to edit not found' });
  });

  it('a 429 on editMessageText is waited out: the edit lands once, after retry_after', async () => {
    const feed = streamFeed();
    const { tg } = await startGateway({ batching: { windowMs: 200 }, processor: async (_batch, ctx) => void (await ctx.reply(feed.stream())) });
    tg.failNext('editMessageText', { retryAfter: 1 });
    tg.sendUserMessage({ text: 'go' });
    feed.push('first');
    await tg.waitFor(() => tg.sent.length === 1, 'the first post');
    feed.push(' and second');
    feed.end();
    await tg.waitFor(() => tg.sent[0]!.text === 'first and second', 'the edit');

    const attempts = callsOf(tg, 'editMessageText');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(990);
    expect(tg.sent).toHaveLength(1);
  });
});
