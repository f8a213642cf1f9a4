import { onTestFinished } from 'vitest';
import type { AcceptResult, InboundMessage } from '../../../adapters/adapter.js';
import { DiscordAdapter, type DiscordAdapterOptions } from '../../../adapters/discord/index.js';
import { pino } from 'pino';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from '../../fakes/discord/index.js';

export interface Harness {
  fake: FakeDiscord;
  adapter: DiscordAdapter;
  /** Everything the adapter handed to `accept`, in order. */
  accepted: InboundMessage[];
  /** Every typing signal the adapter handed to `typing`, in order. */
  typingSignals: Array<{ channelId: string; userId: string }>;
  /** Every log record the adapter wrote (debug and up), parsed. */
  logs: Array<Record<string, unknown> & { msg: string; level: number }>;
  /** Aborts the context signal (the gateway's "shutting down"). */
  shutdown: AbortController;
  start(): Promise<void>;
}

/**
 * A real DiscordAdapter (real discord.js client) against the fake, with an `accept` that records what it
 * gets and answers like the gateway would (channel key, pending count, the `typing` setting). It does not
 * batch: batching is the queue's job, tested elsewhere; here we check what the adapter hands over.
 * Teardown destroys the client before closing the fake, as discord.js needs.
 */
export async function discordHarness(
  options: {
    fake?: FakeDiscordOptions;
    /** Adapter options over the defaults; a function when they depend on the fake's ids. */
    adapter?: Partial<DiscordAdapterOptions> | ((fake: FakeDiscord) => Partial<DiscordAdapterOptions>);
    /** The channel's `typing` setting, for every channel or per channel id. @defaultValue true */
    typing?: boolean | ((channelId: string) => boolean);
    windowMs?: number;
  } = {},
): Promise<Harness> {
  const fake = await startFakeDiscord(options.fake);
  const adapter = new DiscordAdapter({
    token: fake.token,
    apiUrl: fake.apiUrl,
    mentionOnly: false,
    channels: [],
    replyToLast: false,
    restRetries: 0,
    restTimeoutMs: 5_000,
    ...(typeof options.adapter === 'function' ? options.adapter(fake) : options.adapter),
  });
  onTestFinished(async () => {
    await adapter.close();
    await fake.close();
  });
  const accepted: InboundMessage[] = [];
  const pending = new Map<string, number>();
  const shutdown = new AbortController();
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const accept = async (msg: InboundMessage): Promise<AcceptResult> => {
    accepted.push(msg);
    const count = (pending.get(msg.channelId) ?? 0) + 1;
    pending.set(msg.channelId, count);
    const windowMs = options.windowMs ?? 5_000;
    return { accepted: true, channelKey: `discord:${msg.channelId}`, id: msg.id, pending: count, deadline: Date.now() + windowMs, typing: typeof options.typing === 'function' ? options.typing(msg.channelId) : (options.typing ?? true) };
  };
  const typingSignals: Harness['typingSignals'] = [];
  const typing = async (channelId: string, userId: string) => {
    typingSignals.push({ channelId, userId });
    return { held: false } as const;
  };
  return {
    fake,
    adapter,
    accepted,
    typingSignals,
    logs,
    shutdown,
    start: () => adapter.start({ accept, typing, logger, signal: shutdown.signal }),
  };
}

/** Polls until `probe()` is truthy (generous default: the machine is shared). */
export async function until<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
