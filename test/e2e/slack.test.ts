import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { AdapterError, ErrorCode } from '../../src/errors.js';
import type { QueueEvent } from '../../src/core/events.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import type { Processor } from '../../src/processors/processor.js';
import { messageChangedEvent, messageDeletedEvent } from '../fakes/slack/events.js';
import { eventCallback, messageEvent, nextTs, nowSec, startFakeSlack, type FakeSlack, type FakeSlackCall, type FakeSlackOptions } from '../fakes/slack/index.js';
import { heldProcessor } from '../helpers/held-processor.js';
import { watchUnhandledRejections } from '../helpers/unhandled.js';

/**
 * Slack end to end: the real gateway (config → SlackAdapter on Bolt 5 → MessageQueue → echo processor →
 * bus `replies` → chat.postMessage) against the wire-format fake Slack on loopback. Nothing here reaches
 * into the adapter: what is asserted is what Slack (the fake) saw and what the gateway's queue reports.
 */

const WINDOW_MS = 300;
const WAIT = { timeout: 10_000, interval: 20 };
const EYES = 'eyes';
const DONE = 'white_check_mark';
const ALICE = { user: 'U0ALICE01', user_profile: { display_name: 'alice' } };

interface SlackGateway {
  fake: FakeSlack;
  gateway: Gateway;
  eventsUrl: string;
  events: QueueEvent[];
}

interface StartOptions {
  mode?: 'http' | 'socket';
  fake?: FakeSlackOptions;
  processor?: Processor;
  /** Extra `batching.channels` entries. */
  channels?: Array<Record<string, unknown>>;
}

/** A directory for the spool, removed when the test ends (after the gateway closed). */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-slack-e2e-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Fake Slack, then a gateway built from config with only the Slack adapter; both closed when the test ends (gateway first). */
async function startSlackGateway(options: StartOptions = {}): Promise<SlackGateway> {
  const fake = await startFakeSlack(options.fake);
  onTestFinished(() => fake.close());
  const dir = await tempDir();
  const mode = options.mode ?? 'http';
  const config = parseConfig(
    {
      http: { port: 0 },
      batching: { defaults: { windowMs: WINDOW_MS }, channels: options.channels ?? [] },
      state: { spoolPath: path.join(dir, 'spool.jsonl') },
      adapters: {
        web: { enabled: false },
        webhook: { enabled: false },
        slack: { enabled: true, mode, botToken: fake.botToken, signingSecret: fake.signingSecret, apiUrl: fake.apiUrl, ...(mode === 'socket' ? { appToken: fake.appToken } : {}) },
      },
    },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger(), processor: options.processor, baseDir: dir });
  // Registered after the fake's: onTestFinished hooks run in reverse, so the gateway closes first.
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  const events: QueueEvent[] = [];
  gateway.queue.on((e) => void events.push(e));
  const eventsUrl = `${gateway.url}/slack/events`;
  fake.eventsUrl = eventsUrl;
  return { fake, gateway, eventsUrl, events };
}

/** A human message in `channel` from alice. */
function aliceSays(channel: string, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return messageEvent({ channel, text, ...ALICE, ...extra });
}

function postsIn(fake: FakeSlack, channel: string): Array<Record<string, string>> {
  return fake.posts().filter((p) => p.channel === channel);
}

/** Reaction calls on one message, as `add eyes` / `remove eyes` / `add white_check_mark`. */
function reactionSteps(fake: FakeSlack, channel: string, ts: string): string[] {
  return fake.calls
    .filter((c) => (c.method === 'reactions.add' || c.method === 'reactions.remove') && c.args.channel === channel && c.args.timestamp === ts)
    .map((c) => `${c.method === 'reactions.add' ? 'add' : 'remove'} ${c.args.name}`);
}

/**
 * True when ✅ was added to message `ts` after (in the fake's call log) the successful `chat.postMessage`
 * carrying `replyText`: the receipt promises an answer only once it is in the channel.
 */
