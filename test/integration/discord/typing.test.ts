import { describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../../src/core/events.js';
import { discordHarness, sleep, until } from './harness.js';

const INTERVAL_MS = 150;

/** Queue events for one batch, shaped as the gateway forwards them. */
function events(channelId: string, batchId: string, messageIds: string[]) {
  const base = { channelKey: `discord:${channelId}`, at: Date.now(), batchId, size: messageIds.length };
  return {
    flushed: { ...base, type: 'batch.flushed', reason: 'window', deadline: Date.now(), latenessMs: 0 } satisfies QueueEvent,
    started: { ...base, type: 'batch.started', waitMs: 0, messageIds } satisfies QueueEvent,
    completed: { ...base, type: 'batch.completed', durationMs: 5, replies: 1 } satisfies QueueEvent,
    cancelled: { ...base, type: 'batch.cancelled', durationMs: 5, reason: 'cancel' } satisfies QueueEvent,
    failed: { ...base, type: 'batch.failed', durationMs: 5, error: 'boom', timeout: false } satisfies QueueEvent,
  };
}

describe('DiscordAdapter typing indicator', () => {
  it('types while the batch collects and runs, refreshes on the interval, and stops when it completes', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    const typingIn = (channelId: string) => fake.typingCalls.filter((t) => t.channelId === channelId).length;

    const id = fake.sendUserMessage({ channelId: fake.channelId, content: 'hello?' });
    await until(() => typingIn(fake.channelId) >= 1, 'typing after accept');
    // Refreshed while collecting.
    await until(() => typingIn(fake.channelId) >= 3, 'refreshed typing while collecting');

    const batch = events(fake.channelId, 'b-1', [id]);
    h.adapter.onQueueEvent(batch.flushed);
    h.adapter.onQueueEvent(batch.started);
    const atStart = typingIn(fake.channelId);
    await until(() => typingIn(fake.channelId) >= atStart + 2, 'refreshed typing while processing');

    h.adapter.onQueueEvent(batch.completed);
    await sleep(50);
    const atEnd = typingIn(fake.channelId);
    await sleep(INTERVAL_MS * 5);
    expect(typingIn(fake.channelId)).toBe(atEnd);
    // Only the channel that had a batch saw typing.
    expect(new Set(fake.typingCalls.map((t) => t.channelId))).toEqual(new Set([fake.channelId]));
  });

  it('stops on cancelled and on failed as well', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    const count = () => fake.typingCalls.length;
    for (const [i, end] of (['cancelled', 'failed'] as const).entries()) {
      const channelId = [fake.channelId, fake.threadId][i] ?? '';
      const id = fake.sendUserMessage({ channelId, content: `msg ${end}` });
      await until(() => fake.typingCalls.some((t) => t.channelId === channelId), `typing in ${end} channel`);
      const batch = events(channelId, `b-${end}`, [id]);
      h.adapter.onQueueEvent(batch.flushed);
      h.adapter.onQueueEvent(batch.started);
      h.adapter.onQueueEvent(batch[end]);
    }
    await sleep(50);
    const settled = count();
    await sleep(INTERVAL_MS * 5);
    expect(count()).toBe(settled);
  });

  it('sends one typing request for a burst, not one per message', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: 5_000 }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    for (const content of ['a', 'b', 'c']) fake.sendUserMessage({ channelId: fake.channelId, content });
    await until(() => h.accepted.length === 3 && fake.typingCalls.length >= 1, 'three accepted and typing');
    await sleep(300);
    expect(fake.typingCalls).toHaveLength(1);
  });

  it('keeps typing while a later batch of the channel still waits, then stops', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    const ids = ['a', 'b', 'c'].map((content) => fake.sendUserMessage({ channelId: fake.channelId, content }));
    await until(() => h.accepted.length === 3 && fake.typingCalls.length >= 1, 'three accepted and typing');
    const first = events(fake.channelId, 'b-1', ids.slice(0, 2));
    const second = events(fake.channelId, 'b-2', ids.slice(2));
    h.adapter.onQueueEvent(first.flushed);
    h.adapter.onQueueEvent(first.started);
    h.adapter.onQueueEvent(second.flushed);
    h.adapter.onQueueEvent(first.completed);
    const afterFirst = fake.typingCalls.length;
    await until(() => fake.typingCalls.length >= afterFirst + 2, 'typing refreshed while b-2 waits');
    h.adapter.onQueueEvent(second.started);
    h.adapter.onQueueEvent(second.completed);
    await sleep(50);
    const settled = fake.typingCalls.length;
    await sleep(INTERVAL_MS * 5);
    expect(fake.typingCalls.length).toBe(settled);
  });

  it('sends no typing at all when the channel setting says typing: false', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, typing: false });
    await h.start();
    h.fake.sendUserMessage({ channelId: h.fake.channelId, content: 'quiet please' });
    await until(() => h.accepted.length === 1, 'accepted');
    await sleep(INTERVAL_MS * 4);
    expect(h.fake.typingCalls).toEqual([]);
  });
});
