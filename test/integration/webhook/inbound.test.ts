import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { signatureHeaders, signatureOf } from '../../../src/delivery/signature.js';
import { acceptAll, postMessage, startWebhook } from './harness.js';

const valid = { channelId: 'room-1', userId: 'u1', text: 'hello' };

function issuePaths(body: { error: { issues?: Array<{ path: string }> } }): string[] {
  return (body.error.issues ?? []).map((i) => i.path);
}

describe('POST /v1/messages', () => {
  it('accepts a message with 202, generates an id, and hands it to the gateway normalized', async () => {
    const h = await startWebhook();
    const res = await postMessage(h.base, valid);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true, channelKey: 'webhook:room-1', id: expect.any(String) });
    expect(res.body.id.length).toBeGreaterThan(8);
    expect(h.accepted).toEqual([{ id: res.body.id, platform: 'webhook', channelId: 'room-1', userId: 'u1', userName: 'u1', text: 'hello', extra: {} }]);

    const second = await postMessage(h.base, valid);
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(res.body.id);
  });

  it('keeps a given id and userName', async () => {
    const h = await startWebhook();
    const res = await postMessage(h.base, { ...valid, id: 'msg-1', userName: 'Ann' });
    expect(res).toEqual({ status: 202, body: { accepted: true, channelKey: 'webhook:room-1', id: 'msg-1' } });
    expect(h.accepted[0]).toMatchObject({ id: 'msg-1', userName: 'Ann' });
  });

  it('answers a repeated id 200 duplicate and never enqueues it twice', async () => {
    const h = await startWebhook();
    expect((await postMessage(h.base, { ...valid, id: 'dup-1' })).status).toBe(202);
    const again = await postMessage(h.base, { ...valid, id: 'dup-1', text: 'retry' });
    expect(again).toEqual({ status: 200, body: { accepted: false, reason: 'duplicate', id: 'dup-1' } });
    expect(h.accepted.map((m) => m.id)).toEqual(['dup-1']);
    expect(h.adapter.stats().duplicates).toBe(1);
  });

  it('lets exactly one of many concurrent requests with one id through', async () => {
    const h = await startWebhook();
    const answers = await Promise.all(Array.from({ length: 8 }, () => postMessage(h.base, { ...valid, id: 'race' })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect(h.accepted).toHaveLength(1);
  });

  it('forgets an id after dedupeTtlMs', async () => {
    let now = 1_000_000;
    const h = await startWebhook({ dedupeTtlMs: 60_000, now: () => now });
    expect((await postMessage(h.base, { ...valid, id: 'old' })).status).toBe(202);
    now += 59_000;
    expect((await postMessage(h.base, { ...valid, id: 'old' })).status).toBe(200);
    now += 2_000;
    expect((await postMessage(h.base, { ...valid, id: 'old' })).status).toBe(202);
  });

  it('answers invalid JSON with 400', async () => {
    const h = await startWebhook();
    for (const raw of ['{"channelId": "a", ', 'not json', '']) {
      const res = await postMessage(h.base, raw);
      expect(res.status, raw).toBe(400);
      expect(res.body.error.code).toBe('BG_ERR_BAD_REQUEST');
      expect(res.body.error.message).toMatch(/JSON/);
    }
    expect(h.accepted).toEqual([]);
  });

  it('answers a body that is not an object with 400', async () => {
    const h = await startWebhook();
    for (const body of [[valid], 42, null, '"text"']) {
      const res = await postMessage(h.base, typeof body === 'string' ? body : JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BG_ERR_INVALID_MESSAGE');
    }
  });

  it('names every missing field', async () => {
    const h = await startWebhook();
    const res = await postMessage(h.base, {});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BG_ERR_INVALID_MESSAGE');
    expect(issuePaths(res.body).sort()).toEqual(['channelId', 'text', 'userId']);
    expect(res.body.error.message).toContain('channelId is required');
  });

  it.each([
    [{ ...valid, channelId: 5 }, 'channelId'],
    [{ ...valid, userId: { id: 1 } }, 'userId'],
    [{ ...valid, text: ['hi'] }, 'text'],
    [{ ...valid, userName: 7 }, 'userName'],
    [{ ...valid, id: 12 }, 'id'],
    [{ ...valid, channelId: '' }, 'channelId'],
    [{ ...valid, channelId: '   ' }, 'channelId'],
    [{ ...valid, userId: '' }, 'userId'],
    [{ ...valid, text: '' }, 'text'],
    [{ ...valid, text: ' \n\t ' }, 'text'],
    [{ ...valid, text: 'x'.repeat(16_001) }, 'text'],
    [{ ...valid, id: '' }, 'id'],
    [{ ...valid, channelId: 'c'.repeat(257) }, 'channelId'],
  ])('answers a mistyped or empty field with 400 naming it (%#)', async (body, field) => {
    const h = await startWebhook();
    const res = await postMessage(h.base, body);
    expect(res.status).toBe(400);
    expect(issuePaths(res.body)).toEqual([field]);
    expect(res.body.error.message).toContain(field);
    expect(h.accepted).toEqual([]);
  });

  it('answers a 2 MB body with 413 and keeps serving', async () => {
    const h = await startWebhook();
    const huge = JSON.stringify({ ...valid, text: 'x'.repeat(2 * 1024 * 1024) });
    const res = await postMessage(h.base, huge);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('BG_ERR_PAYLOAD_TOO_LARGE');
    expect((await postMessage(h.base, valid)).status).toBe(202);
  });

  it('honours the configured body limit', async () => {
    const h = await startWebhook({ bodyLimitBytes: 2_048 });
    expect((await postMessage(h.base, { ...valid, text: 'x'.repeat(1_500) })).status).toBe(202);
    expect((await postMessage(h.base, { ...valid, text: 'x'.repeat(3_000) })).status).toBe(413);
  });

  it('keeps its parser and body limit to itself: other routes on the server parse JSON as before', async () => {
    const h = await startWebhook({ bodyLimitBytes: 2_048 });
    const res = await fetch(`${h.base}/other`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ big: 'y'.repeat(10_000) }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { got: { big: string } }).got.big).toHaveLength(10_000);
    const bad = await fetch(`${h.base}/other`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    // fastify's own error shape, not the webhook's
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
  });

  it('reads the body as JSON whatever the content type (curl -d sends form-urlencoded)', async () => {
    const h = await startWebhook();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8']) {
      const res = await postMessage(h.base, JSON.stringify(valid), { 'content-type': type });
      expect(res.status, type).toBe(202);
    }
  });

  it('answers a body that is not valid UTF-8 with 400, signed or not, and takes nothing', async () => {
    // 0xFF never occurs in UTF-8; decoding with replacement would put U+FFFD into the channel key.
    const bad = Buffer.concat([Buffer.from('{"channelId":"room-'), Buffer.from([0xff, 0xfe]), Buffer.from('","userId":"u1","text":"hi"}')]);
    for (const secret of ['', 'k']) {
      const h = await startWebhook({ secret });
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(secret ? signatureHeaders(secret, bad) : {}) };
      const res = await fetch(`${h.base}/v1/messages`, { method: 'POST', headers, body: bad });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('BG_ERR_BAD_REQUEST');
      expect(body.error.message).toContain('UTF-8');
      expect(h.accepted).toEqual([]);
    }
  });

  describe('with a secret (signatures v1)', () => {
    const secret = 'hunter2';
    const nowS = () => Math.floor(Date.now() / 1_000);

    it('accepts a correctly signed body', async () => {
      const h = await startWebhook({ secret });
      const raw = JSON.stringify(valid);
      const res = await postMessage(h.base, raw, signatureHeaders(secret, raw));
      expect(res.status).toBe(202);
    });

    const raw = JSON.stringify(valid);
    it.each([
      ['missing', {}],
      ['wrong secret', signatureHeaders('other', raw)],
      ['another body', signatureHeaders(secret, JSON.stringify({ ...valid, text: 'other' }))],
      ['old-scheme', { 'x-batchgate-timestamp': String(nowS()), 'x-batchgate-signature': signatureOf(secret, nowS(), raw).replace('v1=', 'sha256=') }],
      ['truncated', { 'x-batchgate-timestamp': String(nowS()), 'x-batchgate-signature': signatureOf(secret, nowS(), raw).slice(0, 20) }],
      ['other-timestamp', { 'x-batchgate-timestamp': String(nowS()), 'x-batchgate-signature': signatureOf(secret, nowS() - 1, raw) }],
      ['garbage', { 'x-batchgate-timestamp': String(nowS()), 'x-batchgate-signature': 'v1=zzz' }],
    ])('answers a %s signature with 401', async (_name, headers: Record<string, string>) => {
      const h = await startWebhook({ secret });
      const res = await postMessage(h.base, raw, headers);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'BG_ERR_BAD_SIGNATURE', reason: 'signature' });
      expect(h.accepted).toEqual([]);
    });

    it('answers a missing, malformed or stale timestamp with 401 naming the timestamp', async () => {
      const h = await startWebhook({ secret });
      const stale = nowS() - 301;
      const future = nowS() + 301;
      const cases: Array<Record<string, string>> = [
        { 'x-batchgate-signature': signatureOf(secret, nowS(), raw) },
        { 'x-batchgate-timestamp': 'yesterday', 'x-batchgate-signature': signatureOf(secret, nowS(), raw) },
        { 'x-batchgate-timestamp': String(stale), 'x-batchgate-signature': signatureOf(secret, stale, raw) },
        { 'x-batchgate-timestamp': String(future), 'x-batchgate-signature': signatureOf(secret, future, raw) },
      ];
      for (const headers of cases) {
        const res = await postMessage(h.base, raw, headers);
        expect(res.status).toBe(401);
        expect(res.body.error).toMatchObject({ code: 'BG_ERR_BAD_SIGNATURE', reason: 'timestamp' });
        expect(res.body.error.message).toContain('X-Batchgate-Timestamp'.toLowerCase());
      }
      expect(h.accepted).toEqual([]);
    });

    it('refuses the same signed request without an id a second time (401 replay): it is processed once', async () => {
      const h = await startWebhook({ secret });
      const headers = signatureHeaders(secret, raw);
      expect((await postMessage(h.base, raw, headers)).status).toBe(202);
      const again = await postMessage(h.base, raw, headers);
      expect(again.status).toBe(401);
      expect(again.body.error).toMatchObject({ code: 'BG_ERR_BAD_SIGNATURE', reason: 'replay' });
      expect(h.accepted).toHaveLength(1);
    });

    it('answers a repeated signed request with an id as a duplicate, as without a secret', async () => {
      const h = await startWebhook({ secret });
      const body = JSON.stringify({ ...valid, id: 'sig-dup-1' });
      const headers = signatureHeaders(secret, body);
      expect((await postMessage(h.base, body, headers)).status).toBe(202);
      expect(await postMessage(h.base, body, headers)).toMatchObject({ status: 200, body: { accepted: false, reason: 'duplicate', id: 'sig-dup-1' } });
      expect(h.accepted).toHaveLength(1);
    });

    it('lets a signed request the gateway turned away be sent again', async () => {
      const h = await startWebhook({ secret });
      h.setAccept(async () => ({ accepted: false, reason: ErrorCode.QueueFull }));
      const headers = signatureHeaders(secret, raw);
      expect((await postMessage(h.base, raw, headers)).status).toBe(429);
      h.setAccept(acceptAll);
      expect((await postMessage(h.base, raw, headers)).status).toBe(202);
    });

    it('checks the signature before parsing: unsigned junk gets 401, signed junk 400', async () => {
      const h = await startWebhook({ secret });
      expect((await postMessage(h.base, 'junk')).status).toBe(401);
      expect((await postMessage(h.base, 'junk', signatureHeaders(secret, 'junk'))).status).toBe(400);
    });
  });

  describe('when the gateway turns a message away', () => {
    it('answers queue full with 429 and lets the same id be retried', async () => {
      const h = await startWebhook();
      h.setAccept(async () => ({ accepted: false, reason: ErrorCode.QueueFull, detail: 'channel webhook:room-1 has 100 batches waiting' }));
      const res = await postMessage(h.base, { ...valid, id: 'm-1' });
      expect(res.status).toBe(429);
      expect(res.body.error).toMatchObject({ code: 'BG_ERR_QUEUE_FULL' });
      expect(res.body.error.message).toContain('queue full');

      h.setAccept(async (msg) => ({ accepted: true, channelKey: `webhook:${msg.channelId}`, id: msg.id, pending: 1, typing: true }));
      expect((await postMessage(h.base, { ...valid, id: 'm-1' })).status).toBe(202);
    });

    it('answers shutting down with 503', async () => {
      const h = await startWebhook();
      h.setAccept(async () => ({ accepted: false, reason: ErrorCode.ShuttingDown }));
      const res = await postMessage(h.base, valid);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('BG_ERR_SHUTTING_DOWN');
    });

    it('passes on a duplicate the gateway found itself', async () => {
      const h = await startWebhook();
      h.setAccept(async (msg) => ({ accepted: false, reason: ErrorCode.Duplicate, id: msg.id }));
      expect(await postMessage(h.base, { ...valid, id: 'seen-elsewhere' })).toEqual({
        status: 200,
        body: { accepted: false, reason: 'duplicate', id: 'seen-elsewhere' },
      });
    });

    it('answers 503 without calling accept once the gateway is shutting down or the adapter closed', async () => {
      const h = await startWebhook();
      h.shutdown.abort();
      expect((await postMessage(h.base, valid)).status).toBe(503);
      const h2 = await startWebhook();
      await h2.adapter.close();
      await h2.adapter.close();
      expect((await postMessage(h2.base, valid)).status).toBe(503);
      expect([...h.accepted, ...h2.accepted]).toEqual([]);
    });
  });
});
