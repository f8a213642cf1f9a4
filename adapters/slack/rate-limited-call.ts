import { setTimeout as sleep } from 'node:timers/promises';
import { webApi } from '@slack/bolt';

/** One Web API method call; resolves the response, rejects with the WebClient's coded error. */
export type SlackCall = (method: string, args: Record<string, unknown>) => Promise<webApi.WebAPICallResult>;

/** Options of {@link callHonouringRateLimit}. */
export interface RateLimitOptions {
  /** How many 429s to wait out before giving up. @defaultValue 5 */
  maxWaits?: number;
  /** Longest single wait; a longer `Retry-After` fails at once rather than holding the channel. @defaultValue 60000 */
  maxWaitMs?: number;
  /** Aborts a wait (the adapter closing). */
  signal?: AbortSignal;
  /** Told about each wait, for the log. */
  onWait?: (retryAfterSec: number, attempt: number) => void;
}

/**
 * Calls a Web API method and, on HTTP 429, waits `Retry-After` seconds and calls again.
 *
 * The WebClient is built with `rejectRateLimitedCalls: true` and no retries of its own: its built-in
 * 429 handling retries through p-retry, which would also re-send on timeouts and 5xx (double posts), and
 * with Slack's default policy keeps retrying for half an hour. Here a wait is explicit, bounded and
 * abortable, and the caller awaits it, so the parts of one reply stay in order.
 */
export async function callHonouringRateLimit(call: SlackCall, method: string, args: Record<string, unknown>, options: RateLimitOptions = {}): Promise<webApi.WebAPICallResult> {
  const maxWaits = options.maxWaits ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(method, args);
    } catch (err) {
      if (!isRateLimited(err) || attempt > maxWaits) throw err;
      const waitMs = Math.max(0, err.retryAfter) * 1000;
      if (waitMs > maxWaitMs) throw err;
      options.onWait?.(err.retryAfter, attempt);
      await sleep(waitMs, undefined, { signal: options.signal });
    }
  }
}

/** True for the WebClient's rate-limit error (HTTP 429 with `Retry-After`). */
export function isRateLimited(err: unknown): err is webApi.WebAPIRateLimitedError {
  return (err as { code?: unknown } | null)?.code === webApi.ErrorCode.RateLimitedError;
}

/** The Slack error string of a platform error (`{ok:false,error}`), e.g. `invalid_auth`. */
export function platformErrorOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; data?: { error?: unknown } } | null;
  return e?.code === webApi.ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}
