import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import { EditingAdapter } from '../../helpers/editing-adapter.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { FakeStream, startFakeOpenAi, type FakeOpenAi } from '../../fakes/openai/index.js';

// A gateway and workers in this process, talking through a real redis-server and real BullMQ; the
// workers run the configured openai processor against the fake server.
describe('openai processor in distributed mode', () => {
  let redis: RedisServer;
  let fake: FakeOpenAi;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
    fake = await startFakeOpenAi();
  });
  afterAll(async () => {
    await fake?.close();
    await redis?.stop();
  });

  async function cluster(prefix: string) {
    const dir = await mkdtemp(path.join(tmpdir(), 'bg-llm-d-'));
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0 },
        redis: { url: redis.url },
        distributed: { prefix, pollMs: 50, reconcileMs: 300, lockDurationMs: 2_000, stalledIntervalMs: 1_000 },
        batching: { defaults: { windowMs: 50, maxBatchSize: 1 } },
        state: { spoolPath: path.join(dir, 'spool.jsonl') },
        processor: { type: 'openai', baseUrl: fake.baseUrl, model: 'fake-model', stream: true },
        shutdownTimeoutMs: 1_000,
      },
      {},
    );
    const adapter = new EditingAdapter();
    const gateway = createGateway({ config, logger: silentLogger(), adapters: [adapter], baseDir: dir });
    onTestFinished(() => gateway.close().then(() => undefined));
    await gateway.start();
    const startWorker = async () => {
      const worker = new WorkerProcess({ config, logger: silentLogger() });
      onTestFinished(() => worker.close());
      await worker.start();
      return worker;
    };
    return { gateway, adapter, startWorker };
  }

  it('the history lives in Redis: a second worker answers with the turns the first one had, and clear forgets them', async () => {
    const { gateway, adapter, startWorker } = await cluster('llmh1');
    const first = fake.requests.length;
    const workerA = await startWorker();
    await adapter.accept('room', 'my name is Ana');
    await adapter.until(() => adapter.calls.at(-1)?.text === 'echo: my name is Ana');
    await workerA.close();

    await startWorker();
    await adapter.accept('room', 'what is my name?');
    await adapter.until(() => adapter.calls.at(-1)?.text === 'echo: what is my name?');
    expect(fake.requests[first + 1]!.body.messages).toEqual([
      { role: 'user', content: 'my name is Ana' },
      { role: 'assistant', content: 'echo: my name is Ana' },
      { role: 'user', content: 'what is my name?' },
    ]);

    const cleared = await fetch(`${gateway.url}/api/v1/channels/${encodeURIComponent('test:room')}/queue`, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    await adapter.accept('room', 'hello again');
    await adapter.until(() => adapter.calls.at(-1)?.text === 'echo: hello again');
    expect(fake.requests[first + 2]!.body.messages).toEqual([{ role: 'user', content: 'hello again' }]);
  });

  it('a streamed answer is relayed progressively and a cancel at the gateway stops it, marked, with the connection closed', async () => {
    const { gateway, adapter, startWorker } = await cluster('llmh2');
    await startWorker();
    const stream = new FakeStream();
    fake.enqueue({ type: 'stream', stream });
    await adapter.accept('room', 'long story');
    await stream.opened;
    stream.push('Chapter one');
    await adapter.until(() => adapter.calls.length === 1);
    expect(adapter.calls[0]).toMatchObject({ kind: 'post', text: 'Chapter one' });
    const res = await fetch(`${gateway.url}/api/v1/channels/${encodeURIComponent('test:room')}/cancel`, { method: 'POST' });
    expect(await res.json()).toEqual({ cancelled: true });
    await stream.closedEarly;
    await adapter.until(() => adapter.calls.length === 2);
    expect(adapter.calls[1]).toMatchObject({ kind: 'edit', text: 'Chapter one … (stopped)' });
  });
});
