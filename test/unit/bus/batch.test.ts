import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { deferred, settle } from './helpers.js';

/** A full collection, without starting the test process with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Query-less sends in a row share one SendBatch across consumers; each consumer's view stays its own. */
describe('shared batches', () => {
  it('count in each consumer’s depth and drain at each one’s pace', async () => {
    const channel = new Channel<number>();
    const gate = deferred();
    const slowGot: number[] = [];
    const fastGot: number[] = [];
    const slow = channel.newConsumer(async (n) => {
      await gate.promise;
      slowGot.push(n);
    });
    const fast = channel.newConsumer((n) => void fastGot.push(n));
    for (let n = 0; n < 4; n++) expect(channel.internalProducer.write(n)).toBe(2);
    expect([slow.depth, fast.depth]).toEqual([4, 4]);
    await settle();
    expect(fastGot).toEqual([0, 1, 2, 3]);
    expect(fast.stats()).toMatchObject({ delivered: 4, depth: 0 });
    expect(slow.stats()).toMatchObject({ delivered: 0, depth: 3 }); // item 0 is being performed
    gate.resolve();
    await channel.stop();
    expect(slowGot).toEqual([0, 1, 2, 3]);
  });

  it('a consumer stopped while it shares a batch takes nothing sent afterwards', async () => {
    const channel = new Channel<number>();
    const kept: number[] = [];
    const stoppedGot: number[] = [];
    channel.newConsumer((n) => void kept.push(n));
    const stopped = channel.newConsumer((n) => void stoppedGot.push(n));
    channel.internalProducer.write(0);
    const stopping = stopped.stop(); // still registered: sends keep reaching it, and it drops them
    channel.internalProducer.write(1);
    channel.internalProducer.write(2);
    await stopping;
    await channel.stop();
    expect(kept).toEqual([0, 1, 2]);
    expect(stoppedGot).toEqual([0]);
    expect(stopped.stats()).toMatchObject({ delivered: 1, dropped: 2 });
  });

  it('a send that must wait for one consumer still reaches the others at once, and in order after', async () => {
    const channel = new Channel<number>({ queueSize: 2, writeTimeoutMs: 60_000 });
    const gate = deferred();
    const slowGot: number[] = [];
    const fastGot: number[] = [];
    channel.newConsumer(async (n) => {
      await gate.promise;
      slowGot.push(n);
    });
    channel.newConsumer((n) => void fastGot.push(n));
    const results: Array<number | Promise<number>> = [];
    for (let n = 0; n < 6; n++) results.push(channel.internalProducer.write(n));
    expect(results.slice(0, 2)).toEqual([2, 2]);
    await settle();
    // The slow consumer holds 0 and has 1 queued; the fast one already took 0..5.
    expect(fastGot).toEqual([0, 1, 2, 3, 4, 5]);
    gate.resolve();
    expect(await Promise.all(results)).toEqual([2, 2, 2, 2, 2, 2]);
    await channel.stop();
    expect(slowGot).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('keeps at most the last batch: a burst is let go once the next send starts a new one', async () => {
    const channel = new Channel<{ n: number }>();
    channel.newConsumer(() => {});
    channel.newConsumer(async () => {
      await Promise.resolve();
    });
    // In a function of its own, so no register of this (suspended) test keeps the last item.
    const sendBurst = (): Array<WeakRef<object>> =>
      Array.from({ length: 50 }, (_, n) => {
        const item = { n };
        channel.internalProducer.write(item);
        return new WeakRef(item);
      });
    const refs = sendBurst();
    await settle();
    channel.internalProducer.write({ n: 50 });
    await settle();
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(refs.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    await channel.stop();
  });
});
