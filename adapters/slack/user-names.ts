import type { Logger } from 'pino';
import { isRateLimited, platformErrorOf } from './rate-limited-call.js';
import type { SlackMethod } from './requirements.js';
import type { webApi } from '@slack/bolt';

/** Options of {@link SlackUserNames}. */
export interface SlackUserNamesOptions {
  /** Calls a Web API method (the adapter's client). */
  call: (method: SlackMethod, args: Record<string, unknown>) => Promise<webApi.WebAPICallResult>;
  logger: Logger;
  /** How long a name is trusted; people rename themselves. @defaultValue 3600000 (1 h) */
  ttlMs?: number;
  /** Names kept at most, oldest dropped first. @defaultValue 10000 */
  maxEntries?: number;
  /** How long a failed lookup is not retried for that user. @defaultValue 60000 */
  failureTtlMs?: number;
  now?: () => number;
}

interface Entry {
  /** The display name, or null when the lookup failed (the caller falls back to the id). */
  name: string | null;
  expiresAt: number;
}

/**
 * Display names from `users.info`, for the batch's `userName` (an LLM reading `U07ABC…` learns nothing).
 * One call per user per TTL: answers are cached (bounded, oldest out), concurrent lookups of one user share
 * one call, and failures are remembered briefly so a missing scope does not cost a call per message.
 * Rate-limit aware without delaying messages: after a 429 no call is made until its `Retry-After` has
 * passed, and names that are not known meanwhile fall back to the user id.
 */
export class SlackUserNames {
  readonly #opts: SlackUserNamesOptions;
  readonly #cache = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string | null>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #failureTtlMs: number;
  readonly #now: () => number;
  #blockedUntil = 0;
  readonly #warned = new Set<string>();

  constructor(options: SlackUserNamesOptions) {
    this.#opts = options;
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#failureTtlMs = options.failureTtlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** The user's display name, or null when it cannot be had now (the caller shows the id). Never rejects. */
  async nameOf(userId: string): Promise<string | null> {
    const now = this.#now();
    const cached = this.#cache.get(userId);
    if (cached && cached.expiresAt > now) return cached.name;
    if (now < this.#blockedUntil) return cached?.name ?? null;
    const pending = this.#inFlight.get(userId);
    if (pending) return pending;
    const lookup = this.#lookup(userId).finally(() => this.#inFlight.delete(userId));
    this.#inFlight.set(userId, lookup);
    return lookup;
  }

  /** Names held (tests, metrics). */
  get size(): number {
    return this.#cache.size;
  }

  async #lookup(userId: string): Promise<string | null> {
    try {
      const res = (await this.#opts.call('users.info', { user: userId })) as { user?: SlackUser };
      const name = displayName(res.user);
      this.#remember(userId, name, this.#ttlMs);
      return name;
    } catch (err) {
      if (isRateLimited(err)) {
        this.#blockedUntil = this.#now() + Math.max(1, err.retryAfter) * 1000;
        this.#opts.logger.warn({ retryAfterSec: err.retryAfter }, 'slack users.info rate limited; names fall back to user ids until Retry-After has passed');
        return null;
      }
      const code = platformErrorOf(err) ?? (err instanceof Error ? err.message : String(err));
      if (!this.#warned.has(code)) {
        this.#warned.add(code);
        const hint = code === 'missing_scope' ? ': add the users:read bot scope and reinstall the app, or set resolveNames: false' : '';
        this.#opts.logger.warn({ error: code }, `slack users.info failed (${code}); names fall back to user ids${hint}`);
      }
      this.#remember(userId, null, this.#failureTtlMs);
      return null;
    }
  }

  #remember(userId: string, name: string | null, ttlMs: number): void {
    this.#cache.delete(userId);
    this.#cache.set(userId, { name, expiresAt: this.#now() + ttlMs });
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }
}

interface SlackUser {
  name?: string;
  real_name?: string;
  profile?: { display_name?: string; real_name?: string };
}

/** What Slack shows: the display name if set, else the full name, else the handle. */
function displayName(user: SlackUser | undefined): string | null {
  return user?.profile?.display_name || user?.profile?.real_name || user?.real_name || user?.name || null;
}
