import { createHmac, timingSafeEqual } from 'node:crypto';
import { RecentKeys } from '../core/recent-keys.js';

/**
 * Signatures v1, one scheme for the three signed paths: webhook inbound, webhook replies and the HTTP
 * processor's requests. The signed string binds the body to a time, so a captured request stops
 * verifying after {@link SIGNATURE_TOLERANCE_S}, and a receiver that remembers signatures for that long
 * refuses replays.
 */

/** `v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`. */
export const SIGNATURE_HEADER = 'x-batchgate-signature';
/** Unix seconds at signing. */
export const TIMESTAMP_HEADER = 'x-batchgate-timestamp';
/** How far a timestamp may be from the receiver's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;

const VERSION = 'v1';

/** The {@link SIGNATURE_HEADER} value for `body` signed at `timestamp` (unix seconds). */
export function signatureOf(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret).update(`${VERSION}:${timestamp}:`).update(body).digest('hex');
  return `${VERSION}=${mac}`;
}

/** Both headers for a request whose body is `body`, signed now. Sign again for every try: the time moves. */
export function signatureHeaders(secret: string, body: string | Uint8Array, nowMs: number = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1_000);
  return { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signatureOf(secret, timestamp, body) };
}

/** Why a signed request was refused: `signature` (missing or not matching) or `timestamp` (missing, malformed or stale). */
export type SignatureProblem = { reason: 'signature' | 'timestamp'; message: string };

export type SignatureCheck = { ok: true; signature: string; timestamp: number } | ({ ok: false } & SignatureProblem);

const HEX_V1 = /^v1=[0-9a-f]{64}$/;

/**
 * Checks a request's two headers against the exact body bytes. The header may list several `v1=`
 * values separated by commas (while a secret is rotated); one match is enough. Compares in constant
 * time, so the signature cannot be learned byte by byte from response timing.
 */
export function verifySignature(
  secret: string,
  body: string | Uint8Array,
  headers: { signature: string | string[] | undefined; timestamp: string | string[] | undefined },
  nowMs: number = Date.now(),
): SignatureCheck {
  const sigHeader = headers.signature;
  if (typeof sigHeader !== 'string' || sigHeader.trim() === '') {
    return { ok: false, reason: 'signature', message: `${SIGNATURE_HEADER} missing: sign as v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>` };
  }
  const ts = headers.timestamp;
  if (typeof ts !== 'string' || !/^\d{1,12}$/.test(ts.trim())) {
    return {
      ok: false,
      reason: 'timestamp',
      message: `${TIMESTAMP_HEADER} ${ts === undefined ? 'missing' : 'is not unix seconds'}: send the signing time in unix seconds with the signature`,
    };
  }
  const timestamp = Number(ts.trim());
  const skewS = Math.abs(nowMs / 1_000 - timestamp);
  if (skewS > SIGNATURE_TOLERANCE_S) {
    return {
      ok: false,
      reason: 'timestamp',
      message: `${TIMESTAMP_HEADER} ${timestamp} is ${Math.round(skewS)} s away from the gateway's clock (tolerance ${SIGNATURE_TOLERANCE_S} s): sign each request when it is sent, and keep the clocks in sync`,
    };
  }
  const expected = Buffer.from(signatureOf(secret, timestamp, body), 'utf8');
  for (const part of sigHeader.split(',')) {
    const given = part.trim();
    // timingSafeEqual throws on different lengths; the shape of a hex digest is public anyway.
    if (!HEX_V1.test(given)) continue;
    const bytes = Buffer.from(given, 'utf8');
    if (bytes.length === expected.length && timingSafeEqual(bytes, expected)) return { ok: true, signature: given, timestamp };
  }
  return { ok: false, reason: 'signature', message: `${SIGNATURE_HEADER} does not match the body: sign the exact bytes as v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>` };
}

/**
 * The signatures accepted in the last two tolerances (a timestamp may be up to one tolerance ahead of
 * the clock, so a signature can verify for that long), in bounded memory. Only verified signatures are
 * recorded, so filling it takes the secret.
 */
export class SignatureReplayGuard {
  private readonly seen: RecentKeys;

  constructor(capacity = 100_000, now: () => number = Date.now) {
    this.seen = new RecentKeys(capacity, 2 * SIGNATURE_TOLERANCE_S * 1_000, now);
  }

  /** Records `signature`; false when it was already seen (a replay). Check and record are one step. */
  claim(signature: string): boolean {
    return this.seen.addIfNew(signature);
  }

  /** Forgets `signature`, so a sender may retry a request the gateway turned away (queue full, shutting down). */
  release(signature: string): void {
    this.seen.delete(signature);
  }
}
