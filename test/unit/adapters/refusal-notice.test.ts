import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RefusalNotices, refusalNoticeText, type RefusalReason } from '../../../adapters/refusal-notice.js';
import { ErrorCode } from '../../../src/errors.js';

type LogRecord = Record<string, unknown> & { msg: string; level: number };

function notices(options: { intervalMs?: number; maxChannels?: number } = {}) {
  const logs: LogRecord[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) });
  let now = 1_000;
  const posted: Array<[string, string]> = [];
  const n = new RefusalNotices({ logger, now: () => now, ...options });
  return {
    logs,
    posted,
    advance: (ms: number) => void (now += ms),
    notify: (channelId: string, reason: RefusalReason = ErrorCode.QueueFull) =>
      n.notify(channelId, reason, async (text) => void posted.push([channelId, text])),
    raw: n,
  };
}

describe('refusal notices', () => {
  it('say what happened, why and what to do for queue full, shutting down and unavailable; nothing for duplicate or invalid', () => {
    expect(refusalNoticeText(ErrorCode.QueueFull)).toMatch(/^⚠️ Your message was not taken: this channel's queue is full\. Please send it again/);
    expect(refusalNoticeText(ErrorCode.ShuttingDown)).toMatch(/not taken: the bot is restarting\. Please send it again/);
    expect(refusalNoticeText(ErrorCode.Unavailable)).toMatch(/not taken: the bot cannot store messages right now\. Please send it again/);
    expect(refusalNoticeText(ErrorCode.Duplicate)).toBeUndefined();
    expect(refusalNoticeText(ErrorCode.InvalidMessage)).toBeUndefined();
    const n = notices();
    expect([n.notify('a', ErrorCode.Duplicate), n.notify('a', ErrorCode.InvalidMessage)]).toEqual(['none', 'none']);
    expect(n.posted).toEqual([]);
  });

  it('posts at most once per channel per interval; other channels are not held back', () => {
    const n = notices({ intervalMs: 10_000 });
    expect(n.notify('a')).toBe('posting');
    expect(n.notify('a', ErrorCode.Unavailable)).toBe('throttled');
    expect(n.notify('b')).toBe('posting');
    n.advance(9_999);
    expect(n.notify('a')).toBe('throttled');
    n.advance(1);
    expect(n.notify('a')).toBe('posting');
    expect(n.posted.map(([c]) => c)).toEqual(['a', 'b', 'a']);
  });

  it('remembers a bounded number of channels: past it the oldest may be told again', () => {
    const n = notices({ maxChannels: 2 });
    for (const c of ['a', 'b', 'c']) expect(n.notify(c)).toBe('posting');
    expect(n.notify('c')).toBe('throttled');
    expect(n.notify('a')).toBe('posting');
  });

  it('a post that rejects or throws is logged as a warning and never reaches the caller', async () => {
    const n = notices();
    expect(n.raw.notify('a', ErrorCode.QueueFull, () => Promise.reject(new Error('403 Missing Permissions')))).toBe('posting');
    expect(
      n.raw.notify('b', ErrorCode.QueueFull, () => {
        throw new Error('client gone');
      }),
    ).toBe('posting');
    await new Promise((r) => setImmediate(r));
    expect(n.logs.map((l) => [l.level, l.msg, l.channelId, (l.err as { message: string }).message])).toEqual([
      [40, 'refusal notice could not be posted', 'b', 'client gone'],
      [40, 'refusal notice could not be posted', 'a', '403 Missing Permissions'],
    ]);
  });
});
