import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Channel } from '../../../src/bus/index.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { ReplyRouter, type ReplyDropReason } from '../../../src/reply-router.js';
import { HeldSendsAdapter } from '../../helpers/held-sends-adapter.js';
import { captureLogger, settle } from '../bus/helpers.js';

function reply(channelId: string, text: string, batchId = `batch-${channelId}`): OutboundMessage {
  return { platform: 'test', channelId, text, batchId, inReplyTo: [] };
}

/** One macrotask turn: every promise reaction queued so far has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(options: { maxRepliesPerChannel: number; writeTimeoutMs?: number }) {
  const { logger, lines } = captureLogger();
  const replies = new Channel<OutboundMessage>({ name: 'replies', queryOf: (r) => ({ platform: r.platform }), writeTimeoutMs: options.writeTimeoutMs ?? 5_000, logger });
  const dropped: Array<{ text: string; reason: ReplyDropReason }> = [];
  const router = new ReplyRouter(replies, logger, (r, reason) => dropped.push({ text: r.text, reason }), { maxRepliesPerChannel: options.maxRepliesPerChannel });
  const adapter = new HeldSendsAdapter();
  const shutdown = new AbortController();
  router.attach(adapter, shutdown.signal);
  onTestFinished(async () => {
    adapter.releaseAll();
    shutdown.abort();
    await replies.stop();
  });
  return { router, replies, adapter, dropped, lines };
}

describe('ReplyRouter pushes back on a channel whose chain is full', () => {
  it('publish resolves only as the channel drains: resolved = delivered + bound, in order, other channels unaffected', async () => {
    const bound = 5;
    const { router, adapter, dropped } = setup({ maxRepliesPerChannel: bound });
    const resolved: number[] = [];
    const published = Array.from({ length: 12 }, (_, i) => router.publish(reply('a', `a${i}`)).then(() => void resolved.push(i)));
    await adapter.until(() => adapter.sent.length === 1);
    await turn();
    // a0 is at the platform, a1..a4 wait in the chain: five in the router; the rest of the publishes wait.
    expect(resolved).toEqual([0, 1, 2, 3, 4]);
    expect(adapter.delivered).toBe(0);

    // Another channel of the same platform is not held behind the full one.
    let otherResolved = false;
    const other = router.publish(reply('b', 'b0')).then(() => (otherResolved = true));
    await adapter.until(() => adapter.sent.some((r) => r.text === 'b0'));
    await other;
    expect(otherResolved).toBe(true);
    adapter.release(1, 'b');

    for (let delivered = 1; delivered <= 7; delivered++) {
      adapter.release(1, 'a');
      await adapter.until(() => adapter.sent.filter((r) => r.channelId === 'a').length === Math.min(12, delivered + 1));
      await turn();
      expect(resolved).toHaveLength(Math.min(12, delivered + bound));
    }
    adapter.releaseAll();
    await Promise.all(published);
    await expect(router.flush(10_000)).resolves.toBe(true);
    expect(adapter.sent.filter((r) => r.channelId === 'a').map((r) => r.text)).toEqual(Array.from({ length: 12 }, (_, i) => `a${i}`));
    expect(router.stats()).toEqual({ test: { sent: 13, failed: 0 } });
    expect(dropped).toEqual([]);
  });

  it('a reply that finds no room within the write timeout is dropped, logged and counted; the channel goes on', async () => {
    const { router, adapter, dropped, lines } = setup({ maxRepliesPerChannel: 2, writeTimeoutMs: 50 });
    const first = [router.publish(reply('a', 'r0')), router.publish(reply('a', 'r1'))];
    await Promise.all(first);
    // Nothing is delivered until the drop is seen, so the third publish cannot find room.
    await router.publish(reply('a', 'r2'));
    expect(dropped).toEqual([{ text: 'r2', reason: 'backpressure' }]);
    const warning = lines.find((l) => l.msg === 'reply dropped: its channel held too many undelivered replies for the whole write timeout');
    expect(warning).toMatchObject({ level: 40, channelKey: 'test:a', batchId: 'batch-a', maxRepliesPerChannel: 2, writeTimeoutMs: 50 });

    adapter.releaseAll();
    await router.publish(reply('a', 'r3'));
    await expect(router.flush(10_000)).resolves.toBe(true);
    expect(adapter.sent.map((r) => r.text)).toEqual(['r0', 'r1', 'r3']);
    expect(router.stats()).toEqual({ test: { sent: 3, failed: 0 } });
  });

  it('a reply waiting for room whose batch is cancelled meanwhile is dropped as cancelled, not delivered', async () => {
    const { router, adapter, dropped } = setup({ maxRepliesPerChannel: 1 });
    await router.publish(reply('a', 'r0', 'one'));
    const waiting = router.publish(reply('a', 'r1', 'one'));
    await adapter.until(() => adapter.sent.length === 1);
    router.cancelBatch('one');
    adapter.releaseAll();
    await waiting;
    await expect(router.flush(10_000)).resolves.toBe(true);
    expect(adapter.sent.map((r) => r.text)).toEqual(['r0']);
    expect(dropped.map((d) => [d.text, d.reason])).toContainEqual(['r1', 'cancelled']);
  });
});

describe('ReplyRouter.flush awaits idleness instead of polling', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('arms one timer, its deadline, however long it waits, and resolves as soon as the last send ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { router, replies, adapter } = setup({ maxRepliesPerChannel: 100 });
    await router.publish(reply('a', 'published'));
    // Sent straight on the bus, as distributed mode's relay does: it waits in the consumer's queue too.
    await replies.internalProducer.send(reply('b', 'relayed'));
    await adapter.until(() => adapter.sent.length === 2);

    const timers = vi.spyOn(globalThis, 'setTimeout');
    let result: boolean | undefined;
    const flushed = router.flush(60_000).then((done) => (result = done));
    await vi.advanceTimersByTimeAsync(59_000);
    expect(result).toBeUndefined();
    expect(timers).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);

    adapter.release(1, 'a');
    await settle();
    expect(result).toBeUndefined();
    adapter.release(1, 'b');
    // No time passes: the last delivery's end is what settles the flush.
    await flushed;
    expect(result).toBe(true);
    expect(timers).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves false at its deadline while a send is still under way', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { router, adapter } = setup({ maxRepliesPerChannel: 100 });
    await router.publish(reply('a', 'slow'));
    await adapter.until(() => adapter.sent.length === 1);
    const flushed = router.flush(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(flushed).resolves.toBe(false);
  });
});
