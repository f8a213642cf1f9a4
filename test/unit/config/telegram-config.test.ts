import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const telegram = (section: Record<string, unknown>, env: Record<string, string> = {}) => parseConfig({ adapters: { telegram: section } }, env);

describe('adapters.telegram config', () => {
  it('defaults: off, polling, no secret, the real Bot API', () => {
    expect(parseConfig({}, {}).adapters.telegram).toEqual({ enabled: false, token: '', mode: 'polling', webhookSecret: '', webhookUrl: '', apiUrl: '' });
  });

  it('TELEGRAM_BOT_TOKEN is the default token; a token the file sets wins', () => {
    expect(telegram({ enabled: true }, { TELEGRAM_BOT_TOKEN: '1:env' }).adapters.telegram.token).toBe('1:env');
    expect(telegram({ enabled: true, token: '1:file' }, { TELEGRAM_BOT_TOKEN: '1:env' }).adapters.telegram.token).toBe('1:file');
  });

  it('enabled without a token, and webhook mode without a secret, are refused naming the key', () => {
    expect(() => telegram({ enabled: true })).toThrow(ConfigError);
    expect(() => telegram({ enabled: true })).toThrow(/adapters\.telegram\.token/);
    expect(() => telegram({ enabled: true, token: '1:t', mode: 'webhook' })).toThrow(/adapters\.telegram\.webhookSecret/);
    expect(() => telegram({ enabled: true, token: '1:t', mode: 'webhook', webhookSecret: 'has spaces' })).toThrow(/A–Z, a–z, 0–9, _ and -/);
    expect(telegram({ enabled: true, token: '1:t', mode: 'webhook', webhookSecret: 'ok_secret-1' }).adapters.telegram.mode).toBe('webhook');
  });
});
