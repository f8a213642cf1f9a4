import { describe, expect, it } from 'vitest';
import { api, key, startGateway, until } from './harness.js';

const CHANNEL_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', ''],
  ['POST', '/cancel'],
  ['POST', '/stop'],
  ['POST', '/resume'],
  ['DELETE', '/queue'],
  ['GET', '/settings'],
  ['PUT', '/settings', { windowMs: 10 }],
  ['DELETE', '/settings'],
];

describe('admin API routes', () => {
  it('answers 200 with ChannelStats for a channel that has spoken, and lists it', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('room-1', 'hello');
    await chat.say('room-1', 'again');

    const one = await api(gw, 'GET', `/api/v1/channels/${key('room-1')}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      key: 'chat:room-1',
      platform: 'chat',
      channelId: 'room-1',
      pending: 2,
      queuedBatches: 0,
      queuedMessages: 0,
      processing: false,
      paused: false,
      settings: { windowMs: 60_000, maxBatchSize: 10, mode: 'queue' },
      counters: { received: 2, batches: 0, processed: 0, cancelled: 0, failed: 0, dropped: 0 },
    });

    const list = await api(gw, 'GET', '/api/v1/channels');
    expect(list.status).toBe(200);
    expect(list.body.channels.map((c: { key: string }) => c.key)).toEqual(['chat:room-1']);
  });

  it('pages and searches the channel list', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    for (const id of ['a-1', 'a-2', 'b-1', 'b-2', 'b-3']) await chat.say(id, 'x');
    const page = await api(gw, 'GET', '/api/v1/channels?q=b-&offset=1&limit=1');
    expect(page.body).toMatchObject({ total: 3, offset: 1 });
    expect(page.body.channels.map((c: { key: string }) => c.key)).toEqual(['chat:b-2']);
    const bad = await api(gw, 'GET', '/api/v1/channels?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BG_ERR_BAD_REQUEST');
    expect(bad.body.error.issues[0].path).toBe('limit');
  });

  it('decodes URL-encoded keys, including slashes of thread channels', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('C123/1700000000.000100', 'in a thread');
    const res = await api(gw, 'GET', `/api/v1/channels/${key('C123/1700000000.000100')}`);
    expect(res.status).toBe(200);
    expect(res.body.channelId).toBe('C123/1700000000.000100');
  });

  it('answers 404 BG_ERR_UNKNOWN_CHANNEL on every per-channel route for a channel never seen', async () => {
    const { gw } = await startGateway();
    for (const [method, suffix, body] of CHANNEL_ROUTES) {
      const res = await api(gw, method, `/api/v1/channels/${key('never')}${suffix}`, body);
      expect(res.status, `${method} ${suffix}`).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'BG_ERR_UNKNOWN_CHANNEL', channelKey: 'chat:never' });
    }
  });

  it('answers 400 for a key that is not platform:channelId', async () => {
    const { gw } = await startGateway();
    const res = await api(gw, 'GET', '/api/v1/channels/no-colon');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'BG_ERR_BAD_REQUEST', issues: [{ path: 'key' }] });
  });

  it('cancel, stop, resume, clear answer 200 with their documented bodies', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('r', 'one');
    await chat.say('r', 'two');
    expect(await api(gw, 'POST', `/api/v1/channels/${key('r')}/cancel`)).toMatchObject({ status: 200, body: { cancelled: false } });
    expect(await api(gw, 'POST', `/api/v1/channels/${key('r')}/stop`)).toMatchObject({ status: 200, body: { paused: true, cancelled: false } });
    expect((await api(gw, 'GET', `/api/v1/channels/${key('r')}`)).body.paused).toBe(true);
    expect(await api(gw, 'POST', `/api/v1/channels/${key('r')}/resume`)).toMatchObject({ status: 200, body: { paused: false } });
    expect(await api(gw, 'DELETE', `/api/v1/channels/${key('r')}/queue`)).toMatchObject({ status: 200, body: { removed: 2 } });
    // Idempotent: a second clear removes nothing, a second resume is still fine.
    expect(await api(gw, 'DELETE', `/api/v1/channels/${key('r')}/queue`)).toMatchObject({ status: 200, body: { removed: 0 } });
  });

  it('takes body-less calls sent with content-type: application/json; bad JSON is a 400 with the reason', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('j', 'one');
    const json = { 'content-type': 'application/json' };
    const call = (method: string, path: string, body?: string) => fetch(`${gw.url}/api/v1/channels/${key('j')}${path}`, { method, headers: json, body });
    expect((await call('POST', '/stop')).status).toBe(200);
    expect((await call('POST', '/resume')).status).toBe(200);
    expect((await call('POST', '/cancel')).status).toBe(200);
    const cleared = await call('DELETE', '/queue');
    expect({ status: cleared.status, body: await cleared.json() }).toEqual({ status: 200, body: { removed: 1 } });
    const bad = await call('PUT', '/settings', '{"windowMs": ');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/JSON/);
  });

  it('stops and resumes a channel that went idle (counters remembered)', async () => {
    const { gw, chat, processor } = await startGateway();
    await chat.say('idle', 'hi');
    await until(() => chat.sent.length === 1);
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('idle')}`)).body.active === false);
    expect(await api(gw, 'POST', `/api/v1/channels/${key('idle')}/stop`)).toMatchObject({ status: 200, body: { paused: true } });
    await chat.say('idle', 'while stopped');
    // Its window sealed (a sealed batch is dispatched at once unless paused), yet nothing ran.
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('idle')}`)).body.queuedBatches === 1);
    expect(processor.calls).toHaveLength(1);
    expect((await api(gw, 'GET', `/api/v1/channels/${key('idle')}/settings`)).body.override).toBeNull();
    expect(await api(gw, 'POST', `/api/v1/channels/${key('idle')}/resume`)).toMatchObject({ status: 200, body: { paused: false } });
    await until(() => chat.sent.length === 2);
    expect(chat.sent[1]!.text).toBe('while stopped');
  });

  it('injects a message with 202 and validates the body with 400', async () => {
    const { gw, chat } = await startGateway();
    const res = await api(gw, 'POST', `/api/v1/channels/${key('new-room')}/messages`, { text: 'from the operator' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: true, channelKey: 'chat:new-room', front: false });
    expect(res.body.id).toMatch(/^admin-/);
    await until(() => chat.sent.length === 1);
    expect(chat.sent[0]).toMatchObject({ platform: 'chat', channelId: 'new-room', text: 'from the operator', inReplyTo: [res.body.id] });

    const bad = await api(gw, 'POST', `/api/v1/channels/${key('new-room')}/messages`, { text: '  ', front: 'yes', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BG_ERR_BAD_REQUEST');
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['extra', 'front', 'text']);

    const notJson = await fetch(`${gw.url}/api/v1/channels/${key('new-room')}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.code).toBe('BG_ERR_BAD_REQUEST');
  });

  it('reads, merges and deletes settings overrides; 400 names each failing field', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('s', 'x');
    const url = `/api/v1/channels/${key('s')}/settings`;
    expect(await api(gw, 'GET', url)).toMatchObject({ status: 200, body: { effective: { windowMs: 60_000 }, override: null } });
    expect(await api(gw, 'PUT', url, { windowMs: 30_000, mode: 'interrupt' })).toMatchObject({
      status: 200,
      body: { effective: { windowMs: 30_000, mode: 'interrupt' }, override: { windowMs: 30_000, mode: 'interrupt' } },
    });
    expect(await api(gw, 'PUT', url, { maxBatchSize: 3 })).toMatchObject({ body: { override: { windowMs: 30_000, mode: 'interrupt', maxBatchSize: 3 } } });
    expect((await api(gw, 'GET', `/api/v1/channels/${key('s')}`)).body.settings).toMatchObject({ windowMs: 30_000, maxBatchSize: 3 });

    const bad = await api(gw, 'PUT', url, { windowMs: -5, maxBatchSize: 'ten', mode: 'sometimes', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BG_ERR_INVALID_SETTINGS');
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['colour', 'maxBatchSize', 'mode', 'windowMs']);
    for (const field of ['windowMs', 'maxBatchSize', 'mode', 'colour']) expect(bad.body.error.message).toContain(field);
    // A refused PUT changes nothing.
    expect((await api(gw, 'GET', url)).body.override).toEqual({ windowMs: 30_000, mode: 'interrupt', maxBatchSize: 3 });

    expect(await api(gw, 'DELETE', url)).toMatchObject({ status: 200, body: { effective: { windowMs: 60_000, maxBatchSize: 10 }, override: null } });
  });

  it('answers /api/v1/stats with totals and per-platform counts', async () => {
    const { gw, chat } = await startGateway();
    await chat.say('a', '1');
    await chat.say('b', '2');
    await until(() => chat.sent.length === 2);
    const res = await api(gw, 'GET', '/api/v1/stats');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      counters: { received: 2, processed: 2 },
      maxConcurrentBatches: 32,
      sinceStart: { messagesReceived: 2, batchesFlushed: 2 },
      platforms: { chat: { channels: 2, counters: { received: 2 }, replies: { sent: 2, failed: 0 } } },
    });
  });

  it('serves /metrics and /dashboard to loopback clients when no token is set', async () => {
    const { gw } = await startGateway();
    const metrics = await fetch(`${gw.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const page = await fetch(`${gw.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('batchgate');
  });
});

