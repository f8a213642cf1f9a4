import { Client, Events, Options, Partials, Routes, type GatewayIntentBits, type Message, type PartialMessage, type Typing } from 'discord.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../src/config/schema.js';
import { AdapterError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { OutboundMessage } from '../../src/core/model.js';
import type { AdapterContext, MessageEditor, PlatformAdapter } from '../adapter.js';
import { RefusalNotices } from '../refusal-notice.js';
import { DISCORD_PLATFORM, dropReason, normalizeMessage } from './normalize.js';
import { splitMessage } from './split-message.js';
import { discordIntents, discordInviteUrl } from './requirements.js';
import { describeStartError, fatalCloseAdvice } from './start-error.js';
import { TypingIndicator } from './typing.js';
import { RecentKeys } from '../../src/core/recent-keys.js';

/** The `adapters.discord` config section, as parsed. */
export type DiscordAdapterConfig = Pick<GatewayConfig['adapters']['discord'], 'token' | 'apiUrl' | 'mentionOnly' | 'channels' | 'replyToLast'>;

/** Config plus knobs for tests and tuning; the knobs are not part of the config file. */
export interface DiscordAdapterOptions extends DiscordAdapterConfig {
  /** Typing refresh interval. @defaultValue 8000 (Discord's indicator lasts about 10 s) */
  typingIntervalMs?: number;
  /** Start-up fails if the client is not ready within this. @defaultValue 60000 */
  startTimeoutMs?: number;
  /** Retries of a REST request on 5xx or network errors (429s are always waited out). @defaultValue 3 */
  restRetries?: number;
  /** Per-request REST timeout. @defaultValue 15000 */
  restTimeoutMs?: number;
}

/** Message ids remembered to drop a redelivery (a RESUME may replay events the client already saw). */
const RECENT_IDS = 2_000;

/**
 * Replies mention only the users they name: the processor's text often quotes people, and a quoted
 * `@everyone` must not ping a whole server. Replying to a message does not ping its author either.
 */
const ALLOWED_MENTIONS = { parse: ['users'], replied_user: false } as const;

/** A refusal notice pings nobody, not even the author of the message it answers. */
const NO_MENTIONS = { parse: [], replied_user: false } as const;

/**
 * Discord through discord.js 14: receives guild channel, thread and DM messages over the gateway and
 * posts replies through discord.js's REST client, which queues per route and waits out 429s. A refused
 * message gets a notice replying to it (see ../refusal-notice.ts).
 */
export class DiscordAdapter implements PlatformAdapter {
  readonly platform = DISCORD_PLATFORM;
  readonly #options: DiscordAdapterOptions;
  readonly #intents: GatewayIntentBits[];
  readonly #recent = new RecentKeys(RECENT_IDS);
  readonly #stop = new AbortController();
  #client: Client | null = null;
  #ctx: AdapterContext | null = null;
  #log: Logger | null = null;
  #typing: TypingIndicator | null = null;
  #notices: RefusalNotices | null = null;
  #botUserId = '';
  #applicationId = '';
  #connected = false;
  #closing: Promise<void> | null = null;

  constructor(options: DiscordAdapterOptions) {
    this.#options = options;
    this.#intents = discordIntents(options);
  }

  /** The gateway intents this adapter sends in IDENTIFY (Message Content only when `mentionOnly` is off). */
  get intents(): readonly GatewayIntentBits[] {
    return this.#intents;
  }

  /**
   * Once connected: the URL that adds this bot to a server with exactly the permissions the adapter uses
   * (the start-up banner prints it). Empty before start.
   */
  get inviteUrl(): string {
    return this.#applicationId ? discordInviteUrl(this.#applicationId) : '';
  }

  /** The REST base discord.js appends `/v10/...` to: `apiUrl` without a trailing slash or version. */
  get apiBase(): string {
    const url = this.#options.apiUrl.trim();
    return url ? url.replace(/\/+$/, '').replace(/\/v\d+$/, '') : 'https://discord.com/api';
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.#client || this.#closing) throw new AdapterError(DISCORD_PLATFORM, 'start() may be called once, before close()');
    const log = ctx.logger.child({ component: 'discord' });
    this.#ctx = ctx;
    this.#log = log;
    if (!this.#options.token.trim()) {
      throw new AdapterError(DISCORD_PLATFORM, 'no bot token: set adapters.discord.token (or DISCORD_TOKEN) to the token from the Developer Portal → your application → Bot');
    }
    const client = new Client({
      intents: this.#intents,
      // DMs arrive for channels the cache has never seen; Partials.Channel lets discord.js build them.
      // Partials.Message: edits and deletes of messages no longer (or never) in the small message cache
      // still reach us (discord.js drops MESSAGE_UPDATE / MESSAGE_DELETE of uncached messages otherwise).
      partials: [Partials.Channel, Partials.Message],
      rest: {
        api: this.apiBase,
        retries: this.#options.restRetries ?? 3,
        timeout: this.#options.restTimeoutMs ?? 15_000,
      },
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 25 }),
    });
    this.#client = client;
    this.#notices = new RefusalNotices({ logger: log });
    this.#typing = new TypingIndicator({
      send: (channelId) => client.rest.post(Routes.channelTyping(channelId)).then(() => undefined),
      logger: log,
      intervalMs: this.#options.typingIntervalMs,
    });

    let closeCode: number | null = null;
    this.#wire(client, log, (code) => (closeCode = code));
    try {
      await this.#login(client, ctx.signal);
    } catch (err) {
      this.#connected = false;
      this.#botUserId = '';
      await client.destroy().catch(() => undefined);
      throw describeStartError(err, { apiBase: this.apiBase, closeCode, intents: this.#intents });
    }
    this.#connected = true;
    this.#applicationId = client.application?.id ?? this.#botUserId;
    log.info({ botUserId: this.#botUserId, username: client.user?.username, guilds: client.guilds.cache.size, inviteUrl: this.inviteUrl }, 'discord connected');
  }

  async send(reply: OutboundMessage): Promise<void> {
    const client = this.#client;
    if (!client || this.#closing) throw new AdapterError(DISCORD_PLATFORM, 'send() needs a started adapter that is not closed');
    const channelId = reply.threadId || reply.channelId;
    // Discord rejects empty and whitespace-only content (400, code 50006).
    const pieces = splitMessage(reply.text).filter((p) => p.trim() !== '');
    if (pieces.length === 0) {
      this.#log?.warn({ channelId, batchId: reply.batchId }, 'discord reply is empty; nothing posted');
      return;
    }
    const replyTo = reply.replyTo ?? (this.#options.replyToLast ? reply.inReplyTo.at(-1) : undefined);
    for (const [i, content] of pieces.entries()) {
      const body: Record<string, unknown> = { content, allowed_mentions: ALLOWED_MENTIONS };
      // Only the first piece answers the message; the rest read as its continuation.
      if (i === 0 && replyTo) body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
      try {
        await client.rest.post(Routes.channelMessages(channelId), { body });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new AdapterError(DISCORD_PLATFORM, `could not post to channel ${channelId} (part ${i + 1} of ${pieces.length}): ${message}`, err);
      }
      this.#typing?.replied(channelId);
    }
  }

  /**
   * Streamed replies: one message, then `PATCH /channels/:id/messages/:id` edits (the gateway spaces them a
   * second apart; Discord allows 5 per 5 s per channel, and discord.js's REST queue waits out 429s).
   */
  readonly editor: MessageEditor = {
    maxLength: 2_000,
    minEditIntervalMs: 1_000,
    post: async (reply) => {
      const client = this.#requireClient();
      const channelId = reply.threadId || reply.channelId;
      const body: Record<string, unknown> = { content: reply.text, allowed_mentions: ALLOWED_MENTIONS };
      const replyTo = reply.replyTo ?? (this.#options.replyToLast ? reply.inReplyTo.at(-1) : undefined);
      if (replyTo) body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
      const posted = (await client.rest.post(Routes.channelMessages(channelId), { body })) as { id: string };
      this.#typing?.replied(channelId);
      return posted.id;
    },
    edit: async (messageId, reply) => {
      const client = this.#requireClient();
      await client.rest.patch(Routes.channelMessage(reply.threadId || reply.channelId, messageId), { body: { content: reply.text, allowed_mentions: ALLOWED_MENTIONS } });
    },
  };

  #requireClient(): Client {
    const client = this.#client;
    if (!client || this.#closing) throw new AdapterError(DISCORD_PLATFORM, 'editing needs a started adapter that is not closed');
    return client;
  }

  async typing(channelId: string): Promise<void> {
    const client = this.#client;
    if (!client || this.#closing) return;
    await client.rest.post(Routes.channelTyping(channelId));
  }

  onQueueEvent(event: QueueEvent): void {
    this.#typing?.onQueueEvent(event);
  }

  ready(): boolean {
    return this.#connected && !this.#closing;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      this.#connected = false;
      this.#typing?.close();
      // destroy() closes the socket itself; the shard would otherwise reconnect after any server close.
      await this.#client?.destroy().catch((err: unknown) => this.#log?.warn({ err }, 'discord client destroy failed'));
      this.#client?.removeAllListeners();
    })();
    return this.#closing;
  }

  /** Logs in and waits for `clientReady` (all guilds received), or the first reason it will never come. */
  #login(client: Client, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.#options.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        reject(new AdapterError(DISCORD_PLATFORM, `not ready after ${timeoutMs} ms: the gateway handshake (API at ${this.apiBase}) did not complete; check the network or proxy`));
      }, timeoutMs);
      const aborted = (): void => reject(new AdapterError(DISCORD_PLATFORM, 'start-up aborted: the gateway is shutting down'));
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        this.#stop.signal.removeEventListener('abort', aborted);
      };
      if (signal.aborted || this.#stop.signal.aborted) {
        done();
        aborted();
        return;
      }
      signal.addEventListener('abort', aborted, { once: true });
      this.#stop.signal.addEventListener('abort', aborted, { once: true });
      // Listen before login(): clientReady can fire before login() resolves.
      client.once(Events.ClientReady, (ready) => {
        // Set before any MESSAGE_CREATE queued during start-up is replayed, so loop protection knows us.
        this.#botUserId = ready.user.id;
        done();
        resolve();
      });
      client.login(this.#options.token.trim()).catch((err: unknown) => {
        done();
        reject(err);
      });
    });
  }

  #wire(client: Client, log: Logger, onCloseCode: (code: number) => void): void {
    client.on(Events.MessageCreate, (message) => this.#onMessage(message));
    client.on(Events.MessageUpdate, (before, after) => this.#onEdit(before, after));
    client.on(Events.MessageDelete, (message) => this.#onChange(message.channelId, message.id, null));
    client.on(Events.MessageBulkDelete, (messages) => {
      for (const message of messages.values()) this.#onChange(message.channelId, message.id, null);
    });
    client.on(Events.TypingStart, (typing) => this.#onTyping(typing));
    client.on(Events.Error, (err) => log.error({ err }, 'discord client error'));
    client.on(Events.Warn, (warning) => log.warn({ warning }, 'discord client warning'));
    client.on(Events.ShardError, (err) => log.warn({ err }, 'discord gateway connection error'));
    client.on(Events.ShardReconnecting, () => {
      this.#connected = false;
      log.info('discord gateway reconnecting');
    });
    client.on(Events.ShardResume, (_id, replayed) => {
      this.#connected = !this.#closing;
      log.info({ replayed }, 'discord gateway resumed');
    });
    client.on(Events.ShardReady, () => {
      this.#connected = !this.#closing && client.isReady();
    });
    client.on(Events.ShardDisconnect, ({ code }) => {
      onCloseCode(code);
      this.#connected = false;
      // Only fatal codes arrive here after start-up (discord.js stops reconnecting), so the operator must act.
      if (this.#botUserId) log.error({ code }, fatalCloseAdvice(code, this.#intents) ?? `discord gateway closed for good (code ${code})`);
    });
    client.rest.on('rateLimited', (info) => {
      log.warn({ route: info.route, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'discord rate limit; discord.js waits and retries');
    });
    if (log.isLevelEnabled('trace')) client.on(Events.Debug, (message) => log.trace({ message }, 'discord.js debug'));
  }

  /**
   * Answers a refused message in its channel. Through discord.js's REST client like replies (it queues per
   * route and waits out 429s); `#stop` aborts a post still queued or waiting when the adapter closes.
   */
  #postNotice(message: Message, text: string): Promise<unknown> {
    const client = this.#client;
    if (!client || this.#closing) return Promise.resolve();
    const body = { content: text, allowed_mentions: NO_MENTIONS, message_reference: { message_id: message.id, fail_if_not_exists: false } };
    return client.rest.post(Routes.channelMessages(message.channelId), { body, signal: this.#stop.signal });
  }

  /**
   * TYPING_START: Discord sends it when a person starts typing and again about every 9 s while they keep
   * going (the indicator lasts 10 s). The bot's own typing comes back too and must never hold a window;
   * other bots' typing could not hold one (their messages are never taken), so it is dropped here. No
   * channel filter: typing only holds a batch the person already has open, and only allowed messages open one.
   */
  #onTyping(typing: Typing): void {
    const ctx = this.#ctx;
    if (!ctx?.typing || this.#closing || !this.#botUserId || ctx.signal.aborted) return;
    if (typing.user.id === this.#botUserId || typing.user.bot) return;
    const channelId = typing.channel.id;
    ctx
      .typing(channelId, typing.user.id)
      .then((result) => this.#log?.debug({ channelId, userId: typing.user.id, held: result.held }, 'discord typing signal'))
      .catch((err: unknown) => this.#log?.warn({ err, channelId }, 'discord typing hand-off failed'));
  }

  #onMessage(message: Message): void {
    const ctx = this.#ctx;
    const log = this.#log;
    // After the shutdown signal nothing new is taken; replies to what was taken still go out until close().
    if (!ctx || !log || this.#closing || !this.#botUserId || ctx.signal.aborted) return;
    const reason = dropReason(message, {
      botUserId: this.#botUserId,
      mentionOnly: this.#options.mentionOnly,
      channels: this.#options.channels,
    });
    if (reason) {
      log.debug({ messageId: message.id, channelId: message.channelId, reason }, 'discord message ignored');
      return;
    }
    if (!this.#recent.addIfNew(message.id)) return;

    const inbound = normalizeMessage(message, this.#botUserId);
    ctx
      .accept(inbound)
      .then((result) => {
        if (result.accepted) {
          this.#typing?.accepted(inbound.channelId, result);
          return;
        }
        const notice = this.#notices?.notify(message.channelId, result.reason, (text) => this.#postNotice(message, text));
        log.info({ messageId: message.id, channelId: inbound.channelId, reason: result.reason, detail: result.detail, notice }, 'discord message not accepted');
      })
      .catch((err: unknown) => log.error({ err, messageId: message.id }, 'discord message hand-off failed'));
  }

  /** MESSAGE_UPDATE: a changed text reaches the engine; embed unfurls and pins (same text) do not. */
  #onEdit(before: Message | PartialMessage, after: Message | PartialMessage): void {
    const bot = this.#botUserId;
    if (!bot || typeof after.content !== 'string' || after.author === null || after.author.id === bot) return;
    if (!before.partial && before.content === after.content) return;
    const text = normalizeMessage(after as Message, bot).text;
    this.#onChange(after.channelId, after.id, text, { userId: after.author.id, userName: after.author.username });
  }

  #onChange(channelId: string, messageId: string, text: string | null, author?: { userId: string; userName: string }): void {
    const ctx = this.#ctx;
    if (!ctx?.change || this.#closing || ctx.signal.aborted) return;
    ctx
      .change(channelId, messageId, text, author)
      .then((outcome) => this.#log?.debug({ channelId, messageId, edit: text !== null, applied: outcome.applied }, 'discord message changed'))
      .catch((err: unknown) => this.#log?.error({ err, messageId }, 'discord message change hand-off failed'));
  }
}
