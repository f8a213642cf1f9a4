import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureReplayGuard, signatureHeaders, signatureOf, verifySignature } from '../../../src/delivery/signature.js';

const NOW = 1_765_000_000_000;
const TS = String(NOW / 1_000);

describe('signatures v1', () => {
  it('is v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>, with the timestamp in unix seconds', () => {
    const expected = createHmac('sha256', 'key').update(`v1:${TS}:{"a":1}`).digest('hex');
    expect(signatureOf('key', TS, '{"a":1}')).toBe(`v1=${expected}`);
    expect(signatureOf('key', Number(TS), Buffer.from('{"a":1}'))).toBe(`v1=${expected}`);
    expect(signatureHeaders('key', '{"a":1}', NOW + 999)).toEqual({ 'x-batchgate-timestamp': TS, 'x-batchgate-signature': `v1=${expected}` });
  });

  it('accepts the right signature within 300 s and refuses everything else without throwing', () => {
    const body = 'héllo';
    const good = signatureOf('s', TS, body);
    const check = (signature: unknown, timestamp: unknown = TS, at = NOW, secret = 's', b: string | Buffer = body) =>
      verifySignature(secret, b, { signature: signature as string, timestamp: timestamp as string }, at);
    expect(check(good)).toEqual({ ok: true, signature: good, timestamp: Number(TS) });
    expect(check(good, TS, NOW, 's', Buffer.from(body, 'utf8')).ok).toBe(true);
    expect(check(good, TS, NOW + 300_000).ok).toBe(true);
    expect(check(good, TS, NOW - 300_000).ok).toBe(true);
    expect(check(`v1=${'0'.repeat(64)}, ${good}`).ok).toBe(true);
    for (const bad of [undefined, '', 'v1=', good.slice(0, -1), `${good}0`, good.toUpperCase(), good.replace('v1=', 'sha256='), ['a', 'b'], `v1=${'é'.repeat(64)}`]) {
      expect(check(bad)).toMatchObject({ ok: false, reason: 'signature' });
    }
    expect(check(good, TS, NOW, 'other')).toMatchObject({ ok: false, reason: 'signature' });
    expect(check(good, TS, NOW, 's', `${body} `)).toMatchObject({ ok: false, reason: 'signature' });
    expect(check(good, String(Number(TS) + 1))).toMatchObject({ ok: false, reason: 'signature' });
    expect(verifySignature('s', body, { signature: good, timestamp: undefined }, NOW)).toMatchObject({ ok: false, reason: 'timestamp' });
    for (const ts of ['', 'abc', '1.5', '-3', ['1', '2']]) expect(check(good, ts)).toMatchObject({ ok: false, reason: 'timestamp' });
    expect(check(good, TS, NOW + 301_000)).toMatchObject({ ok: false, reason: 'timestamp' });
    expect(check(good, TS, NOW - 301_000)).toMatchObject({ ok: false, reason: 'timestamp' });
  });

  it('the replay guard refuses a signature seen within two tolerances, and forgets it after', () => {
    let now = NOW;
    const guard = new SignatureReplayGuard(10, () => now);
    expect(guard.claim('v1=a')).toBe(true);
    expect(guard.claim('v1=a')).toBe(false);
    now += 599_000;
    expect(guard.claim('v1=a')).toBe(false);
    now += 2_000;
    expect(guard.claim('v1=a')).toBe(true);
    guard.release('v1=a');
    expect(guard.claim('v1=a')).toBe(true);
  });
});
