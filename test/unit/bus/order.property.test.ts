import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/bus/channel.js';
import { Priority } from '../../../src/bus/priority.js';

describe('ordering and no-loss (property)', () => {
  it('each consumer receives exactly its matching items, in send order, whatever the queue size and pacing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ platform: fc.constantFrom('discord', 'slack', 'web'), text: fc.string({ maxLength: 4 }) }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 10 }),
        async (items, queueSize, delays) => {
          // A timeout far longer than the test: nothing may be dropped, so order must be exact.
          const channel = new Channel<{ platform: string; text: string; seq: number }>({
            queueSize,
            writeTimeoutMs: 60_000,
            queryOf: (m) => ({ platform: m.platform }),
          });
          const got: Record<string, number[]> = { discord: [], slack: [], web: [], all: [] };
          let tick = 0;
          const pace = async (): Promise<void> => {
            for (let i = delays[tick++ % delays.length]!; i > 0; i--) await Promise.resolve();
          };
          for (const platform of ['discord', 'slack', 'web']) {
            channel.newConsumer(
              async (m) => {
                await pace();
                got[platform]!.push(m.seq);
              },
              { filters: { platform } },
            );
          }
          channel.newConsumer(async (m) => void got.all!.push(m.seq), { filters: { platform: '*' }, priority: Priority.OPTIONAL });

          // Some sends awaited, some fired without waiting, as concurrent callers would.
          const pending: Promise<number>[] = [];
          for (const [seq, item] of items.entries()) {
            const p = channel.internalProducer.send({ ...item, seq });
            if (seq % 3 === 0) await p;
            else pending.push(p);
          }
          await Promise.all(pending);
          await channel.stop();

          for (const platform of ['discord', 'slack', 'web']) {
            expect(got[platform]).toEqual(items.flatMap((m, seq) => (m.platform === platform ? [seq] : [])));
          }
          expect(got.all).toEqual(items.map((_, seq) => seq));
          expect(channel.stats().every((s) => s.dropped === 0 && s.errors === 0 && s.depth === 0)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
