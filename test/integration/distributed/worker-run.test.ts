import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { LifecycleError } from '../../../src/errors.js';
import { connectCluster } from '../../../src/distributed/cluster.js';
import { connectRedis } from '../../../src/distributed/connection.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { BullBatchConsumer } from '../../../src/distributed/worker.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { startFakeDiscord } from '../../fakes/discord/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { tempState } from '../../helpers/temp-state.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis({ appendonly: false });
});
afterAll(async () => {
  await redis?.stop();
});

// A bot on a worker has no Discord connection: its ctx.typing() must reach the gateway that has one.
describe('ctx.typing() on a distributed worker', () => {
  it("reaches Discord as POST /channels/:id/typing through the gateway's discord.js client", async () => {
    const fake = await startFakeDiscord();
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        redis: { url: redis.url },
        distributed: { prefix: 'typing', pollMs: 50, reconcileMs: 500 },
        // typing: false keeps the adapter's own indicator off, so the only typing request is the bot's.
        batching: { defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 1, typing: false } },
        adapters: { web: { enabled: false }, webhook: { enabled: false }, discord: { enabled: true, token: fake.token, apiUrl: fake.apiUrl } },
        state: tempState(),
        shutdownTimeoutMs: 1_000,
      },
      {},
    );
    const typingIn = (channelId: string) => fake.typingCalls.filter((t) => t.channelId === channelId).length;
    const bot: Processor = async (batch, ctx) => {
      await ctx.typing();
      // The bot answers once Discord has shown it typing, so the reply below marks the end of the typing.
      await fake.waitFor(() => typingIn(ctx.channel.channelId) >= 1, 'the typing request');
      await ctx.reply(`typed, then answered ${batch.messages[0]!.text}`);
    };
    const worker = new WorkerProcess({ config, logger: silentLogger(), processor: bot });
    const gateway = createGateway({ config, logger: silentLogger() });
    onTestFinished(async () => {
      // discord.js must be destroyed before its server goes away, or it starts reconnecting.
      await gateway.close();
      await worker.close();
      await fake.close();
    });
    await worker.start();
    await gateway.start();

    fake.sendUserMessage({ channelId: fake.channelId, content: 'are you there?' });
    const posted = await fake.waitFor(() => fake.postedMessages.find((m) => m.channelId === fake.channelId), 'the reply');
    expect(posted.content).toBe('typed, then answered are you there?');
    expect(typingIn(fake.channelId)).toBe(1);
    expect(fake.requests).toContainEqual({ method: 'POST', path: `/api/v10/channels/${fake.channelId}/typing`, status: 204 });
  });
});

// The interrupt, cancel and stop abort reasons on a worker are cases of the engine contract suite.
describe('a batch run on a worker', () => {
  let prefixN = 0;
  const configFor = (defaults: Record<string, unknown>) =>
    parseConfig(
      {
        redis: { url: redis.url },
        distributed: { prefix: `run${++prefixN}`, pollMs: 50, reconcileMs: 500, attempts: 1 },
        batching: { defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 1, ...defaults } },
        shutdownTimeoutMs: 1_000,
      },
      {},
    );

  it('run() a second time rejects with LifecycleError, as the embedded consumer does', async () => {
    const config = configFor({});
    const connection = await connectCluster(config, silentLogger(), () => {});
    const bullConnection = connectRedis(redis.url, 'blocking', silentLogger());
    const consumer = new BullBatchConsumer({
      store: connection.store,
      dispatcher: connection.dispatcher,
      control: connection.control,
      connection: bullConnection,
      prefix: config.distributed.prefix,
      shards: config.distributed.shards,
      concurrency: 1,
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      onBatchFailed: 'dead-letter',
      logger: silentLogger(),
    });
    onTestFinished(async () => {
      await consumer.shutdown(0);
      await connection.close();
      bullConnection.disconnect();
    });
    const running = consumer.run(async () => {});
    const again = consumer.run(async () => {});
    await expect(again).rejects.toBeInstanceOf(LifecycleError);
    await consumer.shutdown(0);
    await running;
  });
});