function doneAfterPost(fake: FakeSlack, channel: string, ts: string, replyText: string): boolean {
  const posted = fake.calls.findIndex((c) => c.method === 'chat.postMessage' && c.status === 200 && c.response.ok === true && c.args.channel === channel && c.args.text === replyText);
  const done = fake.calls.findIndex((c) => c.method === 'reactions.add' && c.args.name === DONE && c.args.channel === channel && c.args.timestamp === ts);
  return posted !== -1 && done > posted && fake.calls[done]!.at >= fake.calls[posted]!.at;
}

/**
 * Sends one more message to `channel` and waits for its own reply. Replies of a channel go out in order,
 * so once the sentinel's reply is posted every earlier batch of that channel has had its say: the posts
 * before it are final, with no sleeping "long enough".
 */
async function sentinel(s: SlackGateway, channel: string, deliver: (body: Record<string, unknown>) => Promise<void>, options: { longWindow?: boolean } = {}): Promise<void> {
  await deliver(eventCallback(aliceSays(channel, 'sentinel')));
  if (options.longWindow) await closeWindow(s, `slack:${channel}`);
  await vi.waitFor(() => expect(postsIn(s.fake, channel).at(-1)?.text).toBe('1 message from alice: sentinel'), WAIT);
}

/**
 * Batching under a window no loaded machine outlasts: a burst of one of these channels stays one batch
 * however slowly its events arrive, until {@link closeWindow} closes it.
 */
const LONG_WINDOW = { windowMs: 60_000, maxWaitMs: 120_000 };

/**
 * Closes `channelKey`'s open window now: a short override re-times it (it still closes as a window, not by
 * size or by hand); the override goes once the batch sealed, so the next burst batches under the long one.
 */
async function closeWindow(s: SlackGateway, channelKey: string): Promise<void> {
  const flushed = () => s.events.filter((e) => e.type === 'batch.flushed' && e.channelKey === channelKey).length;
  const before = flushed();
  await s.gateway.queue.setSettings(channelKey, { windowMs: 20 });
  await vi.waitFor(() => expect(flushed()).toBe(before + 1), WAIT);
  await s.gateway.queue.deleteSettings(channelKey);
}

function httpDeliver(s: SlackGateway): (body: Record<string, unknown>) => Promise<void> {
  return async (body) => {
    expect((await s.fake.postEvent(s.eventsUrl, body)).status).toBe(200);
  };
}

/** A fake Slack that refuses a token, and a gateway configured against it (not started). */
async function buildFailingGateway(mode: 'http' | 'socket', fakeOptions: FakeSlackOptions): Promise<{ fake: FakeSlack; gateway: Gateway }> {
  const fake = await startFakeSlack(fakeOptions);
  onTestFinished(() => fake.close());
  const dir = await tempDir();
  const slack = { enabled: true, mode, botToken: fake.botToken, signingSecret: fake.signingSecret, appToken: fake.appToken, apiUrl: fake.apiUrl };
  const config = parseConfig({ http: { port: 0 }, state: { spoolPath: path.join(dir, 'spool.jsonl') }, adapters: { web: { enabled: false }, webhook: { enabled: false }, slack } }, {});
  const gateway = createGateway({ config, logger: silentLogger(), baseDir: dir });
  onTestFinished(() => gateway.close().then(() => undefined));
  return { fake, gateway };
}

/** What `start()` rejected with; fails the test if it resolved. */
async function startError(gateway: Gateway): Promise<Error> {
  const outcome = await gateway.start().then(
    () => new Error('gateway.start() resolved; expected a start-up error'),
    (e: unknown) => e,
  );
  if (!(outcome instanceof AdapterError)) throw outcome;
  return outcome;
}

