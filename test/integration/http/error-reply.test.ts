import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode, GatewayError, InvalidMessageError, refusalError, ShuttingDownError } from '../../../src/errors.js';
import { emptyErrorBody, httpErrorHandler, type ErrorBody } from '../../../src/http/error-reply.js';

interface Logged {
  level: number;
  msg: string;
}

/** A real server on a free port whose routes throw what each test names, behind the shared handler. */
async function serve(body?: ErrorBody) {
  const logs: Logged[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Logged) });
  const app = Fastify({ bodyLimit: 64 });
  onTestFinished(() => app.close());
  await app.register(async (scope) => {
    scope.setErrorHandler(httpErrorHandler({ logger: () => logger, failure: 'test request failed', payloadTooLarge: 'body is larger than 64 bytes', body }));
    scope.get('/coded', async () => {
      throw new GatewayError(ErrorCode.UnknownChannel, 'unknown channel web:x', { details: { channelKey: 'web:x' } });
    });
    scope.get('/invalid', async () => {
      throw new InvalidMessageError([{ path: 'text', message: 'text is empty' }]);
    });
    scope.get('/closing', async () => {
      throw new ShuttingDownError();
    });
    scope.get('/queue-full', async () => {
      throw refusalError(ErrorCode.QueueFull, '100 batches waiting');
    });
    scope.get('/bug', async () => {
      throw new TypeError('x is undefined');
    });
    scope.post('/echo', async (req) => req.body);
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const call = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };
  return { call, logs };
}

const postJson = (body: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('the shared fastify error handler', () => {
  it('answers a coded error with its status from the registry and the one error body', async () => {
    const { call } = await serve();
    expect(await call('/coded')).toMatchObject({ status: 404, body: { error: { code: 'BG_ERR_UNKNOWN_CHANNEL', message: 'unknown channel web:x', channelKey: 'web:x' } } });
    expect(await call('/invalid')).toMatchObject({
      status: 400,
      body: { error: { code: 'BG_ERR_INVALID_MESSAGE', issues: [{ path: 'text', message: 'text is empty' }] } },
    });
    expect(await call('/queue-full')).toMatchObject({ status: 429, body: { error: { code: 'BG_ERR_QUEUE_FULL', message: 'queue full: 100 batches waiting', reason: 'queue full' } } });
  });

  it("codes fastify's own refusals: bad JSON is BG_ERR_BAD_REQUEST, a body past the limit BG_ERR_PAYLOAD_TOO_LARGE with the scope's message", async () => {
    const { call } = await serve();
    expect(await call('/echo', postJson('{"a":'))).toMatchObject({ status: 400, body: { error: { code: 'BG_ERR_BAD_REQUEST' } } });
    expect(await call('/echo', postJson(JSON.stringify({ text: 'x'.repeat(200) })))).toMatchObject({
      status: 413,
      body: { error: { code: 'BG_ERR_PAYLOAD_TOO_LARGE', message: 'body is larger than 64 bytes' } },
    });
  });

  it('wraps anything else as BG_ERR_INTERNAL and logs it; a 503 is answered without a failure log', async () => {
    const { call, logs } = await serve();
    expect(await call('/closing')).toMatchObject({ status: 503, body: { error: { code: 'BG_ERR_SHUTTING_DOWN' } } });
    expect(logs.filter((l) => l.msg === 'test request failed')).toEqual([]);
    expect(await call('/bug')).toMatchObject({ status: 500, body: { error: { code: 'BG_ERR_INTERNAL', message: 'x is undefined' } } });
    expect(logs.filter((l) => l.msg === 'test request failed').map((l) => l.level)).toEqual([50]);
  });

  it("keeps a platform's body shape: status only, or the scope's own", async () => {
    const empty = await serve(emptyErrorBody);
    expect(await empty.call('/coded')).toEqual({ status: 404, text: '', body: undefined });
    const telegramLike = await serve((err) => ({ ok: false, error: err.message }));
    expect((await telegramLike.call('/closing')).body).toEqual({ ok: false, error: 'the gateway is shutting down and accepts no new messages' });
  });
});
