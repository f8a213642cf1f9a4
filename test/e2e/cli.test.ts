import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, startGateway, until } from '../integration/admin/harness.js';
import { cli } from '../helpers/cli.js';

// Each spawn loads the whole compiled CLI (a few seconds on a shared 2-core box), hence the timeouts.
describe('batchgate admin commands', { timeout: 90_000 }, () => {
  it('stats --json parses and shows the channels; stats prints a table', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('room-1', 'hello');
    await chat.say('room-2', 'hi');

    const json = await cli(['stats', '--json', '--url', gw.url]);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.channels.map((c: { key: string }) => c.key).sort()).toEqual(['chat:room-1', 'chat:room-2']);
    expect(parsed.channels[0]).toMatchObject({ pending: 1, counters: { received: 1 } });

    const table = await cli(['stats', '--url', gw.url]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+PENDING\s+QUEUED/);
    expect(lines.some((l) => /^chat:room-1\s+1\s+0/.test(l))).toBe(true);

    const one = await cli(['stats', 'chat:room-1', '--json', '--url', gw.url]);
    expect(JSON.parse(one.stdout)).toMatchObject({ key: 'chat:room-1', pending: 1 });
  });

  it('cancel on an unknown channel exits non-zero with the server reason', async () => {
    const { gw } = await startGateway();
    const res = await cli(['cancel', 'chat:nobody', '--url', gw.url]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('404 BG_ERR_UNKNOWN_CHANNEL');
    expect(res.stderr).toContain('unknown channel chat:nobody');
  });

  it('a wrong token exits non-zero with 401; the right one (flag or env) works', async () => {
    const { gw } = await startGateway({ token: 'right-token' });
    const wrong = await cli(['stats', '--url', gw.url, '--token', 'wrong-token']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('401 BG_ERR_UNAUTHORIZED');
    const none = await cli(['stats', '--url', gw.url]);
    expect(none.code).not.toBe(0);
    expect((await cli(['stats', '--json', '--url', gw.url, '--token', 'right-token'])).code).toBe(0);
    expect((await cli(['stats', '--json', '--url', gw.url], { BATCHGATE_ADMIN_TOKEN: 'right-token' })).code).toBe(0);
  });

  it('an unreachable gateway exits non-zero and says where it tried', async () => {
    const { gw } = await startGateway();
    const url = gw.url;
    await gw.close();
    const res = await cli(['stats', '--url', url]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(`cannot reach the gateway at ${url}`);
  });

  it('stop, resume, clear, cancel and settings steer a channel', async () => {
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 30 } } });
    await chat.say('ops', 'first');
    await processor.started(1);
    const stop = await cli(['stop', 'chat:ops', '--url', gw.url]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('paused chat:ops (cancelled the batch in flight)');
    await chat.say('ops', 'second');
    await chat.say('ops', 'third');
    await until(async () => (await api(gw, 'GET', '/api/v1/channels/chat%3Aops')).body.queuedMessages === 2);
    expect((await cli(['clear', 'chat:ops', '--url', gw.url])).stdout).toBe('removed 2 message(s) from chat:ops\n');
    expect((await cli(['resume', 'chat:ops', '--url', gw.url])).stdout).toBe('resumed chat:ops\n');
    expect((await cli(['cancel', 'chat:ops', '--url', gw.url])).stdout).toBe('nothing was in flight in chat:ops\n');

    const set = await cli(['settings', 'chat:ops', '--window-ms', '1500', '--max-batch-size', '4', '--mode', 'interrupt', '--json', '--url', gw.url]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout).override).toEqual({ windowMs: 1500, maxBatchSize: 4, mode: 'interrupt' });
    const show = await cli(['settings', 'chat:ops', '--url', gw.url]);
    expect(show.stdout).toMatch(/windowMs\s+1500\s+1500/);
    const bad = await cli(['settings', 'chat:ops', '--max-wait-ms', '99999999999', '--url', gw.url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('400 BG_ERR_INVALID_SETTINGS');
    expect(bad.stderr).toContain('maxWaitMs');
    const badFlag = await cli(['settings', 'chat:ops', '--mode', 'sometimes', '--url', gw.url]);
    expect(badFlag.code).not.toBe(0);
    const reset = await cli(['settings', 'chat:ops', '--reset', '--json', '--url', gw.url]);
    expect(JSON.parse(reset.stdout).override).toBeNull();
  }, 180_000);
});

describe('batchgate config', { timeout: 90_000 }, () => {
  it('prints the effective config with secrets hidden; an invalid file exits 1 naming each failing path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-cli-config-'));
    const good = path.join(dir, 'good.yaml');
    await writeFile(good, 'adapters:\n  webhook: { secret: "hmac-s3cret", replyUrl: "http://bot:pw@127.0.0.1:9/replies" }\nbatching:\n  defaults: { windowMs: 750 }\n');
    const env = { BATCHGATE_ADMIN_TOKEN: 'admin-t0ken', REDIS_URL: 'redis://:redis-pw@127.0.0.1:6399' };
    const yaml = await cli(['config', '--config', good], env);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout).toContain(`# ${good}: valid`);
    for (const secret of ['hmac-s3cret', 'admin-t0ken', 'redis-pw', 'bot:pw']) expect(yaml.stdout).not.toContain(secret);
    const json = await cli(['config', '--config', good, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({
      admin: { token: '***' },
      redis: { url: 'redis://***@127.0.0.1:6399' },
      batching: { defaults: { windowMs: 750, maxBatchSize: 10 } },
      adapters: { webhook: { secret: '***', replyUrl: 'http://***@127.0.0.1:9/replies' }, discord: { token: '' } },
    });

    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'http: { port: -1 }\nbatching: { defaults: { windwMs: 5 } }\n');
    const invalid = await cli(['config', '--config', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toContain('http.port');
    expect(invalid.stderr).toContain('windwMs');
  });

  it('admin commands default to the gateway on 127.0.0.1:$PORT', async () => {
    const { gw, chat } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    await chat.say('on-port', 'hello');
    const res = await cli(['stats', '--json'], { PORT: new URL(gw.url).port }, ['BATCHGATE_URL']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).channels.map((c: { key: string }) => c.key)).toEqual(['chat:on-port']);
  });
});

describe('batchgate worker', { timeout: 90_000 }, () => {
  it('without redis.url exits 2 and says what to set; with an unreachable Redis exits 1 naming it', async () => {
    const bare = await cli(['worker'], { REDIS_URL: '' });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/needs redis\.url \(or REDIS_URL\)/);
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
    const away = await cli(['worker'], { REDIS_URL: 'redis://:secret@127.0.0.1:9' });
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:9/);
    expect(away.stderr).not.toContain('secret');
  });
});
