import { describe, expect, it, onTestFinished } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { createHttpProcessor } from '../../../src/processors/http.js';
import { signatureOf, verifySignature } from '../../../src/delivery/signature.js';
import { batchOf, contextFor, json, startBotServer, type BotRequest } from './harness.js';
import type { ServerResponse } from 'node:http';

async function bot(handle: (req: BotRequest, res: ServerResponse, index: number) => void) {
  const server = await startBotServer(handle);
  onTestFinished(() => server.close());
  return server;
}

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('http processor', () => {
  it('POSTs the batch in the contract shape, signed, and publishes the replies in order', async () => {
    const server = await bot((_req, res) => json(res, 200, { replies: [{ text: 'first' }, { text: 'second', replyTo: 'm-x' }] }));
    const batch = batchOf('room-1', ['hello', 'world']);
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url: server.url, timeoutMs: 5_000, secret: 's3cret' })(batch, ctx);

    expect(replies).toEqual([{ text: 'first' }, { text: 'second', replyTo: 'm-x' }]);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    const timestamp = String(req.headers['x-batchgate-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1_000)).toBeLessThan(300);
    expect(req.headers['x-batchgate-signature']).toBe(signatureOf('s3cret', timestamp, req.rawBody));
    expect(verifySignature('s3cret', req.rawBody, { signature: req.headers['x-batchgate-signature'], timestamp }).ok).toBe(true);
    expect(req.body).toEqual({
      batch: {
        id: batch.id,
        channelKey: 'webhook:room-1',
        platform: 'webhook',
        channelId: 'room-1',
        flushReason: 'window',
        firstAt: batch.firstAt,
        lastAt: batch.lastAt,
        messages: batch.messages.map(({ id, platform, channelId, userId, userName, text, queuedAt, extra }) => ({
          id, platform, channelId, userId, userName, text, queuedAt, extra,
        })),
      },
      attempt: 1,
    });
    expect(Object.keys((req.body as { batch: object }).batch)).not.toContain('v');
  });

  it('sends no signature header without a secret', async () => {
    const server = await bot((_req, res) => json(res, 200, { replies: [] }));
    const batch = batchOf('room-1', ['hi']);
    await createHttpProcessor({ url: server.url, timeoutMs: 5_000 })(batch, contextFor(batch).ctx);
    expect(server.requests[0]!.headers['x-batchgate-signature']).toBeUndefined();
    expect(server.requests[0]!.headers['x-batchgate-timestamp']).toBeUndefined();
  });

  it.each([
    ['204', (res: ServerResponse) => { res.writeHead(204); res.end(); }],
    ['{ replies: [] }', (res: ServerResponse) => json(res, 200, { replies: [] })],
    ['an empty 200', (res: ServerResponse) => { res.writeHead(200); res.end(); }],
  ])('%s publishes no reply', async (_name, answer) => {
    const server = await bot((_req, res) => answer(res));
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url: server.url, timeoutMs: 5_000 })(batch, ctx);
    expect(replies).toEqual([]);
  });

  it.each([500, 404, 401])('a %i fails the batch with the status', async (status) => {
    const server = await bot((_req, res) => json(res, status, { error: 'nope' }));
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000 })(batch, ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR');
    expect(err.details['status']).toBe(status);
    expect(err.message).toContain(String(status));
    expect(replies).toEqual([]);
  });

  it.each([
    ['not JSON', 'hello there', 'not JSON'],
    ['replies not a list', { replies: 'hi' }, 'replies'],
    ['a reply without text', { replies: [{ txt: 'hi' }] }, 'replies.0.text'],
    ['no replies key', { reply: [{ text: 'hi' }] }, 'replies'],
  ])('a bad body (%s) fails the batch with a reason', async (_name, body, reason) => {
    const server = await bot((_req, res) => json(res, 200, body));
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 3 })(batch, ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR');
    expect(err.details['status']).toBe(200);
    expect(String(err.details['reason'])).toContain(reason);
    expect(replies).toEqual([]);
    // The same bot would answer the same garbage: a bad body is not retried.
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['with a content-length', true],
    ['streamed without one', false],
  ])('a response over maxResponseBytes (%s) fails the batch instead of filling memory', async (_name, declared) => {
    const big = JSON.stringify({ replies: [{ text: 'x'.repeat(50_000) }] });
    const server = await bot((_req, res) => {
      res.writeHead(200, declared ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(big)) } : { 'content-type': 'application/json' });
      res.end(big);
    });
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000, maxResponseBytes: 10_000 })(batch, ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR');
    expect(String(err.details['reason'])).toContain('larger than 10000 bytes');
    expect(replies).toEqual([]);
  });

  it('aborting the batch signal aborts the in-flight request', async () => {
    const server = await bot(() => {
      /* never answers */
    });
    const batch = batchOf('room-1', ['hi']);
    const controller = new AbortController();
    const { ctx, replies } = contextFor(batch, controller.signal);
    const run = failure(createHttpProcessor({ url: server.url, timeoutMs: 60_000 })(batch, ctx));
    await server.waitForRequests(1);
    controller.abort(new Error('cancelled by operator'));
    const err = await run;
    expect(err.code).toBe('BG_ERR_CANCELLED');
    await server.waitForAbort();
    expect(server.aborted()).toBe(1);
    expect(replies).toEqual([]);
  });

  it('aborting during the retry backoff stops at once without another request', async () => {
    const server = await bot((_req, res) => json(res, 503, {}));
    const batch = batchOf('room-1', ['hi']);
    const controller = new AbortController();
    const { ctx } = contextFor(batch, controller.signal);
    const run = failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 5, backoffMs: 600_000, backoffMaxMs: 600_000 })(batch, ctx));
    await server.waitForRequests(1);
    controller.abort();
    expect((await run).code).toBe('BG_ERR_CANCELLED');
    expect(server.requests).toHaveLength(1);
  });

  it('a bot slower than timeoutMs fails the batch with a timeout code', async () => {
    const server = await bot(() => {
      /* never answers */
    });
    const batch = batchOf('room-1', ['hi']);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 200 })(batch, contextFor(batch).ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR_TIMEOUT');
    await server.waitForAbort();
  });

  it('retries a 5xx up to `attempts` times with backoff, then fails with the last status', async () => {
    const server = await bot((_req, res) => json(res, 503, {}));
    const batch = batchOf('room-1', ['hi']);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 3, backoffMs: 20, backoffMaxMs: 40 })(batch, contextFor(batch).ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR');
    expect(err.details).toMatchObject({ status: 503, attempt: 3, attempts: 3 });
    expect(server.requests.map((r) => r.headers['x-batchgate-delivery-attempt'])).toEqual(['1', '2', '3']);
    // Every try carries the same body (signed anew, so a late try is still fresh): the bot can dedupe by batch id.
    expect(new Set(server.requests.map((r) => r.rawBody)).size).toBe(1);
  });

  it('a 5xx followed by a 200 publishes the replies once', async () => {
    const server = await bot((_req, res, i) => (i === 0 ? json(res, 502, {}) : json(res, 200, { replies: [{ text: 'ok' }] })));
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 3, backoffMs: 10 })(batch, ctx);
    expect(replies).toEqual([{ text: 'ok' }]);
    expect(server.requests).toHaveLength(2);
  });

  it('retries a network error', async () => {
    const server = await bot((_req, res, i) => {
      if (i === 0) res.socket?.destroy();
      else json(res, 200, { replies: [{ text: 'after reconnect' }] });
    });
    const batch = batchOf('room-1', ['hi']);
    const { ctx, replies } = contextFor(batch);
    await createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 2, backoffMs: 10 })(batch, ctx);
    expect(replies).toEqual([{ text: 'after reconnect' }]);
    expect(server.requests).toHaveLength(2);
  });

  it.each([400, 404, 422, 429])('never retries a %i', async (status) => {
    const server = await bot((_req, res) => json(res, status, {}));
    const batch = batchOf('room-1', ['hi']);
    const err = await failure(createHttpProcessor({ url: server.url, timeoutMs: 5_000, attempts: 5, backoffMs: 10 })(batch, contextFor(batch).ctx));
    expect(err.details['status']).toBe(status);
    expect(server.requests).toHaveLength(1);
  });

  it('an unreachable bot fails with a processor error naming the url', async () => {
    const server = await startBotServer(() => {});
    const url = server.url;
    await server.close();
    const batch = batchOf('room-1', ['hi']);
    const err = await failure(createHttpProcessor({ url, timeoutMs: 5_000, attempts: 2, backoffMs: 10 })(batch, contextFor(batch).ctx));
    expect(err.code).toBe('BG_ERR_PROCESSOR');
    expect(err.details).toMatchObject({ status: null, attempt: 2 });
    expect(err.message).toContain(url);
  });
});
