import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { PlatformAdapter } from '../../../adapters/adapter.js';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { EditingAdapter } from '../../helpers/editing-adapter.js';
import { RecordingAdapter } from '../../helpers/recording-adapter.js';
import { streamFeed as feed } from '../../helpers/stream-feed.js';

async function startGateway(adapter: PlatformAdapter, processor: Processor) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bg-stream-gw-'));
  const gateway = createGateway({
    config: parseConfig({ http: { port: 0 }, batching: { defaults: { windowMs: 50 } }, state: { spoolPath: path.join(dir, 'spool.jsonl') } }, {}),
    logger: silentLogger(),
    adapters: [adapter],
    processor,
    baseDir: dir,
  });
  onTestFinished(() => gateway.close().then(() => undefined));
  await gateway.start();
  return gateway;
}

describe('ctx.reply(asyncIterable) from a module processor', () => {
  it('an adapter that cannot edit gets one ordinary reply with the whole text; ctx.reply resolves true', async () => {
    const adapter = new RecordingAdapter();
    const f = feed();
    let told: boolean | undefined;
    await startGateway(adapter, async (_batch, ctx) => {
      told = await ctx.reply(f.stream());
    });
    await adapter.accept('room', 'hi');
    await adapter.until(() => adapter.events.some((e) => e.type === 'batch.started'));
    f.push('one, ');
    f.push('two, ');
    f.push('three');
    f.end();
    await adapter.until(() => adapter.sent.length === 1 && told !== undefined);
    expect(adapter.sent[0]!.text).toBe('one, two, three');
    expect(adapter.sent[0]!.stream).toBeUndefined();
    expect(told).toBe(true);
  });

  it('cancelled mid-stream: the generator is returned, ctx.reply resolves false, an editing adapter keeps the shown text marked, a non-editing one gets nothing', async () => {
    for (const adapter of [new EditingAdapter(), new RecordingAdapter()]) {
      const f = feed();
      let told: boolean | undefined;
      const gateway = await startGateway(adapter, async (_batch, ctx) => {
        told = await ctx.reply(f.stream());
      });
      await adapter.accept('room', 'hi');
      await adapter.until(() => adapter.events.some((e) => e.type === 'batch.started'));
      f.push('partial');
      if (adapter instanceof EditingAdapter) await adapter.until(() => adapter.calls.length === 1);
      expect(await gateway.queue.cancelCurrent('test:room')).toBe(true);
      await adapter.until(() => told !== undefined && f.returned());
      f.push(' never shown');
      expect(told).toBe(false);
      if (adapter instanceof EditingAdapter) {
        await adapter.until(() => adapter.calls.length === 2);
        expect(adapter.calls.map((c) => [c.kind, c.text])).toEqual([
          ['post', 'partial'],
          ['edit', 'partial … (stopped)'],
        ]);
      }
      // The pump ended without a final snapshot: a platform that cannot edit was never sent anything.
      expect(adapter.sent).toEqual([]);
    }
  });
});
