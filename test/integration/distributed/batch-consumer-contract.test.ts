import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { InProcessBatchConsumer, type BatchConsumer } from '../../../src/core/batch-consumer.js';
import type { BatchingEngine } from '../../../src/core/engine.js';
import { MessageQueue } from '../../../src/core/message-queue.js';
import type { MessageBatch } from '../../../src/core/model.js';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { connectCluster, createGatewayCluster, type ClusterConnection, type GatewayCluster } from '../../../src/distributed/cluster.js';
import { connectRedis } from '../../../src/distributed/connection.js';
import { BullBatchConsumer } from '../../../src/distributed/worker.js';
import { silentLogger } from '../../../src/logger.js';
import type { ProcessContext, Processor } from '../../../src/processors/processor.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';

/** A consumer under test plus the engine that feeds it batches. */
interface Rig {
  consumer: BatchConsumer;
  /** Available once run() was called. */
  engine(): BatchingEngine;
  close(): Promise<void>;
}

const until = async (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const defaults = { windowMs: 30, maxBatchSize: 10, maxWaitMs: 300 };

let redis: RedisServer;
let prefixN = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function inProcessRig(): Rig {
  const consumer = new InProcessBatchConsumer((handler) => new MessageQueue({ processor: handler, onReply: () => {}, policy: new SettingsPolicy(defaults) }));
  return { consumer, engine: () => consumer.queue!, close: async () => consumer.shutdown(0) };
}

async function bullRig(): Promise<Rig> {
  const config = parseConfig(
    {
      redis: { url: redis.url },
      distributed: { prefix: `bc${++prefixN}`, pollMs: 30, reconcileMs: 500, attempts: 1, lockDurationMs: 2_000, stalledIntervalMs: 1_000 },
      batching: { defaults },
    },
    {},
  );
  const gateway: GatewayCluster = await createGatewayCluster(config, silentLogger(), async () => {});
  await gateway.queue.start();
  const connection: ClusterConnection = await connectCluster(config, silentLogger(), () => {});
  const consumer = new BullBatchConsumer({
    store: connection.store,
    dispatcher: connection.dispatcher,
    control: connection.control,
    connection: connectRedis(redis.url, 'blocking', silentLogger()),
    prefix: config.distributed.prefix,
    shards: config.distributed.shards,
    concurrency: 4,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    onBatchFailed: 'dead-letter',
    logger: silentLogger(),
  });
  return {
    consumer,
    engine: () => gateway.queue,
    close: async () => {
      await consumer.shutdown(0);
      await gateway.close();
      await connection.close();
    },
  };
}

// The BatchConsumer contract (src/core/batch-consumer.ts), run against both implementations.
describe.each([
  ['in-process (MessageQueue)', async () => inProcessRig()],
  ['BullMQ worker (Redis)', bullRig],
] as const)('BatchConsumer contract: %s', (_name, makeRig) => {
  const send = (rig: Rig, channelId: string, id: string) => rig.engine().enqueue({ id, platform: 'p', channelId, userId: 'u', text: id });

  it('run(handler) hands every batch to the handler', async () => {
    const rig = await makeRig();
    const seen: string[][] = [];
    const running = rig.consumer.run(async (batch) => void seen.push(batch.messages.map((m) => m.id)));
    await send(rig, 'a', 'a1');
    await send(rig, 'b', 'b1');
    await until('two batches', () => seen.length === 2);
    expect(seen.sort()).toEqual([['a1'], ['b1']]);
    await rig.close();
    await running; // run() resolves once the consumer stopped
  });

  it('a handler that throws is not fatal: the next batches are still handled', async () => {
    const rig = await makeRig();
    const seen: string[] = [];
    void rig.consumer.run(async (batch) => {
      seen.push(batch.messages[0]!.id);
      if (batch.messages[0]!.id === 'boom') throw new Error('handler failed');
    });
    await send(rig, 'c', 'boom');
    await until('first', () => seen.includes('boom'));
    await send(rig, 'c', 'after');
    await send(rig, 'd', 'other');
    await until('the rest', () => seen.includes('after') && seen.includes('other'));
    await rig.close();
  });

  it('cancellation reaches the handler through its signal', async () => {
    const rig = await makeRig();
    let ctxSeen: ProcessContext | undefined;
    void rig.consumer.run(async (_batch, ctx) => {
      ctxSeen = ctx;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    });
    await send(rig, 'e', 'hold');
    await until('running', () => ctxSeen !== undefined);
    expect(await rig.engine().cancelCurrent('p:e')).toBe(true);
    await until('aborted', () => ctxSeen!.signal.aborted);
    await rig.close();
  });

  it('shutdown() lets in-flight work finish and is idempotent', async () => {
    const rig = await makeRig();
    let finished = false;
    let started = false;
    const handler: Processor = async (_batch: MessageBatch) => {
      started = true;
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
    };
    const running = rig.consumer.run(handler);
    await send(rig, 'f', 'work');
    await until('started', () => started);
    const first = rig.consumer.shutdown(5_000);
    const second = rig.consumer.shutdown(5_000);
    await Promise.all([first, second]);
    expect(finished).toBe(true);
    await running;
    await rig.consumer.shutdown(5_000); // again after it stopped: still fine
    await rig.close();
  });
});
