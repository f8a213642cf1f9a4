import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../../src/processors/signature.js';

describe('signBody / verifySignature', () => {
  it('is sha256=<hex HMAC-SHA256(secret, body)>', () => {
    const expected = createHmac('sha256', 'key').update('{"a":1}').digest('hex');
    expect(signBody('key', '{"a":1}')).toBe(`sha256=${expected}`);
    expect(signBody('key', Buffer.from('{"a":1}'))).toBe(`sha256=${expected}`);
  });

  it('accepts the right signature and rejects everything else without throwing', () => {
    const body = 'héllo';
    const good = signBody('s', body);
    expect(verifySignature('s', body, good)).toBe(true);
    expect(verifySignature('s', Buffer.from(body, 'utf8'), good)).toBe(true);
    for (const bad of [undefined, '', 'sha256=', good.slice(0, -1), `${good}0`, good.toUpperCase(), good.replace('sha256=', 'sha1='), ['a', 'b'], `sha256=${'é'.repeat(64)}`]) {
      expect(verifySignature('s', body, bad)).toBe(false);
    }
    expect(verifySignature('other', body, good)).toBe(false);
    expect(verifySignature('s', `${body} `, good)).toBe(false);
  });
});
