import { describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../../src/core/events.js';
import { discordHarness, until, type Harness } from './harness.js';

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

/**
 * Checks that typing stopped in `channels`, with the adapter's own refresh timer as the clock instead of a
 * sleep: a message in the marker channel starts typing there. Its first request leaves after the stop, so
 * a request of `channels` that was still in flight has landed when it arrives; the marker's next two
 * refreshes span two intervals in which a live indicator in `channels` would have posted again.
 */
async function expectTypingStopped(h: Harness, channels: string[]): Promise<void> {
  const marker = h.fake.otherChannelId;
  const inMarker = () => h.fake.typingCalls.filter((t) => t.channelId === marker).length;
  const inChannels = () => h.fake.typingCalls.filter((t) => channels.includes(t.channelId)).length;
  const before = inMarker();
  h.fake.sendUserMessage({ channelId: marker, content: 'marker' });
  await until(() => inMarker() >= before + 1, 'typing in the marker channel');
  const settled = inChannels();
  await until(() => inMarker() >= before + 3, 'two typing refreshes in the marker channel');
  expect(inChannels()).toBe(settled);
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
    await expectTypingStopped(h, [fake.channelId]);
    // Only the channels that had messages saw typing.
    expect(new Set(fake.typingCalls.map((t) => t.channelId))).toEqual(new Set([fake.channelId, fake.otherChannelId]));
  });

  it('stops on cancelled and on failed as well', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    for (const [i, end] of (['cancelled', 'failed'] as const).entries()) {
      const channelId = [fake.channelId, fake.threadId][i] ?? '';
      const id = fake.sendUserMessage({ channelId, content: `msg ${end}` });
      await until(() => fake.typingCalls.some((t) => t.channelId === channelId), `typing in ${end} channel`);
      const batch = events(channelId, `b-${end}`, [id]);
      h.adapter.onQueueEvent(batch.flushed);
      h.adapter.onQueueEvent(batch.started);
      h.adapter.onQueueEvent(batch[end]);
    }
    await expectTypingStopped(h, [fake.channelId, fake.threadId]);
  });

  it('sends one typing request for a burst, not one per message', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: 5_000 }, windowMs: 60_000 });
    await h.start();
    const { fake } = h;
    for (const content of ['a', 'b', 'c']) fake.sendUserMessage({ channelId: fake.channelId, content });
    await until(() => h.accepted.length === 3 && fake.typingCalls.length >= 1, 'three accepted and typing');
    // A request per message would leave before the marker message's one, so it would have landed by then.
    fake.sendUserMessage({ channelId: fake.otherChannelId, content: 'marker' });
    await until(() => fake.typingCalls.some((t) => t.channelId === fake.otherChannelId), 'typing in the marker channel');
    expect(fake.typingCalls.filter((t) => t.channelId === fake.channelId)).toHaveLength(1);
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
    await expectTypingStopped(h, [fake.channelId]);
  });

  it('sends no typing at all when the channel setting says typing: false', async () => {
    const h = await discordHarness({ adapter: { typingIntervalMs: INTERVAL_MS }, typing: (channelId) => channelId !== h.fake.channelId });
    await h.start();
    h.fake.sendUserMessage({ channelId: h.fake.channelId, content: 'quiet please' });
    await until(() => h.accepted.length === 1, 'accepted');
    await expectTypingStopped(h, [h.fake.channelId]);
    expect(h.fake.typingCalls.filter((t) => t.channelId === h.fake.channelId)).toEqual([]);
  });
});
