import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inboundMessageSchema, MAX_ID_CHARS, MAX_TEXT_CHARS, parseInbound } from '../../../adapters/webhook/inbound-schema.js';

/** Strings around every boundary the schema checks: empty, whitespace only, padded, at and past the limits. */
const edgy = (limit: number) =>
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', ' ', '\t\n', '\u00a0', '\u2028', '\ufeff', ' a ', 'a', '\u0000'),
    fc.constantFrom(limit - 1, limit, limit + 1).chain((n) =>
      fc.constantFrom('x'.repeat(n), ` ${'x'.repeat(n)} `, ` ${'x'.repeat(Math.max(0, n - 2))} `, ' '.repeat(n)),
    ),
  );

const anyValue = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }));

/** Mostly plain values, so that a good share of bodies is valid and the two paths are compared on both answers. */
const field = (limit: number) =>
  fc.oneof({ arbitrary: fc.stringMatching(/^\s?[a-z0-9]{1,8}\s?$/), weight: 6 }, { arbitrary: edgy(limit), weight: 3 }, { arbitrary: anyValue, weight: 1 });

const body = fc.record(
  {
    channelId: field(MAX_ID_CHARS),
    userId: field(MAX_ID_CHARS),
    userName: field(MAX_ID_CHARS),
    text: field(MAX_TEXT_CHARS),
    id: field(MAX_ID_CHARS),
    note: fc.string({ maxLength: 3 }),
    extra: fc.oneof({ arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }), weight: 8 }, { arbitrary: anyValue, weight: 1 }),
    attachments: fc.oneof(
      { arbitrary: fc.array(fc.record({ url: fc.constantFrom('https://e.com/a.png', 'http://127.0.0.1/b'), size: fc.nat() }, { requiredKeys: ['url'] }), { maxLength: 2 }), weight: 8 },
      { arbitrary: fc.array(fc.record({ url: fc.constantFrom('ftp://x', ''), size: fc.constant(-1) }, { requiredKeys: [] }), { minLength: 1, maxLength: 1 }), weight: 1 },
      { arbitrary: anyValue, weight: 1 },
    ),
  },
  { requiredKeys: [] },
);

describe('parseInbound', () => {
  it('answers exactly as the schema does, for valid and invalid bodies alike', () => {
    let valid = 0;
    fc.assert(
      fc.property(body, (input) => {
        // What arrives is JSON-decoded, so compare on the decoded form.
        const decoded = JSON.parse(JSON.stringify(input)) as unknown;
        const ours = parseInbound(decoded);
        const schema = inboundMessageSchema.safeParse(decoded);
        expect(ours.ok).toBe(schema.success);
        if (ours.ok) valid++;
        if (ours.ok && schema.success) expect(ours.value).toStrictEqual(schema.data);
      }),
      { numRuns: 3_000 },
    );
    // The generator reaches both answers, not only rejections.
    expect(valid).toBeGreaterThan(300);
  });

  it('trims ids and userName, keeps text as sent, and drops unknown keys', () => {
    const parsed = parseInbound({ channelId: ' room ', userId: '\tu1\n', userName: ' Ann ', text: '  hi  ', id: ' m1 ', note: 1 });
    expect(parsed).toStrictEqual({ ok: true, value: { channelId: 'room', userId: 'u1', userName: 'Ann', text: '  hi  ', id: 'm1' } });
  });

  it('still names every failing field when the body is invalid', () => {
    const parsed = parseInbound({ channelId: ' ', text: 5 });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues.map((i) => i.path).sort()).toEqual(['channelId', 'text', 'userId']);
  });
});
