import { autoRetry } from '@grammyjs/auto-retry';
import type { FastifyInstance } from 'fastify';
import { Bot, GrammyError } from 'grammy';
import type { Message, Update } from 'grammy/types';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../src/config/schema.js';
import { AdapterError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { OutboundMessage } from '../../src/core/model.js';
import { RecentKeys } from '../../src/core/recent-keys.js';
import type { AdapterContext, MessageEditor, PlatformAdapter } from '../adapter.js';
import { RefusalNotices } from '../refusal-notice.js';
import { splitText } from '../split-text.js';
import { TypingIndicator } from '../typing-indicator.js';
import { TELEGRAM_PLATFORM, TELEGRAM_TEXT_LIMIT, dropReason, normalizeMessage, parseChannelId, targetOf, type TelegramTarget } from './normalize.js';
import { registerWebhookRoute, TELEGRAM_WEBHOOK_PATH } from './webhook-route.js';

/** The `adapters.telegram` config section, as parsed. */
export type TelegramAdapterConfig = Pick<GatewayConfig['adapters']['telegram'], 'token' | 'mode' | 'webhookSecret' | 'webhookUrl' | 'apiUrl'>;

/** Config plus knobs for tests and tuning; the knobs are not part of the config file. */
export interface TelegramAdapterOptions extends TelegramAdapterConfig {
  /** An album's batch stays open until no item came for this long (capped by maxWaitMs). @defaultValue 2000 */
  mediaGroupQuietMs?: number;
  /** Typing refresh: Telegram shows a chat action for 5 s, or until the bot posts. @defaultValue 4000 */
  typingIntervalMs?: number;
  /** Long-polling `timeout` of getUpdates, in seconds. @defaultValue 30 */
  pollTimeoutSec?: number;
  /** Start-up fails when getMe has not answered within this. @defaultValue 30000 */
  startTimeoutMs?: number;
}

/**
 * Least time between two edits of one streamed reply. Telegram answers bursts of edits with 429s (about one
 * message a second per chat, 20 a minute in a group); 1.5 s keeps a single stream well inside that.
 */
export const TELEGRAM_EDIT_INTERVAL_MS = 1_500;

/** Update and message ids remembered to drop a redelivery (a webhook retry, a poll repeated after a crash). */
const RECENT_IDS = 5_000;

/** What the adapter counted since start. */
export interface TelegramStats {
  /** Edits of sent messages, ignored until the engine can apply edits. */
  editsIgnored: number;
  duplicates: number;
}

/**
 * Telegram through grammY: long polling (getUpdates) or a webhook on the gateway's server, private chats,
 * groups and forum topics as channels (`chatId`, `chatId/threadId`). The items of an album (one
 * `media_group_id`) are held in one batch until the album is quiet for `mediaGroupQuietMs`; typing is
 * `sendChatAction` while a batch collects or runs; replies are split at 4096 characters; every Bot API call
 * waits out a 429's `retry_after` (@grammyjs/auto-retry). A refused message gets a notice replying to it.
 * Streamed replies are one sendMessage, then editMessageText of it.
 */
export class TelegramAdapter implements PlatformAdapter {
  readonly platform = TELEGRAM_PLATFORM;
  readonly #options: TelegramAdapterOptions;
  readonly #recent = new RecentKeys(RECENT_IDS);
  readonly #stop = new AbortController();
  readonly #stats: TelegramStats = { editsIgnored: 0, duplicates: 0 };
  #bot: Bot | null = null;
  #ctx: AdapterContext | null = null;
  #log: Logger | null = null;
  #typing: TypingIndicator | null = null;
  #notices: RefusalNotices | null = null;
  #botId = 0;
  #connected = false;
  #polling: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: TelegramAdapterOptions) {
    this.#options = options;
  }

  /** grammY's API root: `apiUrl` without a trailing slash, or the real Bot API. */
  get apiRoot(): string {
    return this.#options.apiUrl.trim().replace(/\/+$/, '') || 'https://api.telegram.org';
  }

  routes(app: FastifyInstance): void {
    if (this.#options.mode !== 'webhook') return;
    registerWebhookRoute(app, { secret: this.#options.webhookSecret, onUpdate: (update) => this.#onUpdate(update), ready: () => this.ready(), logger: () => this.#log ?? undefined });
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.#bot || this.#closing) throw new AdapterError(TELEGRAM_PLATFORM, 'start() may be called once, before close()');
    const log = ctx.logger.child({ component: 'telegram' });
    this.#ctx = ctx;
    this.#log = log;
    const token = this.#options.token.trim();
    if (!token) throw new AdapterError(TELEGRAM_PLATFORM, 'no bot token: set adapters.telegram.token (or TELEGRAM_BOT_TOKEN) to the token @BotFather gave you');
    const bot = new Bot(token, { client: { apiRoot: this.apiRoot } });
    // Waits out `retry_after` on every call; network errors fail the call (the reply is counted failed) rather than retry forever.
    bot.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 300, rethrowHttpErrors: true }));
    this.#bot = bot;
    this.#notices = new RefusalNotices({ logger: log });
    this.#typing = new TypingIndicator({
      platform: TELEGRAM_PLATFORM,
      logger: log,
      intervalMs: this.#options.typingIntervalMs ?? 4_000,
      send: (channelId) => this.typing(channelId),
    });
    bot.use((c) => this.#onUpdate(c.update));
    bot.catch((err) => log.error({ err: err.error, updateId: err.ctx.update.update_id }, 'telegram update handling failed'));

    const me = await this.#getMe(bot, ctx.signal);
    bot.botInfo = me;
    this.#botId = me.id;
    if (this.#options.mode === 'webhook') await this.#startWebhook(bot);
    else await this.#startPolling(bot);
    this.#connected = true;
    log.info({ botId: me.id, username: me.username, mode: this.#options.mode, canReadAllGroupMessages: me.can_read_all_group_messages }, 'telegram connected');
  }

  async send(reply: OutboundMessage): Promise<void> {
    const target = this.#targetOf(reply);
    const pieces = splitText(reply.text, TELEGRAM_TEXT_LIMIT).filter((p) => p.trim() !== '');
    if (pieces.length === 0) {
      this.#log?.warn({ channelId: reply.channelId, batchId: reply.batchId }, 'telegram reply is empty; nothing posted');
      return;
    }
    const replyTo = reply.replyTo === undefined ? undefined : Number(reply.replyTo);
    for (const [i, text] of pieces.entries()) {
      try {
        // Only the first piece answers the message; the rest read as its continuation.
        await this.#post(target, text, i === 0 ? replyTo : undefined);
      } catch (err) {
        throw new AdapterError(TELEGRAM_PLATFORM, `could not post to chat ${reply.channelId} (part ${i + 1} of ${pieces.length}): ${describe(err)}`, err);
      }
      this.#typing?.replied(reply.channelId);
    }
  }

  /**
   * Streamed replies: sendMessage (into the topic, answering `replyTo`), then editMessageText of that
   * message, at most every {@link TELEGRAM_EDIT_INTERVAL_MS}; 429s are waited out like sends. Telegram
   * refuses an edit that changes nothing ("message is not modified"): that edit already shows, so it is
   * taken as done.
   */
  readonly editor: MessageEditor = {
    maxLength: TELEGRAM_TEXT_LIMIT,
    minEditIntervalMs: TELEGRAM_EDIT_INTERVAL_MS,
    post: async (reply) => {
      const target = this.#targetOf(reply);
      const replyTo = reply.replyTo === undefined ? undefined : Number(reply.replyTo);
      try {
        const posted = await this.#post(target, reply.text, replyTo);
        this.#typing?.replied(reply.channelId);
        return String(posted.message_id);
      } catch (err) {
        throw new AdapterError(TELEGRAM_PLATFORM, `could not post to chat ${reply.channelId}: ${describe(err)}`, err);
      }
    },
    edit: async (messageId, reply) => {
      const { chatId } = this.#targetOf(reply);
      try {
        await this.#bot!.api.editMessageText(chatId, Number(messageId), reply.text, {}, grammySignal(this.#stop.signal));
      } catch (err) {
        if (err instanceof GrammyError && err.error_code === 400 && err.description.includes('message is not modified')) return;
        throw new AdapterError(TELEGRAM_PLATFORM, `could not edit message ${messageId} in chat ${reply.channelId}: ${describe(err)}`, err);
      }
    },
  };

  async typing(channelId: string): Promise<void> {
    const bot = this.#bot;
    const target = parseChannelId(channelId);
    if (!bot || this.#closing || !target) return;
    const other = target.threadId === undefined ? {} : { message_thread_id: target.threadId };
    await bot.api.sendChatAction(target.chatId, 'typing', other, grammySignal(this.#stop.signal));
  }

  onQueueEvent(event: QueueEvent): void {
    this.#typing?.onQueueEvent(event);
  }

  ready(): boolean {
    return this.#connected && !this.#closing;
  }

  stats(): TelegramStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#connected = false;
      this.#stop.abort();
      this.#typing?.close();
      const bot = this.#bot;
      // stop() confirms the updates taken so far (one last getUpdates with the next offset).
      if (bot?.isRunning()) await bot.stop().catch((err: unknown) => this.#log?.warn({ err }, 'telegram polling stop failed'));
      await this.#polling;
    })();
    return this.#closing;
  }

  /** One getMe, bounded by `startTimeoutMs` and the shutdown signal: grammY's own init retries network errors forever. */
  async #getMe(bot: Bot, signal: AbortSignal) {
    const timeoutMs = this.#options.startTimeoutMs ?? 30_000;
    const bound = AbortSignal.any([signal, this.#stop.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      return await bot.api.getMe(grammySignal(bound));
    } catch (err) {
      if (err instanceof GrammyError && err.error_code === 401) {
        throw new AdapterError(TELEGRAM_PLATFORM, 'Telegram refused the bot token (401): copy it again from @BotFather (/token) into adapters.telegram.token', err);
      }
      const why = bound.aborted && !signal.aborted ? `no answer within ${timeoutMs} ms` : describe(err);
      throw new AdapterError(TELEGRAM_PLATFORM, `getMe at ${this.apiRoot} failed: ${why}; check the network, proxy or adapters.telegram.apiUrl`, err);
    }
  }

  async #startPolling(bot: Bot): Promise<void> {
    const log = this.#log!;
    await new Promise<void>((resolve, reject) => {
      const run = bot.start({
        // Also clears a webhook left from webhook mode: Telegram serves getUpdates only without one.
        allowed_updates: ['message', 'edited_message'],
        timeout: this.#options.pollTimeoutSec ?? 30,
        onStart: () => resolve(),
      });
      this.#polling = run.then(
        () => undefined,
        (err: unknown) => {
          const wasConnected = this.#connected;
          this.#connected = false;
          if (!wasConnected) {
            reject(new AdapterError(TELEGRAM_PLATFORM, `long polling could not start: ${describe(err)}`, err));
            return;
          }
          // 409: another process polls with this token, or a webhook was set meanwhile.
          log.error({ err }, `telegram long polling stopped: ${describe(err)}`);
        },
      );
    });
  }

  async #startWebhook(bot: Bot): Promise<void> {
    const url = this.#options.webhookUrl.trim();
    if (!url) {
      this.#log!.info({ path: TELEGRAM_WEBHOOK_PATH }, 'telegram webhook mode without webhookUrl: register the public URL of this route with setWebhook (and the same secret_token)');
      return;
    }
    try {
      await bot.api.setWebhook(url, { secret_token: this.#options.webhookSecret, allowed_updates: ['message', 'edited_message'] }, grammySignal(this.#stop.signal));
    } catch (err) {
      throw new AdapterError(TELEGRAM_PLATFORM, `setWebhook ${url} failed: ${describe(err)}`, err);
    }
  }

  /** Where a reply goes: its channel, or the topic a processor named in `threadId`. */
  #targetOf(reply: OutboundMessage): TelegramTarget {
    if (!this.#bot || this.#closing) throw new AdapterError(TELEGRAM_PLATFORM, 'send() needs a started adapter that is not closed');
    const target = parseChannelId(reply.channelId);
    if (!target) throw new AdapterError(TELEGRAM_PLATFORM, `"${reply.channelId}" is not a Telegram channel id (chatId or chatId/topicId)`);
    if (reply.threadId !== undefined && /^\d+$/.test(reply.threadId)) target.threadId = Number(reply.threadId);
    return target;
  }

  /** One sendMessage, plain text (no parse_mode: a processor's `*` or `<` must not be read as markup). */
  #post(target: TelegramTarget, text: string, replyTo?: number): Promise<Message.TextMessage> {
    const other: Record<string, unknown> = {};
    if (target.threadId !== undefined) other.message_thread_id = target.threadId;
    if (replyTo !== undefined && Number.isSafeInteger(replyTo)) other.reply_parameters = { message_id: replyTo, allow_sending_without_reply: true };
    return this.#bot!.api.sendMessage(target.chatId, text, other, grammySignal(this.#stop.signal));
  }

  async #onUpdate(update: Update): Promise<void> {
    const ctx = this.#ctx;
    const log = this.#log;
    // After the shutdown signal nothing new is taken; replies to what was taken still go out until close().
    if (!ctx || !log || this.#closing || ctx.signal.aborted) return;
    if (!this.#recent.addIfNew(`u${update.update_id}`)) {
      this.#stats.duplicates++;
      return;
    }
    if (update.edited_message) {
      this.#stats.editsIgnored++;
      log.debug({ chatId: update.edited_message.chat.id, messageId: update.edited_message.message_id }, 'telegram edit ignored (edits are not applied to batches yet)');
      return;
    }
    const message = update.message;
    if (!message) return;
    const reason = dropReason(message, this.#botId);
    if (reason) {
      log.debug({ chatId: message.chat.id, messageId: message.message_id, reason }, 'telegram message ignored');
      return;
    }
    if (!this.#recent.addIfNew(`m${message.chat.id}:${message.message_id}`)) {
      this.#stats.duplicates++;
      return;
    }
    await this.#take(ctx, log, message);
  }

  async #take(ctx: AdapterContext, log: Logger, message: Message): Promise<void> {
    const inbound = normalizeMessage(message);
    const channelId = inbound.channelId;
    const result = await ctx.accept(inbound);
    if (!result.accepted) {
      const target = targetOf(message);
      const notice = this.#notices?.notify(channelId, result.reason, (text) => this.#post(target, text, message.message_id));
      log.info({ messageId: message.message_id, channelId, reason: result.reason, detail: result.detail, notice }, 'telegram message not accepted');
      return;
    }
    let accepted: { typing: boolean; pending: number; deadline?: number } = result;
    if (message.media_group_id !== undefined && ctx.hold) {
      // Telegram sends an album's items as separate messages, seconds apart: keep the batch open for the rest.
      const held = await ctx.hold(channelId, this.#options.mediaGroupQuietMs ?? 2_000, 'mediaGroup');
      if (held.held) accepted = { ...result, deadline: held.deadline };
    }
    this.#typing?.accepted(channelId, accepted);
  }
}

/** grammY types its signals with the abort-controller shim's class; Node's AbortSignal is what it uses at run time. */
type GrammySignal = NonNullable<Parameters<Bot['api']['getMe']>[0]>;
function grammySignal(signal: AbortSignal): GrammySignal {
  return signal as unknown as GrammySignal;
}

function describe(err: unknown): string {
  if (err instanceof GrammyError) return `${err.error_code} ${err.description}`;
  return err instanceof Error ? err.message : String(err);
}
