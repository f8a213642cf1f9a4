import { App, SocketModeReceiver, webApi, type AllMiddlewareArgs, type SlackEventMiddlewareArgs } from '@slack/bolt';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../src/config/schema.js';
import { AdapterError, ErrorCode, LifecycleError } from '../../src/errors.js';
import type { QueueEvent } from '../../src/core/events.js';
import type { OutboundMessage } from '../../src/core/model.js';
import type { AdapterContext, InboundMessage, MessageEditor, PlatformAdapter } from '../adapter.js';
import { RefusalNotices } from '../refusal-notice.js';
import { FastifyReceiver } from './fastify-receiver.js';
import { normalizeSlackChange, normalizeSlackEvent, parseSlackChannelId, parseSlackMessageId, type SlackMessageChange, type SlackMessageEvent } from './normalize.js';
import { callHonouringRateLimit, platformErrorOf } from './rate-limited-call.js';
import { SlackReceipts } from './receipts.js';
import { RecentKeys } from '../../src/core/recent-keys.js';
import { toSlackLogger } from './slack-logger.js';
import { SLACK_TEXT_LIMIT, splitText } from './split-text.js';
import { SLACK_LISTENER_EVENTS, type SlackListenerEvent, type SlackMethod } from './requirements.js';
import { SlackUserNames } from './user-names.js';

/** The `adapters.slack` config keys the adapter reads (the parsed schema output). */
export type SlackConfig = Pick<GatewayConfig['adapters']['slack'], 'mode' | 'botToken' | 'signingSecret' | 'appToken' | 'apiUrl' | 'receiptReaction' | 'doneReaction'>;

/** {@link SlackConfig} plus knobs that are not operator config (tests and embedding). */
export interface SlackAdapterOptions extends SlackConfig, Partial<Pick<GatewayConfig['adapters']['slack'], 'resolveNames'>> {
  /** Route of the Events API request URL in `mode: http`. @defaultValue '/slack/events' */
  eventsPath?: string;
  /** Timeout of each Web API request. @defaultValue 10000 */
  requestTimeoutMs?: number;
  /** How long `start()` waits for the Socket Mode hello. @defaultValue 30000 */
  connectTimeoutMs?: number;
  /** 429s waited out per post before the reply fails. @defaultValue 5 */
  maxRateLimitWaits?: number;
  /** Longest text per `chat.postMessage`. @defaultValue 3000 */
  textLimit?: number;
}

type MessageArgs = (SlackEventMiddlewareArgs<'message'> | SlackEventMiddlewareArgs<'app_mention'>) & AllMiddlewareArgs;

/**
 * Slack through @slack/bolt 5, in either delivery mode Slack offers:
 * - `http`: the Events API on the gateway's own fastify server (`routes()` mounts {@link FastifyReceiver}
 *   at `/slack/events`), requests verified by Bolt's signature check;
 * - `socket`: Bolt's SocketModeReceiver over the app-level token, no public URL needed.
 *
 * Exactly once: Bolt acks every event before listeners run (Slack retries after 3 s without a 2xx), then
 * the adapter drops redeliveries by `event_id` and by `channel:ts` (one message arrives twice when the app
 * subscribes to both `message.*` and `app_mention`) before calling `accept`. Loops: bots, the app itself,
 * edits, deletions and thread bookkeeping are ignored (see normalize.ts). Replies go out with
 * `chat.postMessage` (into the thread for thread channels), split at 3,000 characters, 429s waited out.
 * A refused message gets an ephemeral notice for its sender (see ../refusal-notice.ts).
 */
