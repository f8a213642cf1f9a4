import { createHmac } from 'node:crypto';

/**
 * Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`, keyed by the app's
 * signing secret. Sent as `X-Slack-Signature` next to `X-Slack-Request-Timestamp` (epoch seconds).
 */
export function signSlackRequest(signingSecret: string, timestampSec: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex')}`;
}

/** Epoch seconds, as Slack writes request timestamps. */
export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
