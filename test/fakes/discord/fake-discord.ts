import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway, type PrivilegedIntentSettings } from './fake-gateway.js';
import {
  ChannelKind,
  MessageKind,
  SnowflakeGenerator,
  channelPayload,
  messagePayload,
  typingStartPayload,
  user,
  type AttachmentInput,
  type FakeUser,
  type WorldIds,
} from './payloads.js';

/** Options for {@link startFakeDiscord}. */
export interface FakeDiscordOptions {
  /** The only token the fake accepts. @defaultValue a fixed fake bot token */
  token?: string;
  /**
   * The application's Privileged Gateway Intents toggles (Developer Portal → Bot). IDENTIFY asking for
   * one that is off is closed with 4014. @defaultValue Message Content on (as the setup docs say), the
   * other two off (Discord's default)
   */
  privilegedIntents?: Partial<PrivilegedIntentSettings>;
  /** HELLO's heartbeat interval. @defaultValue 41250 (Discord's) */
  heartbeatIntervalMs?: number;
}

/** What a test hands to {@link FakeDiscord.sendUserMessage}. */
export interface UserMessageInput {
  channelId: string;
  content: string;
  /** Defaults to the human `alice` (display name `Alice`). */
  author?: { id?: string; username?: string; globalName?: string | null; bot?: boolean };
  /** Guild nickname (guild channels only). */
  nick?: string;
  /** User ids mentioned; the bot's id yields a real mention of the bot. */
  mentions?: string[];
  mentionRoles?: string[];
  mentionEveryone?: boolean;
  attachments?: AttachmentInput[];
  /** Discord message type (0 default, 19 reply, 7 member join, …). */
  type?: number;
  webhookId?: string;
  referenceMessageId?: string;
}

/** A message the bot posted successfully. */
export interface PostedMessage {
  id: string;
  channelId: string;
  /** The JSON body discord.js sent. */
  body: Record<string, unknown>;
  content: string;
  at: number;
}

/** One `POST /channels/{id}/messages`, including the ones the fake failed on purpose. */
export interface PostAttempt {
  channelId: string;
  status: number;
  content: string;
  at: number;
}

const DEFAULT_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.batchgate-test-token';

/** The running fake; see the README in `index.ts`. */
export interface FakeDiscord extends Omit<WorldIds, 'bot' | 'ownerId'> {
  /** Base for discord.js `rest.api` (the client appends `/v10/...`). */
  apiUrl: string;
  gatewayUrl: string;
  token: string;
  botUserId: string;
  humanUser: FakeUser;
  otherBotUser: FakeUser;
  postedMessages: PostedMessage[];
  /** Successful `PATCH /channels/:id/messages/:id` (message edits), in order. */
  editedMessages: PostedMessage[];
  postAttempts: PostAttempt[];
  typingCalls: Array<{ channelId: string; at: number }>;
  /** Every `[method, path]` the REST side served, in order. */
  requests: Array<{ method: string; path: string; status: number }>;
  readonly connections: number;
  readonly openConnections: number;
  readonly identifies: number;
  /** The `intents` bit field of every IDENTIFY, in order. */
  readonly identifyIntents: readonly number[];
  readonly resumes: number;
  /** Heartbeats received (each answered with an ACK). */
  readonly heartbeats: number;
  /** Close code of every gateway socket that ended, in order (1000: the client's `destroy()`; 1006: a drop). */
  readonly closeCodes: readonly number[];
  sendUserMessage(input: UserMessageInput): string;
  sendBotMessage(input: Omit<UserMessageInput, 'author'> & { author?: UserMessageInput['author'] }): string;
  dispatch(t: string, d: unknown): void;
  /** A user edited a message sent with `sendUserMessage`: MESSAGE_UPDATE with the whole message, as Discord sends it. */
  editUserMessage(messageId: string, content: string): void;
  /** A user deleted messages: MESSAGE_DELETE for one id, MESSAGE_DELETE_BULK for several (one channel). */
  deleteUserMessages(channelId: string, messageIds: string[]): void;
  /**
   * Dispatches TYPING_START: `userId` (default the human alice; the bot's id for its own typing) starts
   * typing in `channelId`. Sessions without the matching typing intent do not get it, like on Discord.
   */
  sendTyping(input: { channelId: string; userId?: string }): void;
  dropConnection(): void;
  failNextPost(status: number, retryAfterSeconds?: number): void;
  waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** Starts a fake Discord (REST under `/api/v10`, gateway WebSocket on `/`) on 127.0.0.1, port 0. */
export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const token = options.token ?? DEFAULT_TOKEN;
  const ids = new SnowflakeGenerator();
  const bot = user(ids.next(), 'batchgate-bot', { bot: true });
  const humanUser = user(ids.next(), 'alice', { globalName: 'Alice' });
  const otherBotUser = user(ids.next(), 'other-bot', { bot: true });
  const world: WorldIds = {
    guildId: ids.next(),
    channelId: ids.next(),
    otherChannelId: ids.next(),
    threadId: ids.next(),
    dmChannelId: ids.next(),
    bot,
    ownerId: humanUser.id,
  };
  const knownUsers = new Map([bot, humanUser, otherBotUser].map((u) => [u.id, u]));
  const knownMessages = new Set<string>();
  const failures: Array<{ status: number; retryAfter?: number }> = [];
  const postedMessages: PostedMessage[] = [];
  const editedMessages: PostedMessage[] = [];
  const postAttempts: PostAttempt[] = [];
  const typingCalls: Array<{ channelId: string; at: number }> = [];
  const requests: Array<{ method: string; path: string; status: number }> = [];

