import { describe, expect, it } from 'vitest';
import { QueueEventType } from '../../../src/core/events.js';
import { createHarness } from '../../helpers/queue-harness.js';

const STEER = { windowMs: 1_000, maxWaitMs: 10_000, maxBatchSize: 10, mode: 'steer' } as const;

describe('MessageQueue steer mode (fake time)', () => {
  it('a window that closes during a run wakes ctx.onSteer at its deadline; the take empties the queue', async () => {
    const h = createHarness({ settings: STEER });
    await h.send('room', 'check prod');
    await h.time.advance(1_000);
    const run = h.runs[0]!;
    let wakes = 0;
    run.ctx.onSteer!(() => wakes++);
    await h.send('room', 'also check staging');
    await h.time.advance(999);
    expect(wakes).toBe(0);
    await h.time.advance(1);
    expect(wakes).toBe(1);
    expect((await h.queue.stats('test:room'))?.queuedBatches).toBe(1);
    const taken = await run.ctx.steered!();
    expect(taken.map((m) => m.text)).toEqual(['also check staging']);
    expect(await h.queue.stats('test:room')).toMatchObject({ queuedBatches: 0, inFlight: { size: 2 } });
    run.resolve();
    await h.time.settle();
    expect(h.runs).toHaveLength(1);
    expect(h.eventsOf(QueueEventType.Steered)).toMatchObject([{ batchId: run.batch.id, messageIds: [taken[0]!.id] }]);
  });

  it('an unsubscribed listener is not woken, and a run that ended hears nothing', async () => {
    const h = createHarness({ settings: STEER });
    await h.send('room', 'one');
    await h.time.advance(1_000);
    const run = h.runs[0]!;
    let wakes = 0;
    const off = run.ctx.onSteer!(() => wakes++);
    off();
    await h.send('room', 'two');
    await h.time.advance(1_000);
    expect(wakes).toBe(0);
    run.resolve();
    await h.time.settle();
    const next = h.runs[1]!;
    expect(next.texts).toEqual(['two']);
    expect(await run.ctx.steered!()).toEqual([]);
  });

  it('messages a run took come back with its batch when shutdown aborts it: nothing is lost', async () => {
    const h = createHarness({ settings: STEER });
    await h.send('room', 'one');
    await h.time.advance(1_000);
    const run = h.runs[0]!;
    await h.send('room', 'two');
    await h.time.advance(1_000);
    expect((await run.ctx.steered!()).map((m) => m.text)).toEqual(['two']);
    const draining = h.queue.drain(500);
    await h.time.advance(500);
    const { waiting } = await draining;
    expect(waiting.map((b) => b.messages.map((m) => m.text))).toEqual([['one', 'two']]);
  });
});