export class SlackAdapter implements PlatformAdapter {
  readonly platform = 'slack';
  readonly #opts: SlackAdapterOptions;
  /**
   * Slack redelivers an event up to three times (at once, after ~1 min, after ~5 min): keys outlive the
   * last retry, and the size cap bounds memory under a flood.
   */
  readonly #recent = new RecentKeys(50_000, 10 * 60_000);
  readonly #closing = new AbortController();
  #receiver: FastifyReceiver | SocketModeReceiver | undefined;
  #app: App | undefined;
  #web: webApi.WebClient | undefined;
  #receipts: SlackReceipts | undefined;
  #notices: RefusalNotices | undefined;
  #names: SlackUserNames | undefined;
  /** Per channel, the last hand-off waiting for a name lookup: later messages queue behind it, so order holds. */
  readonly #turns = new Map<string, Promise<void>>();
  #log: Logger | undefined;
  #state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  #socketConnected = false;
  #receiving = false;
  #closePromise: Promise<void> | undefined;
  #botUserId: string | undefined;
  #botId: string | undefined;

  constructor(options: SlackAdapterOptions) {
    this.#opts = options;
  }

  /** Mounts the Events API route (HTTP mode only); the gateway calls this before it listens. */
  routes(server: FastifyInstance): void {
    if (this.#opts.mode !== 'http') return;
    this.#httpReceiver().routes(server);
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.#state !== 'new') throw new LifecycleError(`slack adapter cannot start: it is ${this.#state}`);
    this.#state = 'starting';
    const log = ctx.logger.child({ component: 'adapter', platform: 'slack' });
    this.#log = log;
    const opts = this.#opts;
    const slackLogger = toSlackLogger(log.child({ lib: 'bolt' }));
    const slackApiUrl = opts.apiUrl || undefined;
    const timeout = opts.requestTimeoutMs ?? 10_000;

    if (!opts.botToken) throw this.#fail('no bot token: set adapters.slack.botToken (xoxb-…; e.g. botToken: ${SLACK_BOT_TOKEN})');
    if (opts.mode === 'http' && !opts.signingSecret) throw this.#fail('`mode: http` needs adapters.slack.signingSecret (Basic Information → App Credentials)');
    if (opts.mode === 'socket' && !opts.appToken) throw this.#fail('`mode: socket` needs adapters.slack.appToken (xapp-…, with the connections:write scope)');

    // Our own client for auth.test, posts and reactions: no hidden retries (see rate-limited-call.ts).
    const web = new webApi.WebClient(opts.botToken, { slackApiUrl, logger: slackLogger, timeout, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
    this.#web = web;
    try {
      const auth = await web.auth.test();
      this.#botUserId = auth.user_id;
      this.#botId = auth.bot_id;
      log.info({ team: auth.team, botUserId: auth.user_id }, 'slack bot token verified');
    } catch (err) {
      const code = platformErrorOf(err);
      throw this.#fail(
        code
          ? `auth.test rejected the bot token (${code}): check adapters.slack.botToken — use the Bot User OAuth Token (xoxb-…) of an app installed in the workspace`
          : `cannot reach the Slack Web API${slackApiUrl ? ` at ${slackApiUrl}` : ''} (${describe(err)}): check the network${slackApiUrl ? ' and adapters.slack.apiUrl' : ''}`,
        err,
      );
    }

    this.#notices = new RefusalNotices({ logger: log });
    // Straight to the client, not #call: a 429 must not hold messages back while it is waited out.
    if (opts.resolveNames) this.#names = new SlackUserNames({ call: (method, args) => web.apiCall(method, args), logger: log });
    this.#receipts = new SlackReceipts({
      receiptReaction: opts.receiptReaction,
      doneReaction: opts.doneReaction,
      logger: log,
      api: {
        add: async (channel, ts, name) => void (await this.#call('reactions.add', { channel, timestamp: ts, name })),
        remove: async (channel, ts, name) => void (await this.#call('reactions.remove', { channel, timestamp: ts, name })),
      },
    });

    // Bolt's own client only serves the Socket Mode client's apps.connections.open (reconnects):
    // a few patient retries there keep a blip in Slack's API from ending the session.
    const clientOptions = { slackApiUrl, logger: slackLogger, timeout, retryConfig: { retries: 5, factor: 2, minTimeout: 1_000, maxTimeout: 30_000 } };
    let receiver: FastifyReceiver | SocketModeReceiver;
    if (opts.mode === 'http') {
      receiver = this.#httpReceiver();
      receiver.logger = log;
    } else {
      const socketReceiver = new SocketModeReceiver({ appToken: opts.appToken, logger: slackLogger, installerOptions: { clientOptions } });
      socketReceiver.client.on('connected', () => (this.#socketConnected = true));
      // 'close' is the socket dropping; the client only says 'reconnecting' ~5 s later, when it retries.
      for (const state of ['close', 'disconnecting', 'reconnecting', 'disconnected']) socketReceiver.client.on(state, () => (this.#socketConnected = false));
      receiver = socketReceiver;
    }
    this.#receiver = receiver;

    const app = new App({
      token: opts.botToken,
      botId: this.#botId,
      botUserId: this.#botUserId,
      // auth.test already ran above with a clear error; Bolt needs no second call.
      tokenVerificationEnabled: false,
      // Bolt's constructor would otherwise set up authorization with nobody awaiting it (bolt-js #248,
      // #2071: a failure there is an unhandled rejection); init() below does it where errors are caught.
      deferInitialization: true,
      receiver,
      socketMode: opts.mode === 'socket',
      logger: slackLogger,
      clientOptions,
    });
    await app.init();
    this.#app = app;
    for (const event of Object.keys(SLACK_LISTENER_EVENTS) as SlackListenerEvent[]) app.event(event, (args) => this.#onMessage(args as MessageArgs, ctx));
    app.error(async (err) => log.error({ err: err.message, code: err.code }, 'slack event handling failed'));

    this.#receiving = true;
    try {
      await this.#startReceiver(app);
    } catch (err) {
      this.#receiving = false;
      await app.stop().catch(() => undefined);
      throw err;
    }
    if (ctx.signal.aborted) this.#stopReceiving();
    else ctx.signal.addEventListener('abort', () => this.#stopReceiving(), { once: true, signal: this.#closing.signal });
    this.#state = 'started';
    log.info({ mode: opts.mode, path: opts.mode === 'http' ? this.#httpReceiver().path : undefined }, 'slack adapter ready');
  }

  /**
   * Posts one reply. The receipts hear the outcome here, not at `batch.completed`: the reply is posted
   * after the processor returned (behind 429 waits, or never), and ✅ must not come before it.
   */
  async send(reply: OutboundMessage): Promise<void> {
    if (this.#state !== 'started' || !this.#web) {
      this.#receipts?.onUndelivered(reply.batchId);
      throw new AdapterError('slack', `cannot send: the adapter is ${this.#state}`);
    }
    const { channel, threadTs } = parseSlackChannelId(reply.channelId);
    const threadTsToUse = reply.threadId ?? threadTs ?? replyThread(reply);
    const parts = splitText(reply.text, this.#opts.textLimit ?? SLACK_TEXT_LIMIT).filter((p) => p.trim() !== '');
    if (parts.length === 0) {
      // Nothing to show, and nothing left to wait for: the batch's other replies decide its receipt.
      this.#log?.warn({ channelId: reply.channelId, batchId: reply.batchId }, 'empty slack reply not sent');
      this.#receipts?.onDelivered(reply.batchId);
      return;
    }
    for (const [i, text] of parts.entries()) {
      try {
        await this.#call('chat.postMessage', { channel, text, thread_ts: threadTsToUse });
      } catch (err) {
        this.#receipts?.onUndelivered(reply.batchId);
        throw new AdapterError('slack', `chat.postMessage to ${reply.channelId} failed on part ${i + 1} of ${parts.length}: ${describe(err)}`, err);
      }
    }
    this.#receipts?.onDelivered(reply.batchId);
  }

  /**
   * Streamed replies: `chat.postMessage`, then `chat.update` of that `ts`. `chat.update` is a Tier 3
   * method (about 50 calls a minute), so one message is edited at most every 1.2 s; 429s are waited out.
   */
  readonly editor: MessageEditor = {
    maxLength: SLACK_TEXT_LIMIT,
    minEditIntervalMs: 1_200,
    post: async (reply) => {
      const { channel, threadTs } = parseSlackChannelId(reply.channelId);
      const posted = await this.#call('chat.postMessage', { channel, text: reply.text, thread_ts: reply.threadId ?? threadTs ?? replyThread(reply) });
      if (reply.stream?.final && !reply.stream.stopped) this.#receipts?.onDelivered(reply.batchId);
      return String((posted as { ts?: unknown }).ts);
    },
    edit: async (ts, reply) => {
      const { channel } = parseSlackChannelId(reply.channelId);
      await this.#call('chat.update', { channel, ts, text: reply.text });
      if (reply.stream?.final && !reply.stream.stopped) this.#receipts?.onDelivered(reply.batchId);
    },
  };

  onQueueEvent(event: QueueEvent): void {
    this.#receipts?.onQueueEvent(event);
  }

  ready(): boolean {
    return this.#state === 'started' && this.#receiving && (this.#opts.mode === 'http' || this.#socketConnected);
  }

  /** Resolves when every receipt reaction started so far has settled (tests, orderly shutdown). */
  async idle(): Promise<void> {
    await this.#receipts?.idle();
  }

  close(): Promise<void> {
    this.#closePromise ??= (async () => {
      this.#state = 'closed';
      this.#receiving = false;
      // Let receipts that are under way land (✅ for the last batches), but never hold shutdown on a 429 wait.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([this.#receipts?.idle().catch(() => undefined), grace]);
      this.#receipts?.close();
      this.#closing.abort();
      await this.#app?.stop().catch((err: unknown) => this.#log?.warn({ err: describe(err) }, 'slack receiver stop failed'));
    })();
    return this.#closePromise;
  }

  #httpReceiver(): FastifyReceiver {
    if (!(this.#receiver instanceof FastifyReceiver)) {
      this.#receiver = new FastifyReceiver({
        signingSecret: this.#opts.signingSecret,
        path: this.#opts.eventsPath,
      });
    }
    return this.#receiver;
  }

  async #startReceiver(app: App): Promise<void> {
    if (this.#opts.mode === 'http') {
      await app.start();
      return;
    }
    const timeoutMs = this.#opts.connectTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        app.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no Socket Mode hello within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      const code = platformErrorOf(err);
      throw this.#fail(
        code
          ? `apps.connections.open rejected the app token (${code}): check adapters.slack.appToken — an app-level token (xapp-…) with connections:write, and Socket Mode enabled for the app`
          : `cannot open a Socket Mode connection (${describe(err)}): check the network and that Socket Mode is enabled for the app`,
        err,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** After the gateway starts shutting down: HTTP answers 503 (Slack redelivers later), the socket closes. */
  #stopReceiving(): void {
    if (!this.#receiving) return;
    this.#receiving = false;
    this.#log?.info('slack adapter stopped receiving');
    void this.#app?.stop().catch(() => undefined);
  }

  async #onMessage(args: MessageArgs, ctx: AdapterContext): Promise<void> {
    const log = this.#log;
    if (!this.#receiving || !log) return;
    const event = args.event as unknown as SlackMessageEvent;
    const eventId = (args.body as { event_id?: unknown }).event_id;
    if (event.subtype === 'message_changed' || event.subtype === 'message_deleted') {
      const change = normalizeSlackChange(event, { botUserId: args.context.botUserId ?? this.#botUserId, botId: args.context.botId ?? this.#botId });
      if (change !== null) await this.#change(change, ctx, log);
      return;
    }
    const result = normalizeSlackEvent(event, { botUserId: args.context.botUserId ?? this.#botUserId, botId: args.context.botId ?? this.#botId });
    if ('ignored' in result) {
      log.debug({ reason: result.ignored, type: event.type, subtype: event.subtype }, 'slack event ignored');
      return;
    }
    const msg = result.message;
    const keys = [`msg:${msg.id}`];
    if (typeof eventId === 'string') keys.push(`event:${eventId}`);
    if (!this.#recent.addAllIfNew(keys)) {
      log.debug({ id: msg.id, eventId, retryNum: args.context.retryNum, type: event.type }, 'slack redelivery dropped');
      return;
    }
    const names = this.#names;
    if (!names) return this.#accept(msg, ctx, log);
    // The event's own profile, when it carries one, needs no lookup; it still waits its turn.
    const named = msg.userName !== msg.userId ? Promise.resolve(msg) : names.nameOf(msg.userId).then((name) => ({ ...msg, userName: name ?? msg.userName }));
    let accepting: Promise<void> = Promise.resolve();
    // accept() is called inside the chain, so messages of one channel reach the queue in arrival order.
    const turn = (this.#turns.get(msg.channelId) ?? Promise.resolve()).then(() => named).then((m) => void (accepting = this.#accept(m, ctx, log)));
    this.#turns.set(msg.channelId, turn);
    await turn;
    if (this.#turns.get(msg.channelId) === turn) this.#turns.delete(msg.channelId);
    await accepting;
  }

  /** An edit or delete waits behind the channel's messages still being named, so it never overtakes the message it changes. */
  async #change(change: SlackMessageChange, ctx: AdapterContext, log: Logger): Promise<void> {
    if (!ctx.change) return;
    const turn = (this.#turns.get(change.channelId) ?? Promise.resolve()).then(async () => {
      try {
        const outcome = await ctx.change!(change.channelId, change.messageId, change.text, change.author);
        log.debug({ id: change.messageId, edit: change.text !== null, applied: outcome.applied }, 'slack message changed');
      } catch (err) {
        log.error({ err: describe(err), id: change.messageId }, 'change failed for a slack message');
      }
    });
    this.#turns.set(change.channelId, turn);
    await turn;
    if (this.#turns.get(change.channelId) === turn) this.#turns.delete(change.channelId);
  }

  async #accept(msg: InboundMessage, ctx: AdapterContext, log: Logger): Promise<void> {
    try {
      const accepted = await ctx.accept(msg);
      if (accepted.accepted) {
        this.#receipts?.onAccepted(accepted.id, accepted.typing);
      } else {
        const notice = this.#notices?.notify(msg.channelId, accepted.reason, (text) => this.#postNotice(msg, text));
        if (accepted.reason !== ErrorCode.Duplicate) log.warn({ id: msg.id, channelId: msg.channelId, reason: accepted.reason, detail: accepted.detail, notice }, 'slack message not accepted');
      }
    } catch (err) {
      log.error({ err: describe(err), id: msg.id }, 'accept failed for a slack message');
    }
  }

  /**
   * Tells the sender alone (an ephemeral message, in the thread when the message was in one) that their
   * message was refused. Through `#call`, so a 429 is waited out and the wait ends when the adapter closes.
   */
  #postNotice(msg: InboundMessage, text: string): Promise<unknown> {
    if (this.#state !== 'started') return Promise.resolve();
    const { channel, threadTs } = parseSlackChannelId(msg.channelId);
    return this.#call('chat.postEphemeral', { channel, user: msg.userId, text, thread_ts: threadTs });
  }

  #call(method: SlackMethod, args: Record<string, unknown>): Promise<webApi.WebAPICallResult> {
    const web = this.#web;
    if (!web) return Promise.reject(new AdapterError('slack', 'not started'));
    return callHonouringRateLimit((m, a) => web.apiCall(m, a), method, args, {
      maxWaits: this.#opts.maxRateLimitWaits,
      signal: this.#closing.signal,
      onWait: (sec, attempt) => this.#log?.warn({ method, retryAfterSec: sec, attempt }, 'slack rate limit: waiting Retry-After'),
    });
  }

  #fail(message: string, cause?: unknown): AdapterError {
    this.#state = 'closed';
    return new AdapterError('slack', message, cause);
  }
}

function describe(err: unknown): string {
  const code = platformErrorOf(err);
  if (code) return code;
  return err instanceof Error ? err.message : String(err);
}

/** A reply to one message (`replyTo`, as an author's batch gets it) starts a thread on that message in Slack. */
function replyThread(reply: OutboundMessage): string | undefined {
  return reply.replyTo === undefined ? undefined : (parseSlackMessageId(reply.replyTo)?.ts ?? reply.replyTo);
}