  const channelInfo = (channelId: string): { type: number; guildId: string | null } | null => {
    if (channelId === world.dmChannelId) return { type: ChannelKind.DM, guildId: null };
    if (channelId === world.threadId) return { type: ChannelKind.PublicThread, guildId: world.guildId };
    if (channelId === world.channelId || channelId === world.otherChannelId) return { type: ChannelKind.GuildText, guildId: world.guildId };
    return null;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => reply(req, res, 500, { message: String(err), code: 0 }));
  });
  const gateway = new FakeGateway(server, {
    token,
    world,
    privileged: { messageContent: true, guildMembers: false, presence: false, ...options.privilegedIntents },
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  gateway.url = `ws://127.0.0.1:${port}`;

  function reply(req: IncomingMessage, res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status });
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return null;
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (!path.startsWith('/api/v10/')) return reply(req, res, 404, { message: '404: Not Found', code: 0 });
    const route = path.slice('/api/v10'.length);
    if (method === 'GET' && route === '/gateway') return reply(req, res, 200, { url: gateway.url });
    if (req.headers.authorization !== `Bot ${token}`) return reply(req, res, 401, { message: '401: Unauthorized', code: 0 });

    if (method === 'GET' && route === '/gateway/bot') {
      return reply(req, res, 200, {
        url: gateway.url,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      });
    }
    if (method === 'GET' && route === '/users/@me') return reply(req, res, 200, bot);

    const channelRoute = /^\/channels\/(\d+)(\/.*)?$/.exec(route);
    if (!channelRoute) return reply(req, res, 404, { message: '404: Not Found', code: 0 });
    const channelId = channelRoute[1] ?? '';
    const rest = channelRoute[2] ?? '';
    const info = channelInfo(channelId);
    if (!info) return reply(req, res, 404, { message: 'Unknown Channel', code: 10003 });

    if (method === 'GET' && rest === '') return reply(req, res, 200, channelPayload(world, channelId));
    if (method === 'POST' && rest === '/typing') {
      typingCalls.push({ channelId, at: Date.now() });
      return reply(req, res, 204);
    }
    if (method === 'POST' && rest === '/messages') return postMessage(req, res, channelId, info);
    const edit = /^\/messages\/(\d+)$/.exec(rest);
    if (method === 'PATCH' && edit) return editMessage(req, res, channelId, info, edit[1] ?? '');
    return reply(req, res, 404, { message: '404: Not Found', code: 0 });
  }

  /** A bot may edit only its own messages (50005); the edit comes back on the gateway as MESSAGE_UPDATE. */
  async function editMessage(req: IncomingMessage, res: ServerResponse, channelId: string, info: { type: number; guildId: string | null }, messageId: string): Promise<void> {
    const body = await readJson(req);
    if (!body) return reply(req, res, 400, { message: 'the fake only accepts application/json message bodies', code: 50035 });
    const original = postedMessages.find((m) => m.id === messageId && m.channelId === channelId);
    if (!original) {
      return knownMessages.has(messageId)
        ? reply(req, res, 403, { message: 'Cannot edit a message authored by another user', code: 50005 })
        : reply(req, res, 404, { message: 'Unknown Message', code: 10008 });
    }
    const content = typeof body.content === 'string' ? body.content : '';
    if (content.trim() === '') return reply(req, res, 400, { message: 'Cannot send an empty message', code: 50006 });
    if (content.length > 2000) {
      return reply(req, res, 400, { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
    }
    editedMessages.push({ id: messageId, channelId, body, content, at: Date.now() });
    const message = { ...messagePayload({ id: messageId, channelId, channelType: info.type, guildId: info.guildId, author: bot, content }), edited_timestamp: new Date().toISOString() };
    reply(req, res, 200, message);
    setImmediate(() => gateway.dispatch('MESSAGE_UPDATE', message));
  }

  async function postMessage(req: IncomingMessage, res: ServerResponse, channelId: string, info: { type: number; guildId: string | null }): Promise<void> {
    const body = await readJson(req);
    if (!body) return reply(req, res, 400, { message: 'the fake only accepts application/json message bodies', code: 50035 });
    const content = typeof body.content === 'string' ? body.content : '';
    const failure = failures.shift();
    postAttempts.push({ channelId, status: failure?.status ?? 200, content, at: Date.now() });
    if (failure) {
      if (failure.status === 429) {
        const retryAfter = failure.retryAfter ?? 1;
        return reply(req, res, 429, { message: 'You are being rate limited.', retry_after: retryAfter, global: false }, {
          'retry-after': String(retryAfter),
          'x-ratelimit-scope': 'user',
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': String(retryAfter),
          'x-ratelimit-bucket': 'fake-messages-bucket',
        });
      }
      return reply(req, res, failure.status, { message: failure.status === 403 ? 'Missing Permissions' : 'Fake failure', code: failure.status === 403 ? 50013 : 0 });
    }
    // Discord's own validation, so a splitter bug shows up as the 400 a real bot would get.
    if (content.trim() === '') return reply(req, res, 400, { message: 'Cannot send an empty message', code: 50006 });
    if (content.length > 2000) {
      return reply(req, res, 400, {
        message: 'Invalid Form Body',
        code: 50035,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } },
      });
    }
    const reference = body.message_reference as { message_id?: string; fail_if_not_exists?: boolean } | undefined;
    if (reference?.message_id && !knownMessages.has(reference.message_id) && reference.fail_if_not_exists !== false) {
      return reply(req, res, 400, { message: 'Invalid Form Body', code: 50035, errors: { message_reference: { _errors: [{ code: 'REPLIES_UNKNOWN_MESSAGE', message: 'Unknown message' }] } } });
    }
    const id = ids.next();
    knownMessages.add(id);
    const message = messagePayload({
      id,
      channelId,
      channelType: info.type,
      guildId: info.guildId,
      author: bot,
      content,
      type: reference?.message_id ? MessageKind.Reply : MessageKind.Default,
      referenceMessageId: reference?.message_id,
      nonce: typeof body.nonce === 'string' ? body.nonce : undefined,
    });
    postedMessages.push({ id, channelId, body, content, at: Date.now() });
    reply(req, res, 200, message);
    // Discord echoes the bot's own post on the gateway; loop protection has to cope with it.
    setImmediate(() => gateway.dispatch('MESSAGE_CREATE', message));
  }

  function sendUserMessage(input: UserMessageInput): string {
    const info = channelInfo(input.channelId);
    if (!info) throw new Error(`fake discord: unknown channel ${input.channelId}`);
    const a = input.author ?? {};
    const author =
      a.id && knownUsers.has(a.id) && a.username === undefined
        ? (knownUsers.get(a.id) as FakeUser)
        : a.id || a.username || a.bot !== undefined || a.globalName !== undefined
          ? user(a.id ?? ids.next(), a.username ?? 'someone', { globalName: a.globalName ?? null, bot: a.bot })
          : humanUser;
    const id = ids.next();
    knownMessages.add(id);
    const mentions = (input.mentions ?? []).map((uid) => knownUsers.get(uid) ?? user(uid, `user-${uid.slice(-4)}`));
    const payload = messagePayload({
        id,
        channelId: input.channelId,
        channelType: info.type,
        guildId: info.guildId,
        author,
        content: input.content,
        type: input.type,
        nick: input.nick,
        mentions,
        mentionRoles: input.mentionRoles,
        mentionEveryone: input.mentionEveryone,
        attachments: input.attachments?.map((att) => ({ ...att, id: ids.next() })),
        webhookId: input.webhookId,
        referenceMessageId: input.referenceMessageId,
      });
    userMessages.set(id, { payload, guildId: info.guildId });
    gateway.dispatch('MESSAGE_CREATE', payload);
    return id;
  }

  /** What `sendUserMessage` dispatched, for the edits and deletes that name those messages later. */
  const userMessages = new Map<string, { payload: Record<string, unknown>; guildId: string | null }>();

  function editUserMessage(messageId: string, content: string): void {
    const sent = userMessages.get(messageId);
    if (!sent) throw new Error(`fake discord: no message ${messageId} to edit`);
    sent.payload = { ...sent.payload, content, edited_timestamp: new Date().toISOString() };
    gateway.dispatch('MESSAGE_UPDATE', sent.payload);
  }

  function deleteUserMessages(channelId: string, messageIds: string[]): void {
    const guildId = userMessages.get(messageIds[0] ?? '')?.guildId;
    const where = { channel_id: channelId, ...(guildId ? { guild_id: guildId } : {}) };
    if (messageIds.length === 1) gateway.dispatch('MESSAGE_DELETE', { id: messageIds[0], ...where });
    else gateway.dispatch('MESSAGE_DELETE_BULK', { ids: messageIds, ...where });
  }

  function sendTyping(input: { channelId: string; userId?: string }): void {
    const info = channelInfo(input.channelId);
    if (!info) throw new Error(`fake discord: unknown channel ${input.channelId}`);
    const typist = knownUsers.get(input.userId ?? humanUser.id) ?? user(input.userId ?? ids.next(), 'someone');
    gateway.dispatch('TYPING_START', typingStartPayload({ channelId: input.channelId, guildId: info.guildId, user: typist }));
  }

  async function waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== null && value !== false) return value;
      if (Date.now() > until) throw new Error(`fake discord: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  let closing: Promise<void> | null = null;
  return {
    apiUrl: `http://127.0.0.1:${port}/api`,
    gatewayUrl: gateway.url,
    token,
    guildId: world.guildId,
    channelId: world.channelId,
    otherChannelId: world.otherChannelId,
    threadId: world.threadId,
    dmChannelId: world.dmChannelId,
    botUserId: bot.id,
    humanUser,
    otherBotUser,
    postedMessages,
    editedMessages,
    postAttempts,
    typingCalls,
    requests,
    get connections() {
      return gateway.connections;
    },
    get openConnections() {
      return gateway.openConnections;
    },
    get identifies() {
      return gateway.identifies;
    },
    get identifyIntents() {
      return gateway.identifyIntents;
    },
    get resumes() {
      return gateway.resumes;
    },
    get heartbeats() {
      return gateway.heartbeats;
    },
    get closeCodes() {
      return gateway.closeCodes;
    },
    sendUserMessage,
    sendBotMessage: (input) =>
      sendUserMessage({ ...input, author: input.author ? { ...input.author, bot: true } : { id: otherBotUser.id } }),
    dispatch: (t, d) => gateway.dispatch(t, d),
    editUserMessage,
    deleteUserMessages,
    sendTyping,
    dropConnection: () => gateway.dropConnections(),
    failNextPost: (status, retryAfter) => {
      failures.push({ status, retryAfter });
    },
    waitFor,
    close() {
      closing ??= (async () => {
        await gateway.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
