import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signatureHeaders } from '../../../src/delivery/signature.js';
import { startWebhook } from './harness.js';

const LIMIT = 4_096;
const ANSWERS = new Set([200, 202, 400, 401, 413]);

const anyValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.constantFrom('', ' ', '\u0000', '__proto__', 'constructor', 'x'.repeat(300)),
);

/** Bodies that look like messages, with any field missing, mistyped, empty or odd. */
const messageLike = fc
  .record(
    { channelId: anyValue, userId: anyValue, userName: anyValue, text: anyValue, id: fc.oneof(anyValue, fc.constantFrom('dup-1', 'dup-2')) },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

const rawBody = fc.oneof(
  messageLike,
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '[]', 'null', '{"__proto__":{"polluted":1},"channelId":"a","userId":"b","text":"c"}', '{"constructor":{"prototype":{}}}'),
  fc.integer({ min: LIMIT - 64, max: LIMIT + 64 }).map((n) => JSON.stringify({ channelId: 'c', userId: 'u', text: 'x'.repeat(n) })),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.array(fc.constant('['), { maxLength: 2_000 }).map((a) => a.join('')),
);

const contentType = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'multipart/form-data', 'nonsense', '');

describe('POST /v1/messages fuzz', () => {
  it('never answers 5xx and keeps serving, whatever the body', async () => {
    const h = await startWebhook({ bodyLimitBytes: LIMIT }, { listen: false });
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, async (payload, type) => {
        const res = await h.app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: type === undefined ? {} : { 'content-type': type },
          payload,
        });
        seen.add(res.statusCode);
        expect(ANSWERS.has(res.statusCode), `${res.statusCode} ${res.body}`).toBe(true);
        expect(() => JSON.parse(res.body)).not.toThrow();
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      {
        numRuns: 200,
        // Fixed cases first, so every kind of answer is exercised whatever the random draws are.
        examples: [
          [JSON.stringify({ channelId: 'c', userId: 'u', text: 'hello' }), 'application/json'],
          ['{', 'application/json'],
          [JSON.stringify({ channelId: 'c', userId: 'u', text: 'x'.repeat(LIMIT) }), 'application/json'],
        ],
      },
    );
    // Every kind of answer was reached, not just one rejection.
    expect([...seen].sort()).toEqual(expect.arrayContaining([202, 400, 413]));
    const ok = await h.app.inject({ method: 'POST', url: '/v1/messages', payload: { channelId: 'c', userId: 'u', text: 'still fine' } });
    expect(ok.statusCode).toBe(202);
    // Every 202 handed a well-formed message to the gateway.
    for (const m of h.accepted) {
      expect(m.channelId.trim()).not.toBe('');
      expect(m.text.trim()).not.toBe('');
      expect(m.platform).toBe('webhook');
    }
  });

  it('with a secret: never 5xx, and only correctly signed bodies get past 401', async () => {
    const secret = 'fuzz-secret';
    const h = await startWebhook({ secret, bodyLimitBytes: LIMIT }, { listen: false });
    await fc.assert(
      fc.asyncProperty(rawBody, fc.oneof(fc.constant('good'), fc.constant('none'), fc.string({ maxLength: 80 })), async (payload, sig) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (sig === 'good') Object.assign(headers, signatureHeaders(secret, payload));
        else if (sig !== 'none') Object.assign(headers, { 'x-batchgate-timestamp': String(Math.floor(Date.now() / 1_000)), 'x-batchgate-signature': `v1=${sig}` });
        const res = await h.app.inject({ method: 'POST', url: '/v1/messages', headers, payload });
        expect(ANSWERS.has(res.statusCode), `${res.statusCode} ${res.body}`).toBe(true);
        if (sig !== 'good' && res.statusCode !== 413) expect(res.statusCode).toBe(401);
      }),
      { numRuns: 200 },
    );
    const body = JSON.stringify({ channelId: 'c', userId: 'u', text: 'signed' });
    const ok = await h.app.inject({ method: 'POST', url: '/v1/messages', headers: { 'content-type': 'application/json', ...signatureHeaders(secret, body) }, payload: body });
    expect(ok.statusCode).toBe(202);
  });
});