describe('admin auth', () => {
  const guarded = ['/api/v1/channels', '/api/v1/stats', '/metrics', '/dashboard', `/api/v1/channels/${key('x')}`];

  it('with no token, refuses non-loopback clients with 403 and serves loopback ones', async () => {
    const { gw } = await startGateway();
    for (const url of guarded) {
      const remote = await gw.http.inject({ method: 'GET', url, remoteAddress: '203.0.113.9' });
      expect(remote.statusCode, url).toBe(403);
      expect(remote.json().error.code).toBe('BG_ERR_FORBIDDEN');
      const v6 = await gw.http.inject({ method: 'GET', url, remoteAddress: '2001:db8::1' });
      expect(v6.statusCode, url).toBe(403);
    }
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const local = await gw.http.inject({ method: 'GET', url: '/api/v1/channels', remoteAddress });
      expect(local.statusCode, remoteAddress).toBe(200);
    }
    // Mutations are guarded the same way.
    const post = await gw.http.inject({ method: 'POST', url: `/api/v1/channels/${key('x')}/messages`, remoteAddress: '10.1.2.3', payload: { text: 'hi' } });
    expect(post.statusCode).toBe(403);
  });

  it('with a token, needs Authorization: Bearer <token> on every admin route (401 otherwise), from anywhere', async () => {
    const { gw } = await startGateway({ token: 's3cret-token' });
    for (const url of guarded) {
      const none = await api(gw, 'GET', url);
      expect(none.status, url).toBe(401);
      expect(none.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await api(gw, 'GET', url, undefined, { authorization: 'Bearer s3cret-tokem' });
      expect(wrong.status, url).toBe(401);
      const short = await api(gw, 'GET', url, undefined, { authorization: 'Bearer s' });
      expect(short.status, url).toBe(401);
    }
    expect((await api(gw, 'GET', '/api/v1/channels')).body.error.code).toBe('BG_ERR_UNAUTHORIZED');
    expect(await api(gw, 'GET', '/api/v1/channels', undefined, { authorization: 'Bearer s3cret-token' })).toMatchObject({ status: 200 });
    const remote = await gw.http.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: 'Bearer s3cret-token' } });
    expect(remote.statusCode).toBe(200);
    const inject = await api(gw, 'POST', `/api/v1/channels/${key('t')}/messages`, { text: 'x' }, { authorization: 'Bearer s3cret-token' });
    expect(inject.status).toBe(202);
  });

  it('leaves the adapters and health routes outside the admin guard', async () => {
    const { gw } = await startGateway({ token: 't' });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const remote = await gw.http.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' });
    expect(remote.statusCode).toBe(200);
  });
});