/** A few event-loop turns for stray promises (Bolt's authorize, the socket client) to reject unobserved, if they would. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 250));
}

describe('Slack HTTP mode through the real gateway (Bolt on the gateway fastify, fake Slack)', () => {
  it('three signed events within the window → one chat.postMessage with the combined reply; 👀 on each, replaced by ✅', async () => {
    const s = await startSlackGateway({ channels: [{ match: 'slack:C0BURST01', ...LONG_WINDOW }] });
    const channel = 'C0BURST01';
    const burst = ['a', 'b', 'c'].map((text) => aliceSays(channel, text));
    for (const e of burst) {
      const res = await s.fake.postEvent(s.eventsUrl, eventCallback(e));
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
    }
    await closeWindow(s, `slack:${channel}`);

    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(1), WAIT);
    expect(postsIn(s.fake, channel)[0]).toMatchObject({ channel, text: '3 messages from alice: a / b / c' });
    expect(postsIn(s.fake, channel)[0]?.thread_ts).toBeUndefined();

    // Receipts: each message got 👀 when accepted, then 👀 gave way to ✅ once the batch's reply was posted.
    for (const e of burst) {
      const ts = String(e.ts);
      await vi.waitFor(() => expect(s.fake.reactionsOn(channel, ts)).toEqual([DONE]), WAIT);
      expect(reactionSteps(s.fake, channel, ts)).toEqual([`add ${EYES}`, `remove ${EYES}`, `add ${DONE}`]);
      expect(doneAfterPost(s.fake, channel, ts, '3 messages from alice: a / b / c')).toBe(true);
    }
    const stats = await s.gateway.queue.stats(`slack:${channel}`);
    expect(stats?.counters).toMatchObject({ received: 3, batches: 1, processed: 1, cancelled: 0, failed: 0 });
    expect(s.events.filter((e) => e.type === 'batch.flushed')).toEqual([expect.objectContaining({ channelKey: `slack:${channel}`, size: 3, reason: 'window' })]);

    await sentinel(s, channel, httpDeliver(s), { longWindow: true });
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['3 messages from alice: a / b / c', '1 message from alice: sentinel']);
  });

  it('a message_changed before the flush gives the batch the edited text; a message_deleted leaves the batch without it', async () => {
    const s = await startSlackGateway({ channels: [{ match: 'slack:C0EDITS01', ...LONG_WINDOW }] });
    const channel = 'C0EDITS01';
    const typo = aliceSays(channel, 'restart teh db');
    const regret = aliceSays(channel, 'actually drop it');
    const last = aliceSays(channel, 'thanks');
    for (const e of [typo, regret, last]) expect((await s.fake.postEvent(s.eventsUrl, eventCallback(e))).status).toBe(200);
    expect((await s.fake.postEvent(s.eventsUrl, eventCallback(messageChangedEvent(typo, 'restart the db')))).status).toBe(200);
    expect((await s.fake.postEvent(s.eventsUrl, eventCallback(messageDeletedEvent(regret)))).status).toBe(200);
    await vi.waitFor(() => expect(s.events.filter((e) => e.type === 'message.edited' || e.type === 'message.deleted')).toHaveLength(2), WAIT);
    await closeWindow(s, `slack:${channel}`);
    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(1), WAIT);
    expect(postsIn(s.fake, channel)[0]).toMatchObject({ text: '2 messages from alice: restart the db / thanks' });
    expect(s.events.flatMap((e) => (e.type === 'message.edited' || e.type === 'message.deleted' ? [[e.type, e.applied]] : []))).toEqual([
      ['message.edited', 'pending'],
      ['message.deleted', 'pending'],
    ]);
  });

  it('a wrong signature and a stale timestamp → 401 and nothing enqueued', async () => {
    const s = await startSlackGateway();
    const channel = 'C0FORGED1';
    const forged = await s.fake.postEvent(s.eventsUrl, eventCallback(aliceSays(channel, 'forged')), { secret: 'not-the-signing-secret' });
    expect(forged.status).toBe(401);
    const stale = await s.fake.postEvent(s.eventsUrl, eventCallback(aliceSays(channel, 'replayed')), { timestamp: nowSec() - 6 * 60 });
    expect(stale.status).toBe(401);
    expect(await s.gateway.queue.stats(`slack:${channel}`)).toBeNull();

    // A genuine message afterwards gets a reply of its own alone: the rejected two never reached the queue.
    await sentinel(s, channel, httpDeliver(s));
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['1 message from alice: sentinel']);
    expect((await s.gateway.queue.stats(`slack:${channel}`))?.counters).toMatchObject({ received: 1, batches: 1 });
    // 👀 and ✅ of the sentinel only.
    await vi.waitFor(() => expect(s.fake.callsTo('reactions.add').filter((c) => c.args.channel === channel).map((c) => c.args.name)).toEqual([EYES, DONE]), WAIT);
  });

  it('a retried delivery (same event_id, X-Slack-Retry-Num: 1) is processed once', async () => {
    const s = await startSlackGateway();
    const channel = 'C0RETRY01';
    const body = eventCallback(aliceSays(channel, 'retry me'));
    expect((await s.fake.postEvent(s.eventsUrl, body)).status).toBe(200);
    const retry = await s.fake.postEvent(s.eventsUrl, body, { retryNum: 1, retryReason: 'http_timeout' });
    expect(retry.status).toBe(200);

    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(1), WAIT);
    await sentinel(s, channel, httpDeliver(s));
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['1 message from alice: retry me', '1 message from alice: sentinel']);
    expect((await s.gateway.queue.stats(`slack:${channel}`))?.counters).toMatchObject({ received: 2, batches: 2, processed: 2 });
  });

  it('answers url_verification with the challenge and enqueues nothing', async () => {
    const s = await startSlackGateway();
    const challenge = '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P';
    const res = await s.fake.postEvent(s.eventsUrl, { token: 'legacy', challenge, type: 'url_verification' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge });
    expect(await s.gateway.queue.list()).toEqual([]);
  });

  it('a bot_message is ignored: the batch it arrived in holds only the human', async () => {
    const s = await startSlackGateway();
    const channel = 'C0BOTS001';
    const bot = messageEvent({ channel, subtype: 'bot_message', bot_id: 'B0OTHER01', username: 'ci-bot', text: 'build passed', user: undefined });
    expect((await s.fake.postEvent(s.eventsUrl, eventCallback(bot))).status).toBe(200);
    await sentinel(s, channel, httpDeliver(s));
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['1 message from alice: sentinel']);
    expect((await s.gateway.queue.stats(`slack:${channel}`))?.counters).toMatchObject({ received: 1 });
    expect(reactionSteps(s.fake, channel, String(bot.ts))).toEqual([]);
  });

  it('a thread reply is answered in its thread, batched apart from the channel itself', async () => {
    const s = await startSlackGateway({ channels: [{ match: 'slack:C0THREAD1*', ...LONG_WINDOW }] });
    const channel = 'C0THREAD1';
    const parentTs = nextTs();
    s.fake.addMessage(channel, parentTs); // Bob's message the thread hangs off
    const deliver = httpDeliver(s);
    await deliver(eventCallback(aliceSays(channel, 'in the thread', { thread_ts: parentTs, parent_user_id: 'U0BOB0001' })));
    await deliver(eventCallback(aliceSays(channel, 'in the channel')));
    await deliver(eventCallback(aliceSays(channel, 'thread again', { thread_ts: parentTs, parent_user_id: 'U0BOB0001' })));
    await closeWindow(s, `slack:${channel}/${parentTs}`);
    await closeWindow(s, `slack:${channel}`);

    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(2), WAIT);
    const threaded = postsIn(s.fake, channel).find((p) => p.thread_ts !== undefined);
    const top = postsIn(s.fake, channel).find((p) => p.thread_ts === undefined);
    expect(threaded).toMatchObject({ channel, thread_ts: parentTs, text: '2 messages from alice: in the thread / thread again' });
    expect(top).toMatchObject({ channel, text: '1 message from alice: in the channel' });
    expect(await s.gateway.queue.stats(`slack:${channel}/${parentTs}`)).toMatchObject({ counters: { received: 2, processed: 1 } });
  });

  it('a cancelled batch loses its 👀 and gets no ✅ and no reply', async () => {
    const started: string[] = [];
    const processor: Processor = async (batch, ctx) => {
      started.push(batch.id);
      // A slow bot: holds until the operator cancels.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      await ctx.reply('too late');
    };
    const s = await startSlackGateway({ processor });
    const channel = 'C0CANCEL1';
    const e = aliceSays(channel, 'never mind');
    const ts = String(e.ts);
    await httpDeliver(s)(eventCallback(e));

    await vi.waitFor(() => expect(s.fake.reactionsOn(channel, ts)).toEqual([EYES]), WAIT);
    await vi.waitFor(() => expect(started).toHaveLength(1), WAIT);
    expect(await s.gateway.queue.cancelCurrent(`slack:${channel}`)).toBe(true);

    await vi.waitFor(() => expect(reactionSteps(s.fake, channel, ts)).toEqual([`add ${EYES}`, `remove ${EYES}`]), WAIT);
    expect(s.fake.reactionsOn(channel, ts)).toEqual([]);
    expect((await s.gateway.queue.stats(`slack:${channel}`))?.counters).toMatchObject({ received: 1, cancelled: 1, processed: 0 });
    // Shutdown delivers whatever replies are under way, so after it the posts are final.
    await s.gateway.close();
    expect(postsIn(s.fake, channel)).toEqual([]);
    expect(reactionSteps(s.fake, channel, ts)).toEqual([`add ${EYES}`, `remove ${EYES}`]);
  });
});

describe('Slack Socket Mode through the real gateway (Bolt SocketModeReceiver, fake socket)', () => {
  it('a burst through envelopes → every envelope acked, one reply; after disconnect (refresh_requested) the client reconnects and later messages still batch', async () => {
    const s = await startSlackGateway({ mode: 'socket', channels: [{ match: 'slack:C0SOCKET1', ...LONG_WINDOW }] });
    const channel = 'C0SOCKET1';
    expect(s.fake.callsTo('apps.connections.open').map((c) => c.token)).toEqual([s.fake.appToken]);
    expect((await fetch(`${s.gateway.url}/readyz`)).status).toBe(200);

    const first = ['one', 'two', 'three'].map((text) => s.fake.sendEnvelope(eventCallback(aliceSays(channel, text))));
    await vi.waitFor(() => expect(s.gateway.queue.stats(`slack:${channel}`)).resolves.toMatchObject({ pending: 3 }), WAIT);
    await closeWindow(s, `slack:${channel}`);
    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(1), WAIT);
    expect(postsIn(s.fake, channel)[0]?.text).toBe('3 messages from alice: one / two / three');
    expect(s.fake.acks).toEqual(expect.arrayContaining(first));

    s.fake.disconnectSocket('refresh_requested');
    // The gateway reports the drop while the client waits to reconnect.
    await vi.waitFor(async () => expect((await fetch(`${s.gateway.url}/readyz`)).status).toBe(503), WAIT);
    // socket-mode reconnects after its ping timeout (~5 s); allow generously.
    await vi.waitFor(() => expect(s.fake.connections()).toBe(2), { timeout: 20_000, interval: 50 });
    await s.fake.waitForSocket(20_000);
    await vi.waitFor(async () => expect((await fetch(`${s.gateway.url}/readyz`)).status).toBe(200), { timeout: 20_000, interval: 50 });
    expect(s.fake.callsTo('apps.connections.open')).toHaveLength(2);

    const later = ['four', 'five'].map((text) => s.fake.sendEnvelope(eventCallback(aliceSays(channel, text))));
    await vi.waitFor(() => expect(s.gateway.queue.stats(`slack:${channel}`)).resolves.toMatchObject({ pending: 2 }), WAIT);
    await closeWindow(s, `slack:${channel}`);
    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(2), WAIT);
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['3 messages from alice: one / two / three', '2 messages from alice: four / five']);
    await vi.waitFor(() => expect(s.fake.acks).toEqual(expect.arrayContaining([...first, ...later])), WAIT);
    expect(new Set(s.fake.acks).size).toBe(s.fake.acks.length);
    expect((await s.gateway.queue.stats(`slack:${channel}`))?.counters).toMatchObject({ received: 5, batches: 2, processed: 2 });
  }, 45_000);
});

/**
 * A gateway whose `slack:C0FULL*` channels refuse a message once one batch runs and one waits (`overflow:
 * reject` at its smallest); `fill()` delivers m1 (held by the processor) and m2 (queued) to a channel.
 */
