import fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import type { AcceptResult, InboundMessage } from '../../../adapters/adapter.js';
import { SlackAdapter, type SlackAdapterOptions } from '../../../adapters/slack/index.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from '../../fakes/slack/index.js';

/** One log line as pino wrote it. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface SlackHarness {
  fake: FakeSlack;
  adapter: SlackAdapter;
  /** The "gateway" fastify server the adapter's routes live on (HTTP mode; also listening in socket mode). */
  server: FastifyInstance;
  baseUrl: string;
  eventsUrl: string;
  /** Every message handed to `accept`, in order. */
  accepted: InboundMessage[];
  logs: LogLine[];
  /** The accept result's `typing` flag (the channel's setting). */
  typing: boolean;
  /** While set, `accept` waits for this promise before answering (to prove the ack comes first). */
  holdAccept: Promise<void> | undefined;
  shutdown: AbortController;
}

export interface HarnessOptions {
  mode?: 'http' | 'socket';
  fake?: FakeSlackOptions;
  adapter?: Partial<SlackAdapterOptions>;
  typing?: boolean;
  /** Extra routes on the shared server, registered before the adapter's. */
  extraRoutes?: (server: FastifyInstance) => void;
}

/** A SlackAdapter pointed at the fake, with test-sized timeouts; `overrides` win. */
export function slackAdapterFor(fake: FakeSlack, overrides: Partial<SlackAdapterOptions> = {}): SlackAdapter {
  return new SlackAdapter({
    mode: 'http',
    botToken: fake.botToken,
    signingSecret: fake.signingSecret,
    appToken: fake.appToken,
    apiUrl: fake.apiUrl,
    receiptReaction: 'eyes',
    doneReaction: 'white_check_mark',
    requestTimeoutMs: 5_000,
    connectTimeoutMs: 10_000,
    ...overrides,
  });
}

/**
 * A fake Slack, a real fastify server with the adapter's routes, and the adapter started against both,
 * with an `accept` that records what it gets (no queue: the adapter is what is under test). Everything is
 * torn down when the test finishes.
 */
export async function startSlackHarness(options: HarnessOptions = {}): Promise<SlackHarness> {
  const fake = await startFakeSlack(options.fake);
  onTestFinished(() => fake.close());
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });

  const adapter = slackAdapterFor(fake, { mode: options.mode ?? 'http', ...options.adapter });

  const server = fastify();
  options.extraRoutes?.(server);
  await adapter.routes(server);
  await server.listen({ port: 0, host: '127.0.0.1' });
  onTestFinished(() => server.close());
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('fastify has no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const shutdown = new AbortController();
  const h: SlackHarness = {
    fake,
    adapter,
    server,
    baseUrl,
    eventsUrl: `${baseUrl}/slack/events`,
    accepted: [],
    logs,
    typing: options.typing ?? true,
    holdAccept: undefined,
    shutdown,
  };
  fake.eventsUrl = h.eventsUrl;

  const accept = async (msg: InboundMessage): Promise<AcceptResult> => {
    if (h.holdAccept) await h.holdAccept;
    h.accepted.push(msg);
    const pending = h.accepted.filter((m) => m.channelId === msg.channelId).length;
    return { accepted: true, channelKey: `slack:${msg.channelId}`, id: msg.id, pending, deadline: Date.now() + 5_000, typing: h.typing };
  };
  onTestFinished(() => adapter.close());
  await adapter.start({ accept, logger, signal: shutdown.signal });
  return h;
}
