import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import { ChatAdapter, startGateway, until } from '../admin/harness.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { tempState } from '../../helpers/temp-state.js';

interface Panel {
  title: string;
  targets: Array<{ expr: string }>;
}

/** Every metric a dashboard panel queries, with the panel asking for it. */
async function dashboardMetrics(): Promise<Map<string, string>> {
  const dashboard = JSON.parse(await readFile('deploy/grafana/batchgate.json', 'utf8')) as { panels: Panel[] };
  const wanted = new Map<string, string>();
  for (const panel of dashboard.panels) {
    expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    for (const { expr } of panel.targets) {
      const names = expr.match(/\bbatchgate_[a-z_]+/g) ?? [];
      expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) wanted.set(name, panel.title);
    }
  }
  return wanted;
}

/** Metric names (samples, as Prometheus stores them: `_bucket`, `_sum`, `_count` included) a /metrics answer holds. */
async function exposed(url: string): Promise<Set<string>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const names = new Set<string>();
  for (const line of (await res.text()).split('\n')) if (line !== '' && !line.startsWith('#')) names.add(line.split(/[{ ]/)[0]!);
  return names;
}

function missing(wanted: Map<string, string>, have: Set<string>): string[] {
  return [...wanted].filter(([name]) => !have.has(name)).map(([name, panel]) => `${name} (panel "${panel}")`);
}

describe('deploy/grafana/batchgate.json', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('every panel query names a metric an embedded gateway serves on /metrics', async () => {
    const wanted = await dashboardMetrics();
    const { gw, chat } = await startGateway({ batching: { defaults: { maxBatchSize: 1 } } });
    await chat.say('room', 'hello');
    await until(() => chat.sent.length === 1, 10_000, 'the reply');
    expect(missing(wanted, await exposed(gw.url))).toEqual([]);
  });

  it('in distributed mode, every panel query names a metric a gateway or a worker serves', async () => {
    const wanted = await dashboardMetrics();
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        redis: { url: redis.url },
        distributed: { prefix: 'dash', pollMs: 50, reconcileMs: 500 },
        batching: { defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 1 } },
        state: tempState(),
        shutdownTimeoutMs: 1_000,
      },
      {},
    );
    const worker = new WorkerProcess({ config, logger: silentLogger(), processor: async (batch, ctx) => void (await ctx.reply(batch.text())) });
    const chat = new ChatAdapter();
    const gw = createGateway({ config, logger: silentLogger(), adapters: [chat] });
    onTestFinished(async () => {
      await gw.close();
      await worker.close();
    });
    await worker.start();
    await gw.start();
    await chat.say('room', 'hello');
    await until(() => chat.sent.length === 1, 15_000, 'the reply');
    const [gateway, workerSeries] = await Promise.all([exposed(gw.url), exposed(worker.url)]);
    expect(missing(wanted, new Set([...gateway, ...workerSeries]))).toEqual([]);
    // The run series are the worker's alone (summed over the cluster, they count each batch once).
    for (const name of ['batchgate_processing_seconds_bucket', 'batchgate_batch_wait_seconds_bucket', 'batchgate_processor_errors_total']) {
      expect(workerSeries.has(name), name).toBe(true);
    }
    expect(gateway.has('batchgate_batch_wait_seconds_bucket')).toBe(false);
  });
});