async function startFullChannels(): Promise<SlackGateway & { release: () => void; fill(channel: string, extra?: Record<string, unknown>): Promise<Record<string, unknown>[]> }> {
  const held = heldProcessor();
  const s = await startSlackGateway({ processor: held.processor, channels: [{ match: 'slack:C0FULL*', maxBatchSize: 1, maxQueuedBatches: 1, overflow: 'reject' }] });
  // Registered after the gateway's hook, so it runs first: the held batch ends before shutdown waits on it.
  onTestFinished(() => held.release());
  const deliver = httpDeliver(s);
  return {
    ...s,
    release: held.release,
    async fill(channel, extra = {}) {
      const m1 = aliceSays(channel, 'm1', extra);
      await deliver(eventCallback(m1));
      await vi.waitFor(() => expect(held.started).toHaveLength(1), WAIT);
      const m2 = aliceSays(channel, 'm2', extra);
      await deliver(eventCallback(m2));
      await vi.waitFor(() => expect(s.events.filter((e) => e.type === 'batch.flushed')).toHaveLength(2), WAIT);
      return [m1, m2];
    },
  };
}

function rejectedDrops(events: QueueEvent[]): number {
  return events.filter((e) => e.type === 'message.dropped' && e.reason === 'rejected').length;
}

describe('Slack refusals (overflow: reject) through the real gateway', () => {
  it('a refused message → one chat.postEphemeral to its sender in its channel; a second refusal within 10 s → none', async () => {
    const s = await startFullChannels();
    const channel = 'C0FULL001';
    await s.fill(channel);
    const deliver = httpDeliver(s);

    await deliver(eventCallback(aliceSays(channel, 'm3')));
    await vi.waitFor(() => expect(s.fake.callsTo('chat.postEphemeral')).toHaveLength(1), WAIT);
    const [notice] = s.fake.callsTo('chat.postEphemeral');
    expect(notice?.response.ok).toBe(true);
    expect(notice?.args).toEqual({ channel, user: ALICE.user, text: "⚠️ Your message was not taken: this channel's queue is full. Please send it again in a moment." });

    await deliver(eventCallback(aliceSays(channel, 'm4')));
    await vi.waitFor(() => expect(rejectedDrops(s.events)).toBe(2), WAIT);
    // A notice for m4 would have been under way before the held batches were let go and answered.
    s.release();
    await vi.waitFor(() => expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['done: m1', 'done: m2']), WAIT);
    expect(s.fake.callsTo('chat.postEphemeral')).toHaveLength(1);
    // The notice is no reply: the sender alone sees it, and the channel got only the batches' answers.
    expect(s.fake.posts().every((p) => !p.text?.startsWith('⚠️'))).toBe(true);
  });

  it('in a thread: a redelivered event in a full channel gets no notice; the next new message gets one in the thread', async () => {
    const s = await startFullChannels();
    const channel = 'C0FULL002';
    const parentTs = nextTs();
    s.fake.addMessage(channel, parentTs); // Bob's message the thread hangs off
    const inThread = { thread_ts: parentTs, parent_user_id: 'U0BOB0001' };
    const [, m2] = await s.fill(channel, inThread);

    // Slack's retry of m2 (same event_id) must not reach the full queue, which would refuse it.
    const deliver = httpDeliver(s);
    expect((await s.fake.postEvent(s.eventsUrl, eventCallback(m2!), { retryNum: 1, retryReason: 'http_timeout' })).status).toBe(200);
    await deliver(eventCallback(aliceSays(channel, 'm3', inThread)));
    await vi.waitFor(() => expect(s.fake.callsTo('chat.postEphemeral')).toHaveLength(1), WAIT);
    expect(s.fake.callsTo('chat.postEphemeral')[0]?.args).toMatchObject({ channel, user: ALICE.user, thread_ts: parentTs });
    expect(rejectedDrops(s.events)).toBe(1);
    s.release();
    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(2), WAIT);
    expect(s.fake.callsTo('chat.postEphemeral')).toHaveLength(1);
  });
});

