import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import type { Consumer } from '../../../src/bus/consumer.js';

/**
 * Query-less sends share one batch across consumers (SendBatch); these properties pin what each
 * consumer must still see: its own bound, every item once, in send order, whatever the mix of sends.
 */
describe('query-less sends (shared batches), property', () => {
  it('each consumer gets every item for it once, in order, never holding more than its queueSize', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            queueSize: fc.integer({ min: 1, max: 6 }),
            delays: fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 5 }),
            platform: fc.constantFrom('a', 'b', '*'),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        // Routed sends (a query) interleave with broadcast ones, as on a channel used both ways.
        fc.array(fc.constantFrom('write', 'send', 'await-send', 'yield', 'send-to-a', 'send-to-b'), { maxLength: 80 }),
        async (consumerSpecs, steps) => {
          // A timeout far longer than the test: nothing may be dropped, so every item must arrive.
          const channel = new Channel<number>({ writeTimeoutMs: 60_000 });
          const got: number[][] = consumerSpecs.map(() => []);
          let overDepth = false;
          const expected: number[][] = consumerSpecs.map(() => []);
          const consumers: Consumer<number>[] = consumerSpecs.map((spec, c) => {
            let tick = 0;
            const consumer: Consumer<number> = channel.newConsumer(
              async (n) => {
                if (consumer.depth > spec.queueSize) overDepth = true;
                for (let i = spec.delays[tick++ % spec.delays.length]!; i > 0; i--) await Promise.resolve();
                got[c]!.push(n);
              },
              { queueSize: spec.queueSize, filters: { platform: spec.platform } },
            );
            return consumer;
          });

          const pending: Promise<number>[] = [];
          let seq = 0;
          for (const step of steps) {
            if (step === 'yield') {
              await Promise.resolve();
              continue;
            }
            const n = seq++;
            const target = step === 'send-to-a' ? 'a' : step === 'send-to-b' ? 'b' : undefined;
            consumerSpecs.forEach((spec, c) => {
              if (target === undefined || spec.platform === target || spec.platform === '*') expected[c]!.push(n);
            });
            if (target !== undefined) pending.push(channel.internalProducer.send(n, { platform: target }));
            else if (step === 'write') {
              const r = channel.internalProducer.write(n);
              if (typeof r !== 'number') pending.push(r);
            } else if (step === 'send') pending.push(channel.internalProducer.send(n));
            else await channel.internalProducer.send(n);
          }
          await Promise.all(pending);
          await channel.stop();

          expect(got).toEqual(expected);
          expect(overDepth).toBe(false);
          consumers.forEach((consumer, c) => {
            expect(consumer.stats()).toMatchObject({ delivered: expected[c]!.length, dropped: 0, depth: 0, waiting: 0 });
          });
        },
      ),
      { numRuns: 80 },
    );
  });

  it('a consumer that leaves mid-stream got a prefix; the others get everything', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 5 }), async (leaveAt, queueSize) => {
        const channel = new Channel<number>({ queueSize, writeTimeoutMs: 60_000 });
        const stayed: number[] = [];
        const left: number[] = [];
        channel.newConsumer(async (n) => {
          await Promise.resolve();
          stayed.push(n);
        });
        const leaver = channel.newConsumer((n) => void left.push(n));
        const pending: Promise<number>[] = [];
        for (let n = 0; n < 40; n++) {
          if (n === leaveAt) pending.push(leaver.unsubscribe().then(() => 0));
          pending.push(channel.internalProducer.send(n));
        }
        await Promise.all(pending);
        await channel.stop();
        expect(stayed).toEqual(Array.from({ length: 40 }, (_, i) => i));
        expect(left).toEqual(Array.from({ length: left.length }, (_, i) => i));
        expect(left.length).toBeLessThanOrEqual(leaveAt);
        const { delivered, dropped } = leaver.stats();
        expect(delivered + dropped).toBeLessThanOrEqual(leaveAt);
      }),
      { numRuns: 60 },
    );
  });
});
