import { describe, expect, it } from 'vitest';
import { InvalidSettingsError } from '../../../src/errors.js';
import { DEFAULT_SETTINGS, parseSettingsOverride } from '../../../src/core/policy.js';
import { messageTurn } from '../../../src/core/turn-rules.js';

const rule = (text: string) => messageTurn(text, DEFAULT_SETTINGS).rule;

describe('turn rules', () => {
  it('each default rule and phrase, case-insensitive, trailing punctuation ignored', () => {
    expect(rule('logs below:')).toBe('trailingColon');
    expect(rule('so...')).toBe('ellipsis');
    expect(rule('so…  ')).toBe('ellipsis');
    for (const p of ['logs below', 'one sec', 'hold on', 'wait', 'brb', 'more below', 'continued']) {
      expect([p, rule(`ok ${p.toUpperCase()}!`)]).toEqual([p, 'phrase']);
    }
    expect(rule('herbrb')).toBeNull();
    expect(rule('all good')).toBeNull();
    expect(rule('')).toBeNull();
  });

  it('counts fences: odd opens or closes a code block', () => {
    expect(messageTurn('```js', DEFAULT_SETTINGS).fenceOdd).toBe(true);
    expect(messageTurn('```js\nx\n```', DEFAULT_SETTINGS).fenceOdd).toBe(false);
  });

  it('flushOn: whole words case-insensitive, and /regex/flags', () => {
    const s = { ...DEFAULT_SETTINGS, flushOn: ['ship it', '/^go!?$/i'] };
    expect(messageTurn('OK, Ship it.', s).flush).toBe(true);
    expect(messageTurn('go!', s).flush).toBe(true);
    expect(messageTurn('shipit', s).flush).toBe(false);
    expect(messageTurn('go go', s).flush).toBe(false);
  });

  it('a flushOn regex that does not compile is an InvalidSettingsError naming the field', () => {
    let error: unknown;
    try {
      parseSettingsOverride({ flushOn: ['/(unclosed/'] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSettingsError);
    expect((error as InvalidSettingsError).message).toContain('flushOn');
  });

  it('hold fields left out take their defaults', () => {
    expect(parseSettingsOverride({ hold: { rules: [] } })).toEqual({ hold: { rules: [], holdMs: 15_000, phrases: DEFAULT_SETTINGS.hold.phrases } });
  });
});
