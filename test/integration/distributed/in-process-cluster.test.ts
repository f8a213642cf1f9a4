import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { MessageBatch, OutboundMessage } from '../../../src/core/model.js';
import { Worker, UnrecoverableError } from 'bullmq';
import { createGatewayCluster, type GatewayCluster } from '../../../src/distributed/cluster.js';
import { BATCH_QUEUE, bullPrefix } from '../../../src/distributed/dispatcher.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { silentLogger } from '../../../src/logger.js';
import type { ProcessContext } from '../../../src/processors/processor.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';

type Behaviour = (batch: MessageBatch, ctx: ProcessContext) => Promise<void>;

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// A gateway and a worker in this process, talking only through a real redis-server and real BullMQ.
describe('distributed mode in one process: gateway engine + BullMQ worker on real Redis', () => {
  let redis: RedisServer;
  let prefixN = 0;
  let gateway: GatewayCluster;
  let worker: WorkerProcess;
  let replies: OutboundMessage[];
  let behaviour: Behaviour;
  let runs: Array<{ ids: string[]; attempt: number; aborted: boolean }>;
  let workerConfig: ReturnType<typeof parseConfig>;

  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function start(distributed: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}): Promise<void> {
    const config = (workerConfig = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        redis: { url: redis.url },
        distributed: { prefix: `ip${++prefixN}`, pollMs: 50, reconcileMs: 300, lockDurationMs: 1_000, stalledIntervalMs: 500, attempts: 2, backoffMs: 50, ...distributed },
        batching: { maxConcurrentBatches: 4, defaults: { windowMs: 60, maxBatchSize: 5, maxWaitMs: 600, ...defaults } },
        shutdownTimeoutMs: 1_000,
      },
      {},
    ));
    replies = [];
    runs = [];
    behaviour = async (batch, ctx) => {
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    gateway = await createGatewayCluster(config, silentLogger(), async (r) => {
      replies.push(r);
    });
    await gateway.queue.start();
    gateway.relay.start();
    worker = new WorkerProcess({
      config,
      logger: silentLogger(),
      processor: async (batch, ctx) => {
        const run = { ids: batch.messages.map((m) => m.id), attempt: ctx.attempt, aborted: false };
        runs.push(run);
        ctx.signal.addEventListener('abort', () => (run.aborted = true));
        await behaviour(batch, ctx);
      },
    });
    await worker.start();
  }

  afterEach(async () => {
    await worker?.close();
    await gateway?.close();
  });

  const send = (channelId: string, id: string, text = id) =>
    gateway.queue.enqueue({ id, platform: 'webhook', channelId, userId: 'u', text });

  it('a burst becomes one batch on the worker, and its one reply comes back through the relay with every id', async () => {
    // The burst seals by size under a long window, however long the three enqueues take.
    await start({}, { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 3 });
    for (const id of ['a', 'b', 'c']) expect(await send('room', id)).toMatchObject({ accepted: true });
    await until('reply', () => replies.length === 1);
    expect(runs.map((r) => r.ids)).toEqual([['a', 'b', 'c']]);
    expect(replies[0]).toMatchObject({ platform: 'webhook', channelId: 'room', text: 'a+b+c', inReplyTo: ['a', 'b', 'c'] });
  });

  it('hold keeps an open window open on Redis time: a message after the window but inside the hold joins the batch', async () => {
    await start({}, { windowMs: 300, maxWaitMs: 5_000, maxBatchSize: 10 });
    expect(await gateway.queue.hold('webhook:quiet', 1_000, 'mediaGroup')).toEqual({ held: false });
    await send('room', 'a');
    const before = Date.now();
    const held = await gateway.queue.hold('webhook:room', 1_500, 'mediaGroup');
    expect(held.held).toBe(true);
    if (held.held) expect(held.deadline).toBeGreaterThanOrEqual(before + 1_500 - 100);
    // The sender pauses past the 300 ms window (the scenario), still inside the hold.
    await new Promise((r) => setTimeout(r, 700));
    await send('room', 'b');
    await until('reply', () => replies.length === 1);
    expect(runs.map((r) => r.ids)).toEqual([['a', 'b']]);
  });

  it('closing the worker and the gateway closes every Redis connection they opened', async () => {
    await start();
    await worker.close();
    await gateway.close();
    const probe = redis.client();
    await until('connections gone', async () => !/name=batchgate-/.test(String(await probe.call('CLIENT', 'LIST'))), 5_000);
    probe.disconnect();
  });

  it('a repeated message id is answered duplicate and not enqueued twice', async () => {
    await start();
    expect(await send('room', 'same')).toMatchObject({ accepted: true });
    expect(await send('room', 'same')).toMatchObject({ accepted: false, reason: 'duplicate' });
    await until('reply', () => replies.length === 1);
    expect(runs.flatMap((r) => r.ids)).toEqual(['same']);
  });

  it('a failing attempt re-runs the same batch while the channel waits; order holds', async () => {
    await start({ attempts: 3 });
    let calls = 0;
    behaviour = async (batch, ctx) => {
      if (batch.messages[0]!.id === 'first' && ++calls === 1) throw new Error('flaky bot');
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    await send('room', 'first');
    await until('first run', () => runs.length >= 1);
    await send('room', 'second');
    await until('two replies', () => replies.length === 2);
    expect(replies.map((r) => r.inReplyTo)).toEqual([['first'], ['second']]);
    expect(runs.map((r) => [r.ids, r.attempt])).toEqual([[['first'], 1], [['first'], 2], [['second'], 1]]);
  });

  it('dead-letter: a batch failing every attempt is kept for the admin API and the channel moves on', async () => {
    await start({ attempts: 2, onBatchFailed: 'dead-letter' });
    behaviour = async (batch, ctx) => {
      if (batch.messages.some((m) => m.text === 'poison')) throw new Error('cannot digest');
      await ctx.reply('ok');
    };
    await send('room', 'p1', 'poison');
    await until('two failed runs', () => runs.length >= 2);
    await send('room', 'after');
    await until('the next batch replied', () => replies.length === 1);
    expect(replies[0]!.inReplyTo).toEqual(['after']);
    const dead = await gateway.queue.deadLetters(10);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ channelKey: 'webhook:room', error: 'cannot digest' });
    expect((await gateway.queue.stats('webhook:room'))?.counters.failed).toBe(1);
  });

  it('block: a batch failing every attempt pauses its channel with the batch in front; resume runs it again', async () => {
    await start({ attempts: 1, onBatchFailed: 'block' });
    let broken = true;
    behaviour = async (batch, ctx) => {
      if (broken) throw new Error('down');
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    await send('room', 'x');
    await until('paused', async () => (await gateway.queue.stats('webhook:room'))?.paused === true);
    await send('room', 'y');
    // 'y' sealed behind the blocked batch and waits; resume's order below shows it never ran ahead.
    await until('y sealed', async () => (await gateway.queue.stats('webhook:room'))?.queuedBatches === 2);
    expect(replies).toEqual([]);
    broken = false;
    await gateway.queue.resume('webhook:room');
    await until('both replied', () => replies.flatMap((r) => r.inReplyTo).length === 2);
    expect(replies.flatMap((r) => r.inReplyTo)).toEqual(['x', 'y']);
  });

  it('cancel at the gateway aborts the worker’s signal; the late reply is dropped; the channel moves on', async () => {
    await start();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    behaviour = async (batch, ctx) => {
      if (batch.messages[0]!.id === 'slow') {
        await held;
        await ctx.reply('too late'); // after the cancel: must be refused
        return;
      }
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    await send('room', 'slow');
    await until('running', () => runs.length === 1);
    expect(await gateway.queue.cancelCurrent('webhook:room')).toBe(true);
    await until('signal aborted', () => runs[0]!.aborted);
    release();
    await send('room', 'next');
    await until('next replied', () => replies.length === 1);
    await until('the late reply dropped', () => gateway.queue.totals().repliesDropped === 1);
    expect(replies.map((r) => r.text)).toEqual(['next']);
    expect((await gateway.queue.stats('webhook:room'))?.counters.cancelled).toBe(1);
  });

  it('a processor that ignores its signal past processingTimeoutMs releases the channel, and the worker still shuts down', async () => {
    await start({ attempts: 1 }, { processingTimeoutMs: 300 });
    behaviour = async (batch, ctx) => {
      if (batch.messages[0]!.id === 'stubborn') await new Promise(() => {}); // never settles, never looks at ctx.signal
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    await send('room', 'stubborn');
    await until('running', () => runs.length === 1);
    await send('room', 'next');
    await until('the next batch ran and replied', () => replies.length === 1, 10_000);
    expect(replies[0]!.inReplyTo).toEqual(['next']);
    expect(runs[0]!.aborted).toBe(true);
    expect((await gateway.queue.stats('webhook:room'))?.counters.failed).toBe(1);
  });

  it('interrupt mode: a new batch aborts the running one, whose messages re-run merged in front', async () => {
    await start({}, { mode: 'interrupt' });
    behaviour = async (batch, ctx) => {
      if (batch.messages.length === 1 && batch.messages[0]!.id === 'one') {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        return;
      }
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    await send('room', 'one');
    await until('running', () => runs.length === 1);
    await send('room', 'two');
    await until('merged reply', () => replies.length === 1);
    expect(runs[0]!.aborted).toBe(true);
    expect(replies[0]!.inReplyTo).toEqual(['one', 'two']);
    // The interrupted messages run again, so the attempt counts past 1; on a loaded machine BullMQ may also
    // take over a delivery whose lock renewal was late (a stall), which counts one more.
    expect(runs.at(-1)!.attempt).toBeGreaterThanOrEqual(2);
  });

  it('the reconciler dispatches a batch left in flight without a job (a crash between take and add)', async () => {
    await start();
    // Seal and take as a gateway would, then "crash" before adding the BullMQ job.
    await gateway.connection.store.append({ id: 'orphan', platform: 'webhook', channelId: 'lost', userId: 'u', userName: 'u', text: 'orphan', queuedAt: Date.now(), extra: {} }, Number.NaN);
    await gateway.connection.store.seal('webhook:lost', 'admin', Number.NaN);
    const taken = await gateway.connection.store.take('webhook:lost', Number.NaN);
    expect(taken).not.toBeNull();
    await until('reconciled and replied', () => replies.length === 1, 10_000);
    expect(replies[0]!.inReplyTo).toEqual(['orphan']);
  });

  it('the reconciler walks past a full page of healthy long-running batches to reach a newer orphan', async () => {
    // Two batches examined per pass; three healthy ones run for the whole test, older than the orphan.
    await start({ reconcileBatch: 2 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    behaviour = async (batch, ctx) => {
      if (batch.messages[0]!.id.startsWith('slow')) await held;
      await ctx.reply(batch.messages.map((m) => m.text).join('+'));
    };
    for (const n of [1, 2, 3]) await send(`busy${n}`, `slow${n}`);
    await until('three long batches running', () => runs.length === 3);
    await new Promise((r) => setTimeout(r, 20)); // the orphan goes in flight a few ms after them
    const store = gateway.connection.store;
    await store.append({ id: 'orphan', platform: 'webhook', channelId: 'lost', userId: 'u', userName: 'u', text: 'orphan', queuedAt: Date.now(), extra: {} }, Number.NaN);
    await store.seal('webhook:lost', 'admin', Number.NaN);
    expect(await store.take('webhook:lost', Number.NaN)).not.toBeNull();
    try {
      await until('orphan reconciled and replied', () => replies.some((r) => r.channelId === 'lost'), 10_000);
      expect(replies.filter((r) => r.channelId === 'lost').map((r) => r.inReplyTo)).toEqual([['orphan']]);
    } finally {
      release();
    }
    await until('the long ones end', () => replies.length === 4);
  });

  it('the reconciler replaces a job BullMQ failed outside the processor, so its channel is not held forever', async () => {
    await start();
    await worker.close(); // no batchgate worker for now
    const failing = new Worker(BATCH_QUEUE, async () => {
      throw new UnrecoverableError('worker lost Redis mid-job');
    }, { connection: redis.client({ maxRetriesPerRequest: null }), prefix: bullPrefix(workerConfig.distributed.prefix) });
    expect(await send('stuck', 's1')).toMatchObject({ accepted: true });
    await until('the job failed in BullMQ', async () => (await gateway.connection.dispatcher.queue.getFailedCount()) === 1);
    await failing.close();
    worker = new WorkerProcess({ config: workerConfig, logger: silentLogger(), processor: async (batch, ctx) => void (await ctx.reply(batch.messages.map((m) => m.text).join('+'))) });
    await worker.start();
    await until('re-dispatched and replied', () => replies.length === 1, 10_000);
    expect(replies[0]!.inReplyTo).toEqual(['s1']);
  });

  it('while Redis is unreachable, intake answers unavailable instead of accepting what it cannot persist', async () => {
    await start();
    await redis.kill('SIGKILL');
    try {
      await until('disconnected', () => gateway.connection.commands.status !== 'ready', 5_000);
      expect(gateway.queue.available()).toBe(false);
      expect(await send('room', 'nowhere')).toMatchObject({ accepted: false, reason: 'unavailable' });
    } finally {
      await redis.restart();
    }
    await until('reconnected', () => gateway.connection.commands.status === 'ready', 10_000);
    expect(await send('room', 'later')).toMatchObject({ accepted: true });
  });
});
