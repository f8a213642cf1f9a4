import { webApi } from '@slack/bolt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SlackUserNames } from '../../../adapters/slack/index.js';

/** A users.info stand-in that answers from a table and records who was asked; `fail` makes the next calls throw. */
function directory(names: Record<string, string>) {
  const asked: string[] = [];
  let fail: unknown[] = [];
  return {
    asked,
    failNext: (...errors: unknown[]) => (fail = errors),
    call: async (_method: string, args: Record<string, unknown>) => {
      const user = String(args.user);
      asked.push(user);
      const err = fail.shift();
      if (err) throw err;
      return { ok: true, user: { id: user, name: user.toLowerCase(), profile: { display_name: names[user] ?? '', real_name: `${names[user] || user} (real)` } } };
    },
  };
}

function names(options: { ttlMs?: number; maxEntries?: number; failureTtlMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const dir = directory({ U1: 'Ann', U2: 'Ben', U3: '' });
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const cache = new SlackUserNames({ call: dir.call, logger, now: () => clock.now, ...options });
  return { clock, dir, logs, cache };
}

describe('SlackUserNames (the users.info cache behind resolveNames)', () => {
  it('asks once per user within the TTL, shares a lookup in flight, and asks again after the TTL', async () => {
    const { clock, dir, cache } = names({ ttlMs: 60_000 });
    expect(await Promise.all([cache.nameOf('U1'), cache.nameOf('U1')])).toEqual(['Ann', 'Ann']);
    expect(await cache.nameOf('U1')).toBe('Ann');
    expect(dir.asked).toEqual(['U1']);
    // No display name set: the full name is what Slack shows.
    expect(await cache.nameOf('U3')).toBe('U3 (real)');
    clock.now += 60_001;
    await cache.nameOf('U1');
    expect(dir.asked).toEqual(['U1', 'U3', 'U1']);
  });

  it('holds at most maxEntries names, dropping the oldest', async () => {
    const { dir, cache } = names({ maxEntries: 2 });
    for (const u of ['U1', 'U2', 'U3']) await cache.nameOf(u);
    expect(cache.size).toBe(2);
    await cache.nameOf('U3');
    await cache.nameOf('U1');
    expect(dir.asked).toEqual(['U1', 'U2', 'U3', 'U1']);
  });

  it('after a 429 makes no call until Retry-After has passed, answering null (the id) meanwhile', async () => {
    const { clock, dir, cache, logs } = names();
    dir.failNext(new webApi.WebAPIRateLimitedError(30));
    expect(await cache.nameOf('U1')).toBeNull();
    expect(await cache.nameOf('U2')).toBeNull();
    expect(dir.asked).toEqual(['U1']);
    expect(logs.some((l) => l.retryAfterSec === 30)).toBe(true);
    clock.now += 30_000;
    expect(await cache.nameOf('U2')).toBe('Ben');
  });

  it('a refused lookup is logged once per error and retried for that user only after failureTtlMs', async () => {
    const { clock, dir, cache, logs } = names({ failureTtlMs: 5_000 });
    const missingScope = { code: webApi.ErrorCode.PlatformError, data: { ok: false, error: 'missing_scope' } };
    dir.failNext(missingScope, missingScope);
    expect(await cache.nameOf('U1')).toBeNull();
    expect(await cache.nameOf('U2')).toBeNull();
    expect(await cache.nameOf('U1')).toBeNull();
    expect(dir.asked).toEqual(['U1', 'U2']);
    expect(logs.filter((l) => String(l.msg).includes('missing_scope'))).toHaveLength(1);
    expect(String(logs[0]?.msg)).toContain('users:read');
    clock.now += 5_001;
    expect(await cache.nameOf('U1')).toBe('Ann');
  });
});
