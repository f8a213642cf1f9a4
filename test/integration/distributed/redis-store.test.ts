import { describe, expect, it, onTestFinished } from 'vitest';
import { QueueEventType, type QueueEvent } from '../../../src/core/events.js';
import type { OutboundMessage, QueuedMessage } from '../../../src/core/model.js';
import { SettingsPolicy, type ChannelSettings } from '../../../src/core/policy.js';
import { RedisBatchStore, type RedisBatchStoreOptions } from '../../../src/distributed/redis-store.js';
import type { ClaimedBatch } from '../../../src/distributed/store-steps.js';
import { describeBatchStore, storeMessage } from '../../helpers/batch-store-suite.js';
import { redisForSuite, startRedis } from '../../helpers/redis-server.js';

const server = redisForSuite();

// A unique prefix per store keeps tests apart on one server without FLUSHALL.
let prefixes = 0;
describeBatchStore('RedisBatchStore', (emit, policy: SettingsPolicy) =>
  RedisBatchStore.create({ redis: server().client(), policy, emit, clock: 'caller', prefix: `suite${++prefixes}` }),
);

describe('RedisBatchStore: distributed steps', () => {
  const msg = storeMessage;
  const reply = (batchId: string, text: string): OutboundMessage => ({ platform: 'p', channelId: 'c', text, batchId, inReplyTo: [] });

  /** A store on the shared server; `prefix` lets two stores (two gateways) share one cluster's keys. */
  const open = async (settings: Partial<ChannelSettings> = {}, options: Partial<RedisBatchStoreOptions> = {}) => {
    const events: QueueEvent[] = [];
    const redis = server().client();
    onTestFinished(() => redis.disconnect());
    const store = await RedisBatchStore.create({
      redis,
      policy: new SettingsPolicy({ windowMs: 100, maxWaitMs: 1_000, ...settings }),
      emit: (e) => events.push(e),
      clock: 'caller',
      prefix: `d${++prefixes}`,
      ...options,
    });
    return { store, events, redis };
  };

  /** A sealed batch of channel p:c taken in flight and claimed by a worker. */
  const claimed = async (store: RedisBatchStore, text = 'hello'): Promise<ClaimedBatch> => {
    await store.append(msg('c', text), 0);
    const taken = (await store.take('p:c', 1))!;
    const claim = await store.claim('p:c', taken.batch.id);
    if (claim.status !== 'claimed') throw new Error('expected a claim');
    return claim.claimed;
  };

  it('a seal says whether the channel waits (a batch in flight, or paused), so the dispatcher skips a futile take', async () => {
    const { store } = await open({ maxBatchSize: 1 });
    const first = await store.append(msg('c', 'a'), 0);
    expect(first).toMatchObject({ status: 'sealed', sealed: { waits: false } });
    await store.take('p:c', 1);
    expect(await store.append(msg('c', 'b'), 2)).toMatchObject({ status: 'sealed', sealed: { waits: true } });
    await store.append(msg('other', 'x'), 3);
    await store.pause('p:other', 4);
    expect(await store.append(msg('other', 'y'), 5)).toMatchObject({ status: 'sealed', sealed: { waits: true } });
  });

  it('a repeated message id is answered duplicate and changes nothing; another channel is new', async () => {
    const { store } = await open({ maxBatchSize: 100 });
    expect((await store.append(msg('c', 'a', 'same'), 0)).status).toBe('open');
    expect(await store.append(msg('c', 'a again', 'same'), 1)).toMatchObject({ status: 'duplicate', settings: { windowMs: 100 } });
    expect(await store.stats('p:c')).toMatchObject({ pending: 1, counters: { received: 1 } });
    expect((await store.append(msg('other', 'a', 'same'), 2)).status).toBe('open');
  });

  it('an id is new again once its dedupe TTL expired', async () => {
    const prefix = `ttl${++prefixes}`;
    const { store, redis } = await open({ maxBatchSize: 100 }, { dedupeTtlMs: 50, prefix });
    expect((await store.append(msg('c', 'a', 'same'), 0)).status).toBe('open');
    // Redis expires the remembered id on its own clock: wait until it did, not for a fixed time.
    const remembered = () => redis.keys(`${prefix}:*:id:*:same`);
    for (let i = 0; i < 500 && (await remembered()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await remembered()).toEqual([]);
    expect(await store.append(msg('c', 'retried later', 'same'), 3)).toMatchObject({ status: 'open', pending: 2 });
  });

  it('a message refused by a full queue is not remembered: its retry is accepted once there is room', async () => {
    const { store } = await open({ disabled: true, maxQueuedBatches: 1, overflow: 'reject' });
    await store.append(msg('c', '1'), 0);
    expect((await store.append(msg('c', '2', 'retry-me'), 1)).status).toBe('rejected');
    const taken = (await store.take('p:c', 2))!;
    await store.finish('p:c', taken.batch.id, 'processed', 3);
    expect((await store.append(msg('c', '2', 'retry-me'), 4)).status).toBe('sealed');
  });

  it('a channel’s fence seq keeps increasing after its idle state was evicted', async () => {
    const { store } = await open({ disabled: true }, { shards: 1, rememberIdle: 1 });
    const runOnce = async (channelId: string, at: number) => {
      await store.append(msg(channelId, 'x'), at);
      const taken = (await store.take(`p:${channelId}`, at))!;
      const claim = await store.claim(`p:${channelId}`, taken.batch.id);
      if (claim.status !== 'claimed') throw new Error('expected a claim');
      expect((await store.ack(`p:${channelId}`, taken.batch.id, claim.claimed.fence, 'processed')).current).toBe(true);
      return claim.claimed.fence.seq;
    };
    const before = await runOnce('c', 0);
    await runOnce('d', 1); // p:c is forgotten now (one idle channel remembered per shard)
    await runOnce('e', 2);
    expect(await store.stats('p:c')).toBeNull();
    expect(await runOnce('c', 3)).toBeGreaterThan(before);
  });

  it('claim issues a fence; a second claim voids the first: its reply is dropped and its ACK is stale', async () => {
    const { store, redis } = await open({ disabled: true });
    const first = await claimed(store);
    expect(first.batch.messages.map((m) => m.text)).toEqual(['hello']);
    expect(first.fence).toEqual({ gen: store.generation(), seq: expect.any(Number), token: 1 });
    expect(first.fence.seq).toBeGreaterThan(0);
    expect(await store.isCurrent('p:c', first.batch.id, first.fence)).toBe(true);
    expect(await store.publishReply('p:c', first.batch.id, first.fence, reply(first.batch.id, 'one'), 'replies')).toBe(true);

    const again = await store.claim('p:c', first.batch.id);
    if (again.status !== 'claimed') throw new Error('expected a claim');
    expect(again.claimed.fence).toEqual({ ...first.fence, token: 2 });
    expect(await store.isCurrent('p:c', first.batch.id, first.fence)).toBe(false);
    expect(await store.publishReply('p:c', first.batch.id, first.fence, reply(first.batch.id, 'zombie'), 'replies')).toBe(false);
    expect(await store.ack('p:c', first.batch.id, first.fence, 'processed')).toEqual({ current: false, nextSeq: null });
    expect(await store.inFlightId('p:c')).toBe(first.batch.id);

    expect(await store.ack('p:c', first.batch.id, again.claimed.fence, 'processed')).toMatchObject({ current: true });
    expect(await store.claim('p:c', first.batch.id)).toEqual({ status: 'stale' });
    const stream = await redis.xrange('replies', '-', '+');
    expect(stream.map(([, fields]) => JSON.parse(fields[1]!).text)).toEqual(['one']);
    expect((await store.stats('p:c'))?.counters).toMatchObject({ processed: 1 });
  });

  it("an operator's unfenced finish voids the worker's fence: no reply, no ACK, no new claim", async () => {
    const { store } = await open({ disabled: true });
    const c = await claimed(store);
    expect(await store.finish('p:c', c.batch.id, 'cancelled', 2)).toMatchObject({ current: true });
    expect(await store.publishReply('p:c', c.batch.id, c.fence, reply(c.batch.id, 'late'), 'replies')).toBe(false);
    expect(await store.ack('p:c', c.batch.id, c.fence, 'processed')).toEqual({ current: false, nextSeq: null });
    expect(await store.claim('p:c', c.batch.id)).toEqual({ status: 'stale' });
    expect((await store.stats('p:c'))?.counters).toMatchObject({ cancelled: 1, processed: 0 });
  });

  it('a later delivery of the same channel never shares a fence with an earlier one', async () => {
    const { store } = await open({ disabled: true });
    const a = await claimed(store, 'a');
    await store.ack('p:c', a.batch.id, a.fence, 'processed');
    const b = await claimed(store, 'b');
    expect(b.fence.seq).toBeGreaterThan(a.fence.seq);
    expect(await store.isCurrent('p:c', b.batch.id, a.fence)).toBe(false);
  });

  it('markEnqueued, inFlightBefore and readyChannels tell the reconciler what needs a dispatch', async () => {
    const { store } = await open({ disabled: true });
    await store.append(msg('a', '1'), 10);
    await store.append(msg('b', '2'), 20);
    await store.append(msg('b', '3'), 20);
    expect(await store.readyChannels(10)).toEqual(['p:a', 'p:b']);
    expect(await store.readyChannels(1)).toEqual(['p:a']);

    const taken = (await store.take('p:b', 30))!;
    expect(await store.readyChannels(10)).toEqual(['p:a']);
    expect(await store.inFlightBefore(30, 10)).toEqual([]);
    expect(await store.inFlightBefore(31, 10)).toEqual([{ channelKey: 'p:b', batchId: taken.batch.id, startedAt: 30, enqueued: false }]);
    expect(await store.markEnqueued('p:b', 'not-in-flight')).toBe(false);
    expect(await store.markEnqueued('p:b', taken.batch.id)).toBe(true);
    expect(await store.inFlightBefore(31, 10)).toMatchObject([{ enqueued: true }]);

    await store.pause('p:a', 31);
    expect(await store.readyChannels(10)).toEqual([]);
    await store.finish('p:b', taken.batch.id, 'processed', 32);
    expect(await store.readyChannels(10)).toEqual(['p:b']);
    expect(await store.inFlightBefore(100, 10)).toEqual([]);
    expect(await store.inFlightId('p:b')).toBeNull();
  });

  it('failFinally dead-letter: the batch is finished as failed, kept with its error, and the channel moves on', async () => {
    const { store } = await open({ disabled: true });
    const c = await claimed(store, 'bad');
    await store.append(msg('c', 'next'), 2);
    expect(await store.failFinally('p:c', c.batch.id, { ...c.fence, token: 99 }, 'dead-letter', 'x')).toMatchObject({ current: false });
    const done = await store.failFinally('p:c', c.batch.id, c.fence, 'dead-letter', 'processor threw: boom');
    expect(done.current).toBe(true);
    expect(done.nextSeq).not.toBeNull();
    const [dead, ...rest] = await store.deadLetters(10);
    expect(rest).toEqual([]);
    expect(dead).toMatchObject({ channelKey: 'p:c', error: 'processor threw: boom', batch: { id: c.batch.id, channelKey: 'p:c' } });
    expect(dead!.batch.messages.map((m) => m.text)).toEqual(['bad']);
    expect((await store.stats('p:c'))?.counters).toMatchObject({ failed: 1 });
    expect((await store.take('p:c', 3))?.batch.messages[0]?.text).toBe('next');
  });

  it('failFinally block: the batch goes back to the front and the channel pauses until resumed', async () => {
    const { store, events } = await open({ disabled: true });
    const c = await claimed(store, 'bad');
    await store.append(msg('c', 'next'), 2);
    expect(await store.failFinally('p:c', c.batch.id, c.fence, 'block', 'boom')).toEqual({ current: true, nextSeq: null });
    expect(events.at(-1)).toMatchObject({ type: QueueEventType.Paused, channelKey: 'p:c', cancelled: false });
    expect(await store.stats('p:c')).toMatchObject({ paused: true, processing: false, queuedBatches: 2, counters: { failed: 0 } });
    expect(await store.take('p:c', 3)).toBeNull();
    expect(await store.deadLetters(10)).toEqual([]);
    await store.resume('p:c', 4);
    expect((await store.take('p:c', 5))?.batch.id).toBe(c.batch.id);
  });

  it('two gateways racing sealDue on the same due windows seal each exactly once', async () => {
    const prefix = `race${++prefixes}`;
    const a = await open({ maxBatchSize: 100 }, { prefix });
    const b = await open({ maxBatchSize: 100 }, { prefix });
    const channels = Array.from({ length: 300 }, (_, i) => `ch${i}`);
    await Promise.all(channels.map((ch, i) => (i % 2 ? a : b).store.append(msg(ch, 'x'), 0)));
    const [fromA, fromB] = await Promise.all([a.store.sealDue(100, 1_000), b.store.sealDue(100, 1_000)]);
    const sealed = [...fromA, ...fromB].map((s) => s.channelKey);
    expect(sealed.sort()).toEqual(channels.map((ch) => `p:${ch}`).sort());
    const flushed = [...a.events, ...b.events].filter((e) => e.type === QueueEventType.Flushed);
    expect(flushed).toHaveLength(300);
    expect(await a.store.nextDeadline()).toBeNull();
  });

  it('sealDue honours its limit across shards and leaves the rest for the next call', async () => {
    const { store } = await open({ maxBatchSize: 100 }, { shards: 4 });
    for (let i = 0; i < 10; i++) await store.append(msg(`l${i}`, 'x'), 0);
    const first = await store.sealDue(100, 3);
    expect(first).toHaveLength(3);
    const rest = await store.sealDue(100, 100);
    expect(new Set([...first, ...rest].map((s) => s.channelKey)).size).toBe(10);
  });

  it("activeChannels follows this gateway's changes at once and another gateway's by the next sealDue pass", async () => {
    const prefix = `ac${++prefixes}`;
    const a = await open({ maxBatchSize: 100 }, { prefix, shards: 2 });
    const b = await open({ maxBatchSize: 100 }, { prefix, shards: 2 });
    await a.store.append(msg('one', 'x'), 0);
    await a.store.append(msg('two', 'x'), 0);
    expect(a.store.activeChannels()).toBe(2);
    // b only appends to a channel a made active: its count is caught up by its own shard pass.
    await b.store.append(msg('one', 'y'), 1);
    await b.store.sealDue(1, 100);
    expect(b.store.activeChannels()).toBe(2);
  });

  it('an override set at one gateway applies at every other', async () => {
    const prefix = `ov${++prefixes}`;
    const a = await open({}, { prefix });
    const b = await open({}, { prefix });
    await a.store.setOverride('p:c', { windowMs: 7, maxBatchSize: 2 }, 0);
    expect(await b.store.append(msg('c', '1'), 10)).toMatchObject({ status: 'open', deadline: 17, settings: { windowMs: 7 } });
    expect(await b.store.append(msg('c', '2'), 11)).toMatchObject({ status: 'sealed', sealed: { reason: 'size' } });
    expect(await b.store.getOverride('p:c')).toEqual({ windowMs: 7, maxBatchSize: 2 });
  });

  it("clock 'redis': deadlines are on Redis's clock whatever time the caller passes", async () => {
    const { store } = await open({ windowMs: 60_000, maxWaitMs: 120_000 }, { clock: 'redis' });
    const before = await store.redisNow();
    const r = await store.append(msg('c', 'a'), 0);
    const after = await store.redisNow();
    if (r.status !== 'open') throw new Error('expected an open window');
    expect(r.deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(r.deadline).toBeLessThanOrEqual(after + 60_000);
    expect(await store.nextDeadline()).toBe(r.deadline);
    expect(await store.sealDue(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect((await store.stats('p:c'))?.deadline).toBe(r.deadline);
  });

  it('keeps working after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    const { store, redis } = await open({ disabled: true });
    await store.append(msg('c', '1'), 0);
    await redis.script('FLUSH');
    expect((await store.append(msg('c', '2'), 1)).status).toBe('sealed');
    await redis.script('FLUSH');
    const [taken, due] = await Promise.all([store.take('p:c', 2), store.sealDue(2, 10)]);
    expect(taken?.batch.messages[0]?.text).toBe('1');
    expect(due).toEqual([]);
  });

  it('message JSON survives the trip unchanged, empty arrays and odd text included', async () => {
    const { store } = await open({ maxBatchSize: 2 });
    const odd: QueuedMessage = { ...msg('c', 'line\nbreak "quoted" \u00e9 \u{1F600} [x]'), extra: { attachments: [], nested: { list: [1, 'two'] } } };
    await store.append(odd, 0);
    await store.append(msg('c', ''), 1);
    const taken = (await store.take('p:c', 2))!;
    expect(taken.batch.messages[0]).toEqual(odd);
    expect(taken.batch.messages[1]?.text).toBe('');
  });
});

describe('RedisBatchStore: generation', () => {
  it('bumps once when Redis restarts, at start-up of every store and on reconnect of a running one', async () => {
    const own = await startRedis({ appendonly: true });
    onTestFinished(() => own.stop());
    const options = (redis = own.client()) => ({ redis, policy: new SettingsPolicy(), emit: () => undefined, prefix: 'gen' });
    const running = await RedisBatchStore.create(options());
    const second = await RedisBatchStore.create(options());
    const gen = running.generation();
    expect(second.generation()).toBe(gen);
    // With appendfsync everysec Redis may hold back the AOF write while a slow fsync runs (a busy disk), so
    // a write acknowledged just before a kill -9 can be lost. This test is about the generation: `always`
    // makes the append durable before it is acknowledged.
    const admin = own.client();
    await admin.config('SET', 'appendfsync', 'always');
    await running.append(storeMessage('c', 'kept'), 0);

    await own.restart();
    const fresh = await RedisBatchStore.create(options());
    expect(fresh.generation()).toBe(gen + 1);
    // The running store learns it when its client reconnects.
    for (let i = 0; i < 200 && running.generation() === gen; i++) await new Promise((r) => setTimeout(r, 50));
    expect(running.generation()).toBe(gen + 1);
    expect((await fresh.stats('p:c'))?.pending).toBe(1); // AOF kept the acknowledged append
    running.close();
  });
});
