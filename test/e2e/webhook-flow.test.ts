import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startReplySink, type RecordedRequest, type ReplySinkOptions } from '../helpers/reply-sink.js';
import { answerAll, post, startFakeBot, startGateway } from './webhook-harness.js';

/** What the gateway POSTs to `replyUrl` (docs/webhook.md). */
interface ReplyBody {
  channelId: string;
  text: string;
  batchId: string;
  inReplyTo: string[];
}

const replyOf = (r: RecordedRequest): ReplyBody => r.body as ReplyBody;

async function sink(options: ReplySinkOptions = {}) {
  const s = await startReplySink(options);
  onTestFinished(() => s.close());
  return s;
}

/** A loopback port nothing listens on: a replyUrl that refuses every connection. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const msg = (channelId: string, id: string, text: string) => ({ channelId, userId: 'u1', userName: 'Ann', text, id });

describe('webhook → gateway → HTTP processor → replyUrl, over real loopback servers', () => {
  it('a burst of three becomes one processor call and one reply whose inReplyTo lists the ids in order', async () => {
    const replies = await sink();
    const bot = await startFakeBot();
    // A window no loaded machine outlasts holds the burst open; a short override then closes it as a window.
    const g = await startGateway({ processorUrl: bot.url, replyUrl: replies.url, defaults: { windowMs: 60_000, maxWaitMs: 120_000 } });

    const texts = ['hi', 'are you there?', 'I have a question'];
    for (const [i, text] of texts.entries()) {
      const res = await post(g.base, msg('room-1', `m${i + 1}`, text));
      expect(res).toEqual({ status: 202, body: { accepted: true, channelKey: 'webhook:room-1', id: `m${i + 1}` } });
    }
    await g.gateway.queue.setSettings('webhook:room-1', { windowMs: 20 });

    const [reply] = await replies.waitFor(1);
    const call = bot.requests[0]!;
    expect(call.attempt).toBe(1);
    expect(call.batch).toMatchObject({ channelKey: 'webhook:room-1', channelId: 'room-1', flushReason: 'window' });
    expect(call.batch.messages.map((m) => [m.id, m.text, m.userName])).toEqual([
      ['m1', 'hi', 'Ann'],
      ['m2', 'are you there?', 'Ann'],
      ['m3', 'I have a question', 'Ann'],
    ]);
    expect(replyOf(reply!)).toEqual({ channelId: 'room-1', text: 'got hi | are you there? | I have a question', batchId: call.batch.id, inReplyTo: ['m1', 'm2', 'm3'] });

    // Shutdown delivers everything still under way, so the counts below are final.
    expect(await g.gateway.close()).toMatchObject({ lost: 0 });
    expect(bot.requests).toHaveLength(1);
    expect(replies.requests).toHaveLength(1);
    expect(g.webhook.stats()).toMatchObject({ delivered: 1, failed: 0, retries: 0 });
  });

  it('a cancel while the processor holds the request aborts that request, posts no reply, and the channel moves on', async () => {
    const replies = await sink();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    onTestFinished(() => release());
    const bot = await startFakeBot(async (req) => {
      if (req.batch.messages.some((m) => m.text === 'slow question')) await held;
      return answerAll(req);
    });
    const g = await startGateway({ processorUrl: bot.url, replyUrl: replies.url, defaults: { windowMs: 100 } });

    expect((await post(g.base, msg('room-2', 'c1', 'slow question'))).status).toBe(202);
    const call = await bot.request(1);
    const cancel = await fetch(`${g.base}/api/v1/channels/${encodeURIComponent('webhook:room-2')}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ cancelled: true });

    expect(await call.aborted).toBe(true);
    await g.event((e) => e.type === 'batch.cancelled' && e.batchId === call.batch.id);
    release();

    // The next message of the channel is processed and answered, and its reply is the only one.
    expect((await post(g.base, msg('room-2', 'c2', 'next one'))).status).toBe(202);
    const [only] = await replies.waitFor(1);
    expect(replyOf(only!)).toMatchObject({ channelId: 'room-2', inReplyTo: ['c2'], text: 'got next one' });

    await g.gateway.close();
    expect(replies.requests.map((r) => replyOf(r).inReplyTo)).toEqual([['c2']]);
    expect(bot.requests.map((r) => r.batch.messages.map((m) => m.id))).toEqual([['c1'], ['c2']]);
    expect(g.events.filter((e) => e.type === 'reply.dropped')).toEqual([]);
  });

  it('replyUrl answering 500 twice then 200: the reply is delivered exactly once, before the channel’s later reply', async () => {
    let laterReplyPublished: Promise<unknown> = Promise.resolve();
    const tries = new Map<string, number>();
    const replies = await sink({
      respond: async (rec) => {
        const first = replyOf(rec).inReplyTo[0]!;
        const n = (tries.get(first) ?? 0) + 1;
        tries.set(first, n);
        if (first !== 'r1' || n > 2) return 200;
        // Hold the first try until the channel's next reply is waiting behind it, so order is really at stake.
        if (n === 1) await laterReplyPublished;
        return 500;
      },
    });
    const bot = await startFakeBot();
    const g = await startGateway({ processorUrl: bot.url, replyUrl: replies.url, defaults: { windowMs: 100 } });

    laterReplyPublished = g
      .event((e) => e.type === 'batch.started' && e.messageIds.includes('r2'))
      .then((started) => g.event((e) => e.type === 'batch.completed' && e.batchId === (started as { batchId: string }).batchId));
    expect((await post(g.base, msg('room-3', 'r1', 'first'))).status).toBe(202);
    // r2 only after the bot answered r1's batch, so it is a batch (and a reply) of its own.
    await (await bot.request(1)).answered;
    expect((await post(g.base, msg('room-3', 'r2', 'second'))).status).toBe(202);

    await replies.waitFor(4);
    await g.gateway.close();
    expect(replies.requests.map((r) => [replyOf(r).inReplyTo, r.status])).toEqual([
      [['r1'], 500],
      [['r1'], 500],
      [['r1'], 200],
      [['r2'], 200],
    ]);
    expect(replies.delivered().map((r) => replyOf(r).text)).toEqual(['got first', 'got second']);
    // One delivery id across the retries of one reply, so a receiver can drop a repeat it already took.
    const deliveryIds = replies.requests.map((r) => r.headers['x-batchgate-delivery']);
    expect(new Set(deliveryIds.slice(0, 3)).size).toBe(1);
    expect(deliveryIds[3]).not.toBe(deliveryIds[0]);
    expect(g.webhook.stats()).toMatchObject({ delivered: 2, retries: 2, failed: 0 });
  });

  it('a channel whose replies fail for the whole budget is counted failed; other channels are unaffected and it recovers', async () => {
    let okSeen!: () => void;
    const okArrived = new Promise<void>((resolve) => (okSeen = resolve));
    let downTries = 0;
    let downHealed = false;
    const replies = await sink({
      respond: async (rec) => {
        const body = replyOf(rec);
        if (body.channelId === 'ok-room') {
          okSeen();
          return 200;
        }
        if (downHealed) return 200;
        downTries++;
        // The first try of the failing channel waits until the other channel's reply got through.
        if (downTries === 1) await okArrived;
        return 503;
      },
    });
    const bot = await startFakeBot();
    const g = await startGateway({ processorUrl: bot.url, replyUrl: replies.url, defaults: { windowMs: 100 }, webhook: { replyAttempts: 3 } });

    expect((await post(g.base, msg('down-room', 'd1', 'to the broken receiver'))).status).toBe(202);
    await replies.waitFor(1);
    expect((await post(g.base, msg('ok-room', 'o1', 'to the healthy one'))).status).toBe(202);

    // Three tries of d1 (all 503), with o1 delivered while d1 was still being tried.
    await replies.waitFor(4);
    const order = replies.requests.map((r) => `${replyOf(r).inReplyTo[0]}:${r.status ?? 'pending'}`);
    expect(order[0]).toMatch(/^d1:/);
    expect(order[1]).toBe('o1:200');
    expect(replies.requests.filter((r) => replyOf(r).channelId === 'down-room')).toHaveLength(3);

    // Once d1 is given up on, the channel is not stuck: its next reply goes out.
    await expect.poll(() => g.webhook.stats().failed, { timeout: 10_000 }).toBe(1);
    downHealed = true;
    expect((await post(g.base, msg('down-room', 'd2', 'again'))).status).toBe(202);
    await replies.waitFor(5);

    await g.gateway.close();
    expect(replies.requests.map((r) => [replyOf(r).inReplyTo[0], r.status])).toEqual([
      ['d1', 503],
      ['o1', 200],
      ['d1', 503],
      ['d1', 503],
      ['d2', 200],
    ]);
    expect(g.webhook.stats()).toMatchObject({ delivered: 2, failed: 1, retries: 2 });
  });

  it('a replyUrl that refuses connections: every reply is counted failed and the gateway keeps taking and processing messages', async () => {
    const bot = await startFakeBot();
    const g = await startGateway({ processorUrl: bot.url, replyUrl: `http://127.0.0.1:${await deadPort()}/replies`, defaults: { windowMs: 50 }, webhook: { replyAttempts: 2 } });

    for (const channel of ['a', 'b', 'c']) expect((await post(g.base, msg(`dead-${channel}`, `x-${channel}`, 'hello'))).status).toBe(202);
    await expect.poll(() => g.webhook.stats().failed, { timeout: 10_000 }).toBe(3);
    expect((await fetch(`${g.base}/healthz`)).status).toBe(200);
    expect((await post(g.base, msg('dead-a', 'x-d', 'still there?'))).status).toBe(202);
    await bot.request(4);

    await g.gateway.close();
    expect(g.webhook.stats()).toMatchObject({ delivered: 0, failed: 4, retries: 4 });
    expect(bot.requests).toHaveLength(4);
  });
});
