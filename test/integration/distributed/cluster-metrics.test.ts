import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { createGateway, type Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { ChatAdapter, until } from '../admin/harness.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { tempState } from '../../helpers/temp-state.js';

/** `name{labels}` → value of one Prometheus text exposition. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels include `labels` (e.g. `outcome="completed"`), over all scrapes. */
function total(scrapes: Array<Map<string, number>>, name: string, labels = ''): number {
  let sum = 0;
  for (const m of scrapes) {
    for (const [series, value] of m) {
      const bare = series.split('{')[0];
      if (bare === name && series.includes(labels)) sum += value;
    }
  }
  return sum;
}

// What every Prometheus dashboard does: sum a counter over all the cluster's /metrics endpoints.
describe('metrics add up across a cluster: two gateways, two workers, real Redis and BullMQ', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('after N batches, the sums over all /metrics endpoints are N flushed, N processed, the failures once', async () => {
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        redis: { url: redis.url },
        distributed: { prefix: 'sums', pollMs: 50, reconcileMs: 500, attempts: 1 },
        // One message per batch, sealed at once by size: N messages are N batches whatever the timing.
        batching: { maxConcurrentBatches: 4, defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 1 } },
        state: tempState(),
        shutdownTimeoutMs: 1_000,
      },
      {},
    );
    const bot: Processor = async (batch, ctx) => {
      if (batch.messages[0]!.text.startsWith('fail')) throw new Error('bot failed');
      await ctx.reply(`re: ${batch.messages[0]!.text}`);
    };
    const workers = [0, 1].map(() => new WorkerProcess({ config, logger: silentLogger(), processor: bot }));
    const chats = [new ChatAdapter(), new ChatAdapter()];
    const gateways: Gateway[] = chats.map((chat) => createGateway({ config, logger: silentLogger(), adapters: [chat] }));
    onTestFinished(async () => {
      await Promise.all(gateways.map((g) => g.close()));
      await Promise.all(workers.map((w) => w.close()));
    });
    await Promise.all(workers.map((w) => w.start()));
    await Promise.all(gateways.map((g) => g.start()));

    const processed = 12;
    const failed = 3;
    // Alternate gateways and channels, so both gateways seal and both workers run batches.
    for (let i = 0; i < processed + failed; i++) {
      const text = i < failed ? `fail ${i}` : `ok ${i}`;
      expect(await chats[i % 2]!.say(`room-${i % 5}`, text)).toMatchObject({ accepted: true });
    }
    const ended = async () => {
      const s = await Promise.all([...gateways.map((g) => scrape(g.url)), ...workers.map((w) => scrape(w.url))]);
      return total(s, 'batchgate_processing_seconds_count') === processed + failed;
    };
    await until(ended, 20_000, 'every batch ended');
    await until(() => chats[0]!.sent.length + chats[1]!.sent.length === processed, 10_000, 'every reply delivered');

    const gatewayScrapes = await Promise.all(gateways.map((g) => scrape(g.url)));
    const workerScrapes = await Promise.all(workers.map((w) => scrape(w.url)));
    const all = [...gatewayScrapes, ...workerScrapes];
    expect(total(all, 'batchgate_messages_received_total')).toBe(processed + failed);
    expect(total(all, 'batchgate_batches_flushed_total')).toBe(processed + failed);
    expect(total(all, 'batchgate_batch_size_count')).toBe(processed + failed);
    expect(total(all, 'batchgate_processing_seconds_count', 'outcome="completed"')).toBe(processed);
    expect(total(all, 'batchgate_processing_seconds_count', 'outcome="failed"')).toBe(failed);
    expect(total(all, 'batchgate_processor_errors_total')).toBe(failed);
    expect(total(all, 'batchgate_batch_wait_seconds_count')).toBe(processed + failed);
    expect(total(all, 'batchgate_replies_sent_total')).toBe(processed);
    // Both gateways took part, and the run series live on the workers only.
    for (const m of gatewayScrapes) expect(total([m], 'batchgate_messages_received_total')).toBeGreaterThan(0);
    expect(total(gatewayScrapes, 'batchgate_processing_seconds_count', 'outcome="completed"')).toBe(0);
    expect(total(gatewayScrapes, 'batchgate_batch_wait_seconds_count')).toBe(0);
    for (const m of workerScrapes) expect(m.has('batchgate_running_batches') && m.has('batchgate_max_concurrent_batches')).toBe(true);
    for (const m of gatewayScrapes) expect(m.has('batchgate_running_batches')).toBe(false);

    // The live views still see the whole cluster: each gateway's stats count every failure.
    for (const g of gateways) {
      const stats = (await (await fetch(`${g.url}/api/v1/stats`)).json()) as { sinceStart: { processorErrors: number } };
      expect(stats.sinceStart.processorErrors).toBe(failed);
    }
  });
});

describe("a worker's /metrics behind admin.token", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('refuses a scrape without the token with the gateway’s error body, and serves one with it', async () => {
    const config = parseConfig({ http: { host: '127.0.0.1', port: 0 }, redis: { url: redis.url }, admin: { token: 'scrape-secret' }, distributed: { prefix: 'wauth' } }, {});
    const worker = new WorkerProcess({ config, logger: silentLogger(), processor: async () => undefined });
    onTestFinished(() => worker.close());
    await worker.start();
    const refused = await fetch(`${worker.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: 'BG_ERR_UNAUTHORIZED' } });
    const served = await fetch(`${worker.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } });
    expect(served.status).toBe(200);
    expect(await served.text()).toContain('batchgate_');
  });
});
