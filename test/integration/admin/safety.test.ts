import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/gateway.js';
import { rawRequest } from '../../helpers/raw-request.js';
import { api, key, startGateway } from './harness.js';

/** One request with exactly these headers (the Host and Origin under test included). */
const raw = (gw: Gateway, method: string, path: string, headers: Record<string, string>, body?: string) => rawRequest(gw.url, method, path, headers, body);

async function pausedOf(gw: Gateway, channel: string): Promise<boolean> {
  return (await api(gw, 'GET', `/api/v1/channels/${key(channel)}`)).body.paused;
}

describe('admin API safety without a token', () => {
  it('refuses a cross-site stop (Origin of another site), with no body or a text/plain one: 403 with a reason, channel untouched', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('r1', 'hello');
    const host = new URL(gw.url).host;
    const stop = `/api/v1/channels/${key('r1')}/stop`;

    const bare = await raw(gw, 'POST', stop, { host, origin: 'http://evil.example' });
    expect(bare.status).toBe(403);
    expect(bare.body.error).toMatchObject({ code: 'BG_ERR_FORBIDDEN', reason: 'origin' });
    expect(bare.body.error.message).toContain('http://evil.example');

    const form = await raw(gw, 'POST', stop, { host, origin: 'http://evil.example', 'content-type': 'text/plain' }, 'x');
    expect(form.status).toBe(403);

    // A Referer names the origin when Origin is absent.
    const referred = await raw(gw, 'POST', stop, { host, referer: 'http://evil.example/page.html' });
    expect(referred.status).toBe(403);
    expect(referred.body.error.reason).toBe('origin');

    expect(await pausedOf(gw, 'r1')).toBe(false);

    // Same origin (the dashboard) and no Origin at all (CLI, curl) still work.
    expect((await raw(gw, 'POST', stop, { host, origin: `http://${host}` })).status).toBe(200);
    expect((await raw(gw, 'POST', `/api/v1/channels/${key('r1')}/resume`, { host })).status).toBe(200);
    expect((await raw(gw, 'POST', `/api/v1/channels/${key('r1')}/resume`, { host, referer: `http://${host}/dashboard` })).status).toBe(200);
  });

  it('refuses a Host that is not a loopback name (DNS rebinding) on stop and on GET /api/v1/stats', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('r2', 'hello');
    const port = new URL(gw.url).port;
    const evil = `evil.example:${port}`;

    const stop = await raw(gw, 'POST', `/api/v1/channels/${key('r2')}/stop`, { host: evil });
    expect(stop.status).toBe(403);
    expect(stop.body.error).toMatchObject({ code: 'BG_ERR_FORBIDDEN', reason: 'host' });
    const stats = await raw(gw, 'GET', '/api/v1/stats', { host: evil });
    expect(stats.status).toBe(403);
    expect(stats.body.error.reason).toBe('host');
    expect(await pausedOf(gw, 'r2')).toBe(false);

    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost']) {
      expect((await raw(gw, 'GET', '/api/v1/stats', { host })).status, host).toBe(200);
    }
  });

  it('answers http.allowedHosts names', async () => {
    const { gw } = await startGateway({ http: { allowedHosts: ['batchgate.internal', 'other.internal:1'] } });
    const port = new URL(gw.url).port;
    expect((await raw(gw, 'GET', '/api/v1/stats', { host: `batchgate.internal:${port}` })).status).toBe(200);
    expect((await raw(gw, 'GET', '/api/v1/stats', { host: `other.internal:${port}` })).status).toBe(403);
    expect((await raw(gw, 'GET', '/api/v1/stats', { host: 'other.internal:1' })).status).toBe(200);
  });

  it('refuses a request relayed by a proxy (X-Forwarded-For or Forwarded) from a loopback socket', async () => {
    const { gw } = await startGateway();
    const host = new URL(gw.url).host;
    const relayed: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7;proto=https' }, { 'x-forwarded-for': '127.0.0.1' }];
    for (const headers of relayed) {
      const res = await raw(gw, 'GET', '/api/v1/stats', { host, ...headers });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'BG_ERR_FORBIDDEN', reason: 'forwarded' });
    }
    const metrics = await raw(gw, 'GET', '/metrics', { host, 'x-forwarded-for': '203.0.113.7' });
    expect(metrics.status).toBe(403);
    const dashboard = await raw(gw, 'GET', '/dashboard', { host, 'x-forwarded-for': '203.0.113.7' });
    expect(dashboard.status).toBe(403);
    // The platform routes are not admin routes: a proxy may forward them.
    expect((await raw(gw, 'GET', '/healthz', { host, 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
  });
});

