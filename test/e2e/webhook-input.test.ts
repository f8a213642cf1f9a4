import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeaders, signatureOf } from '../../src/delivery/signature.js';
import { rawRequest, type RawAnswer } from '../helpers/raw-request.js';
import { startReplySink, type ReplySink } from '../helpers/reply-sink.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.js';

const SECRET = 'e2e-input-secret';
const ANSWERS = new Set([200, 202, 400, 401, 413]);

type Answer = RawAnswer;

/** POSTs raw bytes: on a too-large body the server answers 413 and closes while the client may still be writing. */
function postRaw(base: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return rawRequest(base, 'POST', '/v1/messages', { 'content-length': String(Buffer.byteLength(body)), ...headers }, body);
}

/** A correctly signed JSON POST. */
const signed = (base: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return postRaw(base, raw, { 'content-type': 'application/json', ...signatureHeaders(SECRET, raw), ...headers });
};

const paths = (a: Answer): string[] => ((a.body?.error?.issues ?? []) as Array<{ path: string }>).map((i) => i.path);

describe('POST /v1/messages on the real gateway process (`batchgate start`, secret set)', () => {
  let gw: SpawnedGateway;
  let replies: ReplySink;

  beforeAll(async () => {
    replies = await startReplySink();
    gw = await spawnGateway({
      config: {
        batching: { defaults: { windowMs: 50, maxWaitMs: 1_000 } },
        processor: { type: 'echo' },
        adapters: { web: { enabled: false }, webhook: { enabled: true, secret: SECRET, replyUrl: replies.url, replyBackoffMs: 20 } },
        log: { level: 'warn' },
      },
    });
  });

  afterAll(async () => {
    const code = await gw?.stop('SIGTERM');
    await replies?.close();
    expect(code).toBe(0);
  });

  it('accepts a signed message (202) and the echo reply reaches replyUrl, signed', async () => {
    const res = await signed(gw.url, { channelId: 'in-1', userId: 'u1', userName: 'Ann', text: 'hello', id: 'in-1-a' });
    expect(res).toEqual({ status: 202, body: { accepted: true, channelKey: 'webhook:in-1', id: 'in-1-a' } });
    await expect.poll(() => replies.requests.find((r) => (r.body as { channelId: string }).channelId === 'in-1'), { timeout: 10_000 }).toBeDefined();
    const reply = replies.requests.find((r) => (r.body as { channelId: string }).channelId === 'in-1')!;
    expect(reply.body).toMatchObject({ channelId: 'in-1', text: '1 message from Ann: hello', inReplyTo: ['in-1-a'] });
    expect(reply.headers['x-batchgate-signature']).toBe(signatureOf(SECRET, String(reply.headers['x-batchgate-timestamp']), reply.rawBody));
  });

  it('invalid JSON → 400 BG_ERR_BAD_REQUEST', async () => {
    for (const raw of ['{"channelId": "a", ', 'not json', '', '{"a":1}}']) {
      const res = await signed(gw.url, raw);
      expect(res.status, JSON.stringify(raw)).toBe(400);
      expect(res.body.error.code).toBe('BG_ERR_BAD_REQUEST');
    }
  });

  it('missing fields → 400 naming each of them', async () => {
    const res = await signed(gw.url, {});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BG_ERR_INVALID_MESSAGE');
    expect(paths(res).sort()).toEqual(['channelId', 'text', 'userId']);
    const noText = await signed(gw.url, { channelId: 'c', userId: 'u' });
    expect([noText.status, paths(noText)]).toEqual([400, ['text']]);
  });

  it('mistyped fields → 400 naming each of them', async () => {
    const res = await signed(gw.url, { channelId: 42, userId: ['u'], text: { t: 'x' }, userName: false, id: 7 });
    expect(res.status).toBe(400);
    expect(paths(res).sort()).toEqual(['channelId', 'id', 'text', 'userId', 'userName']);
    for (const body of [[{ channelId: 'c', userId: 'u', text: 'x' }], 'null', '42', '"text"']) {
      const r = await signed(gw.url, typeof body === 'string' ? body : JSON.stringify(body));
      expect(r.status, String(body)).toBe(400);
      expect(r.body.error.code).toBe('BG_ERR_INVALID_MESSAGE');
    }
  });

  it('empty or blank channelId (and blank text) → 400', async () => {
    for (const channelId of ['', '   ']) {
      const res = await signed(gw.url, { channelId, userId: 'u', text: 'x' });
      expect([res.status, paths(res)], JSON.stringify(channelId)).toEqual([400, ['channelId']]);
    }
    const blank = await signed(gw.url, { channelId: 'c', userId: 'u', text: ' \n ' });
    expect([blank.status, paths(blank)]).toEqual([400, ['text']]);
  });

  it('a 2 MB body → 413 BG_ERR_PAYLOAD_TOO_LARGE, and the next request is served', async () => {
    const big = JSON.stringify({ channelId: 'c', userId: 'u', text: 'x'.repeat(2 * 1024 * 1024) });
    const res = await signed(gw.url, big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('BG_ERR_PAYLOAD_TOO_LARGE');
    expect((await signed(gw.url, { channelId: 'after-big', userId: 'u', text: 'ok' })).status).toBe(202);
  });

  it('wrong or missing signature → 401 BG_ERR_BAD_SIGNATURE, nothing enqueued', async () => {
    const raw = JSON.stringify({ channelId: 'sig', userId: 'u', text: 'x', id: 'sig-1' });
    const ts = String(Math.floor(Date.now() / 1_000));
    for (const header of [signatureOf('other-secret', ts, raw), 'v1=00', 'garbage', signatureOf(SECRET, ts, `${raw} `), signatureOf(SECRET, ts, raw).replace('v1=', 'sha256=')]) {
      const res = await postRaw(gw.url, raw, { 'content-type': 'application/json', 'x-batchgate-timestamp': ts, 'x-batchgate-signature': header });
      expect(res.status, header).toBe(401);
      expect(res.body.error.code).toBe('BG_ERR_BAD_SIGNATURE');
    }
    const none = await postRaw(gw.url, raw, { 'content-type': 'application/json' });
    expect(none.status).toBe(401);
    // Rejected tries never claimed the id: the correctly signed one is still the first.
    expect((await signed(gw.url, raw)).status).toBe(202);
  });

  it('a repeated id → 200 { accepted: false, reason: "duplicate" } and one reply only', async () => {
    const body = { channelId: 'dup-room', userId: 'u', text: 'once', id: 'dup-e2e-1' };
    expect((await signed(gw.url, body)).status).toBe(202);
    expect(await signed(gw.url, { ...body, text: 'twice' })).toEqual({ status: 200, body: { accepted: false, reason: 'duplicate', id: 'dup-e2e-1' } });
    await expect.poll(() => replies.requests.filter((r) => (r.body as { channelId: string }).channelId === 'dup-room').length, { timeout: 10_000 }).toBe(1);
    expect(replies.requests.find((r) => (r.body as { channelId: string }).channelId === 'dup-room')!.body).toMatchObject({ text: '1 message from u: once' });
  });

  it('fuzz: no request body ever gets a 5xx, and the gateway keeps running and replying', async () => {
    const anyValue = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }),
      fc.constantFrom('', ' ', '\u0000', '__proto__', 'constructor', '\ud800', 'x'.repeat(300)),
    );
    const messageLike = fc
      .record({ channelId: anyValue, userId: anyValue, userName: anyValue, text: anyValue, id: fc.oneof(anyValue, fc.constantFrom('fz-1', 'fz-2')) }, { requiredKeys: [] })
      .map((o) => JSON.stringify(o));
    const body = fc.oneof(
      messageLike,
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 100 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.constantFrom('', '{', '[]', 'null', '{"__proto__":{"polluted":1},"channelId":"a","userId":"b","text":"c"}'),
      fc.integer({ min: 262_144 - 64, max: 262_144 + 64 }).map((n) => JSON.stringify({ channelId: 'big', userId: 'u', text: 'x'.repeat(n) })),
    );
    const contentType = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'nonsense');
    const signature = fc.constantFrom('good', 'good', 'good', 'none', 'bad');
    const seen = new Set<number>();

    await fc.assert(
      fc.asyncProperty(body, contentType, signature, async (raw, type, sig) => {
        const headers: Record<string, string> = {};
        if (type !== undefined) headers['content-type'] = type;
        if (sig === 'good') Object.assign(headers, signatureHeaders(SECRET, raw));
        if (sig === 'bad') Object.assign(headers, signatureHeaders('nope', raw));
        const res = await postRaw(gw.url, raw, headers);
        seen.add(res.status);
        expect(ANSWERS.has(res.status), `${res.status} ${JSON.stringify(res.body)}`).toBe(true);
        if (sig !== 'good') {
          // Never let an unsigned body in. A Content-Type that is no media type at all is refused (400) before
          // the signature is looked at; everything else unsigned is 401 (or 413 when too large).
          expect(res.status).not.toBe(202);
          expect(res.status).not.toBe(200);
          if (type !== 'nonsense' && res.status !== 413) expect(res.status).toBe(401);
        }
      }),
      {
        numRuns: 150,
        // Fixed cases first, so every kind of answer is exercised whatever the random draws are.
        examples: [
          [JSON.stringify({ channelId: 'fz-ok', userId: 'u', text: 'hello' }), 'application/json', 'good'],
          ['{', 'application/json', 'good'],
          [JSON.stringify({ channelId: 'fz-ok', userId: 'u', text: 'hello' }), 'application/json', 'bad'],
          [JSON.stringify({ channelId: 'big', userId: 'u', text: 'x'.repeat(262_144) }), 'application/json', 'good'],
        ],
      },
    );
    expect([...seen]).toEqual(expect.arrayContaining([202, 400, 401, 413]));

    expect(gw.proc.exitCode).toBeNull();
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const after = await signed(gw.url, { channelId: 'after-fuzz', userId: 'u', text: 'still here?' });
    expect(after.status).toBe(202);
    await expect.poll(() => replies.requests.some((r) => (r.body as { channelId: string }).channelId === 'after-fuzz'), { timeout: 10_000 }).toBe(true);
    expect(gw.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  });
});
