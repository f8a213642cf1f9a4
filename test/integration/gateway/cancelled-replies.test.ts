import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { startReplySink } from '../../helpers/reply-sink.js';

const BACKOFF_MS = 20_000;

async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describe('a cancelled batch never replies', () => {
  it('its reply waiting in webhook retry backoff is dropped at the cancel and counted; the channel goes on', async () => {
    // Full-jitter backoff draws its delay; pin the draw so the retry sits in backoff for ~20 s, long after the cancel.
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    onTestFinished(() => {
      vi.restoreAllMocks();
    });
    const sink = await startReplySink({ statuses: [503] });
    onTestFinished(() => sink.close());
    // The first batch replies, then keeps working until it is cancelled; later batches reply and end.
    const processor: Processor = async (batch, ctx) => {
      await ctx.reply(`reply to ${batch.messages.map((m) => m.text).join('|')}`);
      if (batch.messages[0]!.text !== 'first') return;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'bg-cancel-'));
    const gateway = createGateway({
      config: parseConfig(
        {
          http: { port: 0 },
          batching: { defaults: { windowMs: 20, maxWaitMs: 1_000 } },
          adapters: { web: { enabled: false }, webhook: { enabled: true, replyUrl: sink.url, replyBackoffMs: BACKOFF_MS, replyBackoffMaxMs: BACKOFF_MS } },
          state: { spoolPath: path.join(dir, 'spool.jsonl') },
          shutdownTimeoutMs: 1_000,
        },
        {},
      ),
      logger: silentLogger(),
      processor,
      baseDir: dir,
    });
    onTestFinished(() => gateway.close().then(() => undefined));
    await gateway.start();
    const post = (text: string) =>
      fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'room', userId: 'u', text }) });

    expect((await post('first')).status).toBe(202);
    // The reply's first try was refused: it is in backoff now.
    const [firstTry] = await sink.waitFor(1);
    expect(firstTry!.status ?? 503).toBe(503);
    const cancel = await fetch(`${gateway.url}/api/v1/channels/${encodeURIComponent('webhook:room')}/cancel`, { method: 'POST' });
    expect(await cancel.json()).toEqual({ cancelled: true });

    await expect.poll(() => metric(gateway.url, 'batchgate_replies_dropped_total{reason="cancelled"}'), { timeout: 10_000 }).toBe(1);
    // The channel's next reply is not held behind the dropped one, and is the only one delivered.
    expect((await post('second')).status).toBe(202);
    await expect.poll(() => sink.delivered().length, { timeout: 10_000 }).toBe(1);
    expect((sink.delivered()[0]!.body as { text: string }).text).toBe('reply to second');
    expect(sink.requests.filter((r) => (r.body as { text: string }).text === 'reply to first')).toHaveLength(1);
    expect(gateway.replyStats()['webhook']).toEqual({ sent: 1, failed: 0 });
  });
});
