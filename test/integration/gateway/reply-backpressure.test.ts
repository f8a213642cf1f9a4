import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import type { Processor } from '../../../src/processors/processor.js';
import { MAX_REPLIES_PER_CHANNEL } from '../../../src/reply-router.js';
import { HeldSendsAdapter } from '../../helpers/held-sends-adapter.js';
import { captureLogger } from '../../unit/bus/helpers.js';

/** One macrotask turn: every promise reaction queued so far has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A processor that replies `count` times without waiting between them, and records each ctx.reply settling. */
function burstProcessor(count: number) {
  const resolved: number[] = [];
  let all: Promise<unknown> | undefined;
  const processor: Processor = async (_batch, ctx) => {
    all = Promise.all(Array.from({ length: count }, (_, i) => ctx.reply(`part ${i}`).then(() => void resolved.push(i))));
    await all;
  };
  return { processor, resolved, settled: () => all };
}

async function startGateway(processor: Processor) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-backpressure-'));
  const adapter = new HeldSendsAdapter();
  const { logger, lines } = captureLogger();
  const gateway = createGateway({
    config: parseConfig({ http: { port: 0 }, batching: { defaults: { windowMs: 20 } }, state: { spoolPath: path.join(dir, 'spool.jsonl') }, shutdownTimeoutMs: 1_000 }, {}),
    logger,
    adapters: [adapter],
    processor,
    baseDir: dir,
  });
  onTestFinished(async () => {
    adapter.releaseAll();
    await gateway.close();
  });
  await gateway.start();
  const accept = (text: string) => adapter.ctx!.accept({ id: `m-${text}`, platform: 'test', channelId: 'room', userId: 'u', userName: 'Ana', text });
  return { gateway, adapter, accept, lines };
}

describe('a processor faster than its platform', () => {
  it("waits in ctx.reply once its channel holds the bound of undelivered replies, and goes on as they are delivered", async () => {
    const count = MAX_REPLIES_PER_CHANNEL + 30;
    const { processor, resolved, settled } = burstProcessor(count);
    const { gateway, adapter, accept } = await startGateway(processor);
    expect(await accept('go')).toMatchObject({ accepted: true });

    await adapter.until(() => adapter.sent.length === 1);
    await turn();
    expect(resolved).toHaveLength(MAX_REPLIES_PER_CHANNEL);
    expect(adapter.delivered).toBe(0);
    for (let delivered = 1; delivered <= 10; delivered++) {
      adapter.release(1);
      await adapter.until(() => adapter.sent.length === delivered + 1);
      await turn();
      expect(resolved).toHaveLength(adapter.delivered + MAX_REPLIES_PER_CHANNEL);
    }

    adapter.releaseAll();
    await settled();
    expect(resolved).toHaveLength(count);
    await expect(gateway.close()).resolves.toMatchObject({ lost: 0 });
    expect(adapter.sent.map((r) => r.text)).toEqual(Array.from({ length: count }, (_, i) => `part ${i}`));
    expect(gateway.replyStats()).toEqual({ test: { sent: count, failed: 0 } });
  });

  it('a reply that finds no room within the write timeout is dropped, logged and counted in batchgate_replies_dropped_total{reason="backpressure"}', async () => {
    const { processor, resolved, settled } = burstProcessor(MAX_REPLIES_PER_CHANNEL + 1);
    const { gateway, adapter, accept, lines } = await startGateway(processor);
    const dropped = new Promise<{ reason?: string; batchId: string }>((resolve) => gateway.onReplyDropped(resolve));
    await accept('go');

    // Nothing is delivered until the drop is seen: the last reply can only time out.
    const drop = await dropped;
    expect(drop.reason).toBe('backpressure');
    await adapter.until(() => adapter.sent.length === 1);
    await turn();
    expect(resolved).toHaveLength(MAX_REPLIES_PER_CHANNEL + 1); // the dropped reply's ctx.reply resolved too
    expect(lines.find((l) => l.msg === 'reply dropped: its channel held too many undelivered replies for the whole write timeout')).toMatchObject({
      level: 40,
      component: 'replies',
      channelKey: 'test:room',
      batchId: drop.batchId,
      writeTimeoutMs: 5_000,
    });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('batchgate_replies_dropped_total{reason="backpressure"} 1');

    adapter.releaseAll();
    await settled();
    await gateway.close();
    expect(adapter.sent).toHaveLength(MAX_REPLIES_PER_CHANNEL);
    expect(adapter.sent.at(-1)!.text).toBe(`part ${MAX_REPLIES_PER_CHANNEL - 1}`);
  });
});
