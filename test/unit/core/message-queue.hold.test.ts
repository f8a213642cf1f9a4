import { describe, expect, it } from 'vitest';
import { createHarness } from '../../helpers/queue-harness.js';

/**
 * `hold`: a platform that knows more items of a message are coming (a Telegram album sends its photos as
 * separate messages seconds apart) keeps the open batch open past its quiet window.
 */
describe('MessageQueue.hold on fake time', () => {
  it('keeps an album sent 1.5 s apart in one batch under a 1 s window', async () => {
    const h = createHarness({ settings: { windowMs: 1_000, maxWaitMs: 30_000, maxBatchSize: 100 } });
    for (const [i, caption] of ['photo 1', 'photo 2', 'photo 3'].entries()) {
      if (i > 0) await h.time.advance(1_500);
      await h.send('c1', caption);
      expect(await h.queue.hold('test:c1', 2_000, 'mediaGroup')).toMatchObject({ held: true });
    }
    await h.time.advance(1_999);
    expect(h.runs).toHaveLength(0);
    await h.time.advance(1);
    expect(h.runs.map((r) => r.texts)).toEqual([['photo 1', 'photo 2', 'photo 3']]);
    expect(h.runs[0]!.batch.flushReason).toBe('window');
  });

  it('without the hold the same album splits (the scenario the hold exists for)', async () => {
    const h = createHarness({ settings: { windowMs: 1_000, maxWaitMs: 30_000, maxBatchSize: 100 } });
    await h.send('c1', 'photo 1');
    await h.time.advance(1_500);
    await h.send('c1', 'photo 2');
    expect(h.runs.map((r) => r.texts)).toEqual([['photo 1']]);
  });

  it('extends an open deadline, never shortens it, and answers the new deadline', async () => {
    const h = createHarness({ settings: { windowMs: 5_000, maxWaitMs: 30_000 } });
    const accepted = await h.send('c1', 'a');
    const t0 = h.time.now();
    expect(accepted).toMatchObject({ accepted: true, deadline: t0 + 5_000 });
    expect(await h.queue.hold('test:c1', 1_000, 'typing')).toEqual({ held: true, deadline: t0 + 5_000 });
    expect(await h.queue.hold('test:c1', 8_000, 'typing')).toEqual({ held: true, deadline: t0 + 8_000 });
    expect((await h.queue.stats('test:c1'))?.deadline).toBe(t0 + 8_000);
    await h.time.advance(7_999);
    expect(h.runs).toHaveLength(0);
    await h.time.advance(1);
    expect(h.runs).toHaveLength(1);
  });

  it('is capped by firstAt + maxWaitMs', async () => {
    const h = createHarness({ settings: { windowMs: 1_000, maxWaitMs: 3_000 } });
    await h.send('c1', 'a');
    const t0 = h.time.now();
    expect(await h.queue.hold('test:c1', 60_000, 'mediaGroup')).toEqual({ held: true, deadline: t0 + 3_000 });
    await h.time.advance(3_000);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]!.batch.flushReason).toBe('maxWait');
  });

  it('never opens a batch: a channel with nothing open is not held', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    expect(await h.queue.hold('test:quiet', 5_000, 'mediaGroup')).toEqual({ held: false });
    expect(await h.queue.stats('test:quiet')).toBeNull();
    await h.send('c1', 'a');
    await h.time.advance(1_000);
    expect(h.runs).toHaveLength(1);
    // Sealed and in flight: nothing open any more.
    expect(await h.queue.hold('test:c1', 5_000, 'mediaGroup')).toEqual({ held: false });
    expect((await h.queue.stats('test:c1'))?.pending).toBe(0);
    expect(h.queue.timerArmed).toBe(false);
  });

  it('the next batch starts with a plain window', async () => {
    const h = createHarness({ settings: { windowMs: 1_000, maxWaitMs: 30_000 }, autoProcessMs: 1 });
    await h.send('c1', 'a');
    await h.queue.hold('test:c1', 10_000, 'mediaGroup');
    await h.time.advance(10_000);
    expect(h.runs).toHaveLength(1);
    await h.send('c1', 'b');
    await h.time.advance(1_000);
    expect(h.runs.map((r) => r.texts)).toEqual([['a'], ['b']]);
  });
});