describe('Slack Web API trouble through the real gateway', () => {
  it('a 429 from chat.postMessage → delivered after Retry-After, replies of the channel kept in order', async () => {
    // Two messages per batch (flush by size at once, never by the window), so the second batch's reply is
    // queued while the first waits.
    const s = await startSlackGateway({ channels: [{ match: 'slack:C0RATE*', maxBatchSize: 2, ...LONG_WINDOW }] });
    const channel = 'C0RATE001';
    s.fake.failNextPost(429, 1);
    const deliver = httpDeliver(s);
    const burst = ['a', 'b', 'c', 'd'].map((text) => aliceSays(channel, text));
    for (const e of burst) await deliver(eventCallback(e));

    await vi.waitFor(() => expect(postsIn(s.fake, channel)).toHaveLength(2), WAIT);
    expect(postsIn(s.fake, channel).map((p) => p.text)).toEqual(['2 messages from alice: a / b', '2 messages from alice: c / d']);
    const attempts = s.fake.callsTo('chat.postMessage').filter((c) => c.args.channel === channel);
    expect(attempts.map((c) => [c.status, c.args.text])).toEqual([
      [429, '2 messages from alice: a / b'],
      [200, '2 messages from alice: a / b'],
      [200, '2 messages from alice: c / d'],
    ]);
    const [limited, retried] = attempts as [FakeSlackCall, FakeSlackCall];
    // Retry-After: 1 was honoured (a lower bound: the wait can only be longer on a busy machine).
    expect(retried.at - limited.at).toBeGreaterThanOrEqual(900);
    // The second reply existed before the first was delivered: its batch completed during the wait.
    const completed = s.events.filter((e) => e.type === 'batch.completed' && e.channelKey === `slack:${channel}`);
    expect(completed).toHaveLength(2);
    expect(completed[1]!.at).toBeLessThan(retried.at);
    // The router counts a reply once send() resolved, a moment after the fake recorded the post.
    await vi.waitFor(() => expect(s.gateway.replyStats().slack).toEqual({ sent: 2, failed: 0 }), WAIT);
    // ✅ waited for each batch's reply to be posted, not for its batch to complete (which was during the wait).
    const replyOf = ['2 messages from alice: a / b', '2 messages from alice: a / b', '2 messages from alice: c / d', '2 messages from alice: c / d'];
    for (const [i, e] of burst.entries()) {
      const ts = String(e.ts);
      await vi.waitFor(() => expect(s.fake.reactionsOn(channel, ts)).toEqual([DONE]), WAIT);
      expect(doneAfterPost(s.fake, channel, ts, replyOf[i]!)).toBe(true);
    }
  });

  it('a bad bot token (auth.test invalid_auth) → start() rejects with an AdapterError naming slack; no unhandled rejection', async () => {
    const unhandled = watchUnhandledRejections();
    const { fake, gateway } = await buildFailingGateway('http', { authError: 'invalid_auth' });
    const err = await startError(gateway);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: ErrorCode.Adapter, platform: 'slack' });
    expect(err.message).toMatch(/^slack adapter: auth\.test rejected the bot token \(invalid_auth\)/);
    expect(err.message).toContain('adapters.slack.botToken');
    expect(fake.callsTo('auth.test')).toHaveLength(1);

    // The failed start tore everything down: the port is released and close() is a no-op.
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    await expect(gateway.close()).resolves.toMatchObject({ lost: 0 });
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('a bad app token in Socket Mode (apps.connections.open invalid_auth) → start() rejects naming slack and the app token; no unhandled rejection', async () => {
    const unhandled = watchUnhandledRejections();
    const { fake, gateway } = await buildFailingGateway('socket', { connectionsOpenError: 'invalid_auth' });
    const err = await startError(gateway);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: ErrorCode.Adapter, platform: 'slack' });
    expect(err.message).toMatch(/^slack adapter: apps\.connections\.open rejected the app token \(invalid_auth\)/);
    expect(err.message).toContain('adapters.slack.appToken');
    expect(fake.connections()).toBe(0);
    await expect(gateway.close()).resolves.toMatchObject({ lost: 0 });
    await settle();
    expect(unhandled).toEqual([]);
  });
});
