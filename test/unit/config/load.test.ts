import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpolate, loadConfig, parseConfig } from '../../../src/config/load.js';
import { ConfigError, ErrorCode } from '../../../src/errors.js';
import { hideSecrets } from '../../../src/config/redact.js';

describe('config', () => {
  it('fills every default from an empty document', () => {
    const cfg = parseConfig({}, {});
    expect(cfg.http).toEqual({ host: '127.0.0.1', port: 8787, bodyLimitBytes: 262_144, allowedHosts: [] });
    expect(cfg.processor).toEqual({ type: 'echo' });
    expect(cfg.batching.maxConcurrentBatches).toBe(32);
    expect(cfg.adapters.web.enabled).toBe(true);
    expect(cfg.adapters.discord.enabled).toBe(false);
    expect(cfg.shutdownTimeoutMs).toBe(10_000);
  });

  it('interpolates ${VAR} and ${VAR:-default}; numbers written that way still parse', () => {
    expect(interpolate({ a: '${X}', b: ['${Y:-fallback}'], c: 'p-${X}-s' }, { X: '1' })).toEqual({ a: '1', b: ['fallback'], c: 'p-1-s' });
    const cfg = parseConfig({ http: { port: '${MY_PORT:-9000}' }, batching: { defaults: { windowMs: '${W}' } } }, { W: '250' });
    expect(cfg.http.port).toBe(9000);
    expect(cfg.batching.defaults.windowMs).toBe(250);
    expect(parseConfig({ distributed: { keepRaw: '${KEEP_RAW}' }, adapters: { discord: { mentionOnly: '${M:-true}' } } }, { KEEP_RAW: 'true' })).toMatchObject({
      distributed: { keepRaw: true },
      adapters: { discord: { mentionOnly: true } },
    });
  });

  it('PORT, HOST, REDIS_URL, BATCHGATE_ADMIN_TOKEN and LOG_LEVEL override their keys', () => {
    const cfg = parseConfig(
      { http: { port: 1 } },
      { PORT: '7000', HOST: '0.0.0.0', REDIS_URL: 'redis://127.0.0.1:6390', BATCHGATE_ADMIN_TOKEN: 't0k', LOG_LEVEL: 'warn' },
    );
    expect(cfg.http).toMatchObject({ port: 7000, host: '0.0.0.0' });
    expect(cfg.redis.url).toBe('redis://127.0.0.1:6390');
    expect(cfg.admin.token).toBe('t0k');
    expect(cfg.log.level).toBe('warn');
  });

  it('adapters.discord.token defaults to DISCORD_TOKEN; a token the document sets wins', () => {
    expect(parseConfig({ adapters: { discord: { enabled: true } } }, { DISCORD_TOKEN: 'from-env' }).adapters.discord.token).toBe('from-env');
    expect(parseConfig({}, { DISCORD_TOKEN: 'from-env' }).adapters.discord.token).toBe('from-env');
    expect(parseConfig({ adapters: { discord: { token: 'in-file' } } }, { DISCORD_TOKEN: 'from-env' }).adapters.discord.token).toBe('in-file');
    expect(() => parseConfig({ adapters: { discord: { enabled: true } } }, {})).toThrow(/DISCORD_TOKEN/);
  });

  it('SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN default the slack keys the same way', () => {
    const env = { SLACK_BOT_TOKEN: 'xoxb-env', SLACK_SIGNING_SECRET: 'secret-env', SLACK_APP_TOKEN: 'xapp-env' };
    expect(parseConfig({ adapters: { slack: { enabled: true } } }, env).adapters.slack).toMatchObject({ botToken: 'xoxb-env', signingSecret: 'secret-env', appToken: 'xapp-env' });
    expect(parseConfig({ adapters: { slack: { botToken: 'xoxb-file' } } }, env).adapters.slack.botToken).toBe('xoxb-file');
    expect(() => parseConfig({ adapters: { slack: { enabled: true } } }, {})).toThrow(/SLACK_BOT_TOKEN/);
    expect(() => parseConfig({ adapters: { slack: { enabled: true, mode: 'socket' } } }, { SLACK_BOT_TOKEN: 'xoxb-env' })).toThrow(/SLACK_APP_TOKEN/);
  });

  it('an invalid document names every failing path and what to write instead', () => {
    let err: unknown;
    try {
      parseConfig(
        {
          http: { port: 'eighty' },
          batching: { defaults: { windowMs: -5, mode: 'yolo' } },
          adapters: { slack: { enabled: true, mode: 'socket', botToken: 'xoxb' } },
          typo: 1,
        },
        {},
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['http.port', 'batching.defaults.windowMs', 'batching.defaults.mode', '']));
    expect((err as ConfigError).code).toBe(ErrorCode.Config);
    expect((err as ConfigError).message).toContain('windowMs');
  });

  it('cross-field rules say how to fix them', () => {
    expect(() => parseConfig({ adapters: { slack: { enabled: true, mode: 'socket', botToken: 'xoxb-1' } } }, {})).toThrow(/appToken/);
    expect(() => parseConfig({ adapters: { discord: { enabled: true } } }, {})).toThrow(/DISCORD_TOKEN/);
    const pathsOf = (doc: unknown) => {
      try {
        parseConfig(doc, {});
        return [];
      } catch (err) {
        return (err as ConfigError).issues.map((i) => i.path);
      }
    };
    // maxWaitMs below windowMs, in the defaults or in a pattern (over the defaults); a disabled channel has no window.
    expect(pathsOf({ batching: { defaults: { windowMs: 40_000 } } })).toEqual(['batching.defaults.maxWaitMs']);
    expect(pathsOf({ batching: { channels: [{ match: 'a:*', windowMs: 10 }, { match: 'b:*', windowMs: 60_000 }] } })).toEqual(['batching.channels.1.maxWaitMs']);
    expect(pathsOf({ batching: { defaults: { maxWaitMs: 1_000, windowMs: 500 }, channels: [{ match: 'c:*', windowMs: 2_000 }] } })).toEqual(['batching.channels.0.maxWaitMs']);
    expect(pathsOf({ batching: { channels: [{ match: 'd:*', windowMs: 60_000, maxWaitMs: 90_000 }, { match: 'e:*', windowMs: 60_000, disabled: true }] } })).toEqual([]);
  });

  it('loads YAML from --config, else BATCHGATE_CONFIG; bad YAML and missing files are ConfigErrors', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bg-config-'));
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'http:\n  port: ${P:-8123}\nprocessor: { type: module, path: ./bot.js }\n');
    const { config } = await loadConfig(file, {});
    expect(config.http.port).toBe(8123);
    expect(config.processor).toEqual({ type: 'module', path: './bot.js' });
    const viaEnv = await loadConfig(undefined, { BATCHGATE_CONFIG: file, P: '8124' });
    expect(viaEnv.config.http.port).toBe(8124);
    await writeFile(file, 'http: [unclosed\n');
    await expect(loadConfig(file, {})).rejects.toBeInstanceOf(ConfigError);
    await expect(loadConfig(path.join(dir, 'missing.yaml'), {})).rejects.toThrow(/cannot read config file/);
  });

  it('processor type openai: defaults filled, ${OPENAI_API_KEY} read, the key hidden when printed, a missing model named', () => {
    const cfg = parseConfig({ processor: { type: 'openai', apiKey: '${OPENAI_API_KEY}', model: 'gpt-4o-mini' } }, { OPENAI_API_KEY: 'sk-secret' });
    expect(cfg.processor).toEqual({
      type: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      apiKey: 'sk-secret',
      model: 'gpt-4o-mini',
      historyTurns: 10,
      stream: true,
      timeoutMs: 120_000,
      attempts: 3,
    });
    expect(JSON.stringify(hideSecrets(cfg))).not.toContain('sk-secret');
    expect(() => parseConfig({ processor: { type: 'openai', baseUrl: 'http://127.0.0.1:11434/v1' } }, {})).toThrow(/processor\.model/);
  });
});