describe('admin API safety with a token', () => {
  it('checks the bearer first, then the Origin rule on mutating routes', async () => {
    const { gw, chat } = await startGateway({ token: 'tok-1', batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('r3', 'hello');
    const host = new URL(gw.url).host;
    const stop = `/api/v1/channels/${key('r3')}/stop`;
    expect((await raw(gw, 'POST', stop, { host, origin: 'http://evil.example' })).status).toBe(401);
    const cross = await raw(gw, 'POST', stop, { host, origin: 'http://evil.example', authorization: 'Bearer tok-1' });
    expect(cross.status).toBe(403);
    expect(cross.body.error.reason).toBe('origin');
    // With a token, any Host and proxied requests are fine (behind a TLS proxy the page is https).
    const proxied = await raw(gw, 'POST', stop, { host: 'admin.example.com', origin: 'https://admin.example.com', 'x-forwarded-for': '203.0.113.7', authorization: 'Bearer tok-1' });
    expect(proxied.status).toBe(200);
    expect(proxied.body.paused).toBe(true);
  });
});

describe('admin API strict input', () => {
  it('refuses a live override that the config file would refuse: maxWaitMs 300 on a channel whose windowMs is 700', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 700, maxWaitMs: 10_000 } } });
    await chat.say('s1', 'hello');
    const url = `/api/v1/channels/${key('s1')}/settings`;
    const res = await api(gw, 'PUT', url, { maxWaitMs: 300 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BG_ERR_INVALID_SETTINGS');
    expect(res.body.error.issues).toEqual([{ path: 'maxWaitMs', message: expect.stringContaining('below windowMs (700)') }]);
    expect((await api(gw, 'GET', url)).body.override).toBeNull();
    // Together with a window that fits, or on a channel without coalescing, it is fine.
    expect((await api(gw, 'PUT', url, { maxWaitMs: 300, windowMs: 200 })).status).toBe(200);
    expect((await api(gw, 'PUT', url, { windowMs: 500 })).status).toBe(400);
    expect((await api(gw, 'PUT', url, { windowMs: 500, disabled: true })).status).toBe(200);
  });

  it('refuses a settings body that is not an object (null, a list, a number)', async () => {
    const { gw, chat } = await startGateway();
    await chat.say('s2', 'hello');
    const host = new URL(gw.url).host;
    for (const body of ['null', '[]', '5', '"x"']) {
      const res = await raw(gw, 'PUT', `/api/v1/channels/${key('s2')}/settings`, { host, 'content-type': 'application/json' }, body);
      expect(res.status, body).toBe(400);
      expect(res.body.error.code).toBe('BG_ERR_INVALID_SETTINGS');
    }
    expect((await api(gw, 'GET', `/api/v1/channels/${key('s2')}/settings`)).body.override).toBeNull();
  });

  it('refuses a JSON body that is not valid UTF-8 (400), instead of taking U+FFFD into the text', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('s3', 'hello');
    const bad = Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const res = await fetch(`${gw.url}/api/v1/channels/${key('s3')}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bad });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: 'BG_ERR_BAD_REQUEST', message: 'body is not valid UTF-8' });
    expect((await api(gw, 'GET', `/api/v1/channels/${key('s3')}`)).body.pending).toBe(1);
  });
});
