import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from '../../../src/admin/bucket-histogram.js';

const BOUNDS = [0.005, 0.01, 0.5, 1, 10];

describe('BucketHistogram', () => {
  it('prints exactly what prom-client’s Histogram prints for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.double({ min: 0, max: 20, noNaN: true })), { maxLength: 50 }), async (observations) => {
        const theirs = new Registry();
        const ours = new Registry();
        const reference = new Histogram({ name: 'h', help: 'a histogram', buckets: BOUNDS, labelNames: ['kind'], registers: [theirs] });
        const plain = new Histogram({ name: 'p', help: 'no labels', buckets: BOUNDS, registers: [theirs] });
        const candidate = new BucketHistogram('h', 'a histogram', BOUNDS, [ours], 'kind');
        const candidatePlain = new BucketHistogram('p', 'no labels', BOUNDS, [ours]);
        for (const [kind, value] of observations) {
          reference.observe({ kind }, value);
          plain.observe(value);
          candidate.series(kind).observe(value);
          candidatePlain.observe(value);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('reset zeroes every series and keeps printing them', async () => {
    const registry = new Registry();
    const h = new BucketHistogram('h', 'help', BOUNDS, [registry]);
    h.observe(0.2);
    h.reset();
    const text = await registry.metrics();
    expect(text).toContain('h_bucket{le="+Inf"} 0');
    expect(text).toContain('h_count 0');
  });
});
