import { describe, expect, it, onTestFinished } from 'vitest';
import { MAX_EXTRA_BYTES } from '../../adapters/webhook/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { MessageBatch } from '../../src/core/model.js';
import { createGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';
import type { Processor } from '../../src/processors/processor.js';
import { startReplySink } from '../helpers/reply-sink.js';
import { tempState } from '../helpers/temp-state.js';

/**
 * Custom platforms carry more than text: `attachments` and `extra` on `POST /v1/messages` reach the
 * processor as `QueuedMessage.extra`, and a reply's `extra` goes back to `replyUrl`.
 */
async function start(processor: Processor) {
  const sink = await startReplySink();
  const config = parseConfig(
    {
      http: { port: 0 },
      state: tempState(),
      batching: { defaults: { windowMs: 100 } },
      adapters: { web: { enabled: false }, webhook: { enabled: true, replyUrl: sink.url, replyBackoffMs: 5 } },
    },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger(), processor });
  onTestFinished(async () => {
    await gateway.close();
    await sink.close();
  });
  await gateway.start();
  const post = async (body: unknown) => {
    const res = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return { gateway, sink, post };
}

const photo = { url: 'https://files.example.com/p/1.png', name: 'screenshot.png', type: 'image/png', size: 48_213 };

describe('webhook attachments and extra', () => {
  it('a message with attachments and extra reaches the processor with both; the reply carries extra back to replyUrl', async () => {
    const batches: MessageBatch[] = [];
    const { sink, post } = await start(async (batch, ctx) => {
      batches.push(batch);
      const [m] = batch.messages;
      await ctx.reply({ text: `got ${(m!.extra.attachments as unknown[]).length} file(s)`, extra: { buttons: [{ label: 'Open', value: 'open-1' }], ticket: m!.extra.ticket } });
    });
    const accepted = await post({ channelId: 'room-1', userId: 'u1', text: 'see attached', attachments: [photo], extra: { ticket: 'T-42', locale: 'de', nested: { a: [1, 2] } } });
    expect(accepted.status).toBe(202);

    const [reply] = await sink.waitFor(1);
    expect(reply!.body).toMatchObject({ channelId: 'room-1', text: 'got 1 file(s)', extra: { buttons: [{ label: 'Open', value: 'open-1' }], ticket: 'T-42' } });
    expect(batches[0]!.messages[0]!.extra).toEqual({ ticket: 'T-42', locale: 'de', nested: { a: [1, 2] }, attachments: [photo] });
  });

  it('a message of only attachments is taken (text may then be empty); a plain reply has no extra key', async () => {
    const batches: MessageBatch[] = [];
    const { sink, post } = await start(async (batch, ctx) => {
      batches.push(batch);
      await ctx.reply('thanks');
    });
    expect((await post({ channelId: 'room-2', userId: 'u1', text: '', attachments: [{ url: 'http://127.0.0.1/x.pdf' }] })).status).toBe(202);
    const [reply] = await sink.waitFor(1);
    expect(reply!.body).not.toHaveProperty('extra');
    expect(batches[0]!.messages[0]!.extra).toEqual({ attachments: [{ url: 'http://127.0.0.1/x.pdf' }] });
  });

  it(`extra over ${MAX_EXTRA_BYTES} bytes → 400 naming the limit; bad attachments → 400 naming each field; nothing enqueued`, async () => {
    const batches: MessageBatch[] = [];
    const { gateway, post } = await start(async (batch) => void batches.push(batch));
    const big = await post({ channelId: 'room-3', userId: 'u1', text: 'x', extra: { blob: 'y'.repeat(MAX_EXTRA_BYTES) } });
    expect(big.status).toBe(400);
    expect(big.body.error.code).toBe('BG_ERR_INVALID_MESSAGE');
    expect(big.body.error.issues).toEqual([{ path: 'extra', message: `extra is ${MAX_EXTRA_BYTES + 11} bytes as JSON; the limit is 8192 bytes (8 KiB)` }]);

    const bad = await post({
      channelId: 'room-3',
      userId: 'u1',
      text: 'x',
      attachments: [{ url: 'ftp://example.com/a' }, { url: 'https://e.com/b', name: '', type: 'png', size: -1 }, { name: 'no-url' }, { url: 'https://e.com/c', colour: 'red' }],
    });
    expect(bad.status).toBe(400);
    const issues = (bad.body.error.issues as Array<{ path: string }>).map((i) => i.path).sort();
    expect(issues).toEqual(['attachments.0.url', 'attachments.1.name', 'attachments.1.size', 'attachments.1.type', 'attachments.2.url', 'attachments.3'].sort());

    const notObject = await post({ channelId: 'room-3', userId: 'u1', text: 'x', extra: ['a'] });
    expect([notObject.status, notObject.body.error.issues.map((i: { path: string }) => i.path)]).toEqual([400, ['extra']]);
    const reserved = await post({ channelId: 'room-3', userId: 'u1', text: 'x', extra: { attachments: [] } });
    expect(reserved.body.error.issues).toEqual([{ path: 'extra', message: 'extra.attachments is reserved: send files in the top-level attachments' }]);
    const blank = await post({ channelId: 'room-3', userId: 'u1', text: '  ', attachments: [] });
    expect([blank.status, blank.body.error.issues.map((i: { path: string }) => i.path)]).toEqual([400, ['text']]);

    expect(await gateway.queue.stats('webhook:room-3')).toBeNull();
  });
});
