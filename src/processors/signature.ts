import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header that carries the body signature on inbound webhooks, outbound replies and HTTP processor calls. */
export const SIGNATURE_HEADER = 'x-batchgate-signature';

const PREFIX = 'sha256=';

/** `sha256=<hex HMAC-SHA256(secret, body)>`, the value of {@link SIGNATURE_HEADER}. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * True when `header` is the signature of exactly these body bytes. The compare is constant-time over
 * equal-length buffers, so a caller cannot learn the signature byte by byte from response timing.
 */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith(PREFIX)) return false;
  const expected = Buffer.from(signBody(secret, body), 'utf8');
  const given = Buffer.from(header.trim(), 'utf8');
  // timingSafeEqual throws on different lengths; the length of a hex digest is public anyway.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}
