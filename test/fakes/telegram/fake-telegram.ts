import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { ALICE, FAKE_BOT, PRIVATE_CHAT, type TgChat, type TgMessage, type TgPhotoSize, type TgUpdate, type TgUser } from './payloads.js';

/** One Bot API call as the fake received it. */
export interface BotApiCall {
  method: string;
  body: Record<string, unknown>;
  /** HTTP status answered (Telegram answers an error with its `error_code` as the status). */
  status: number;
  /** When the fake answered it (epoch ms). */
  at: number;
}

/** A message the bot posted (sendMessage that succeeded), or its latest edit. */
export interface SentMessage {
  messageId: number;
  chatId: number;
  threadId?: number;
  text: string;
  replyTo?: number;
  at: number;
  edits: number;
}

export interface ChatActionCall {
  chatId: number;
  threadId?: number;
  action: string;
  at: number;
}

export interface UserMessageInput {
  chat?: TgChat;
  from?: TgUser;
  text?: string;
  caption?: string;
  photo?: TgPhotoSize[];
  mediaGroupId?: string;
  /** Forum topic: the message's `message_thread_id` (with `is_topic_message`). */
  threadId?: number;
}

export interface FailNextOptions {
  /** @defaultValue 429 */
  errorCode?: number;
  /** Seconds, sent as `parameters.retry_after` (429 only). @defaultValue 1 */
  retryAfter?: number;
  description?: string;
}

export interface WebhookDelivery {
  updateId: number;
  status: number;
  at: number;
}

export interface FakeTelegram {
  /** grammY's `client.apiRoot` (no trailing slash): requests go to `${apiUrl}/bot<token>/<method>`. */
  readonly apiUrl: string;
  readonly token: string;
  readonly bot: TgUser;
  /** Every Bot API call, in arrival order. */
  readonly calls: BotApiCall[];
  /** Messages the bot posted, in order. */
  readonly sent: SentMessage[];
  readonly chatActions: ChatActionCall[];
  readonly webhookDeliveries: WebhookDelivery[];
  /** Queues an update carrying a user's message; returns the message (its `message_id`, `date`, …). */
  sendUserMessage(input?: UserMessageInput): TgMessage;
  /** Queues an `edited_message` update for a message sent earlier. */
  editUserMessage(message: TgMessage, text: string): void;
  /** Queues any update; returns its `update_id`. */
  pushUpdate(update: Omit<TgUpdate, 'update_id'>): number;
  /** The next call of `method` is answered with an error (429 + `retry_after` by default). */
  failNext(method: string, options?: FailNextOptions): void;
  /** The webhook set by setWebhook, or null (long polling). */
  webhook(): { url: string; secretToken: string } | null;
  /** Updates the bot has not confirmed yet (getUpdates offset, or a 2xx from its webhook). */
  pendingUpdates(): number;
  /** Resolves once `check()` holds, re-checked on every call and delivery the fake sees; rejects naming `what` after `timeoutMs`. */
  waitFor(check: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const MAX_TEXT = 4_096;

/**
 * A fake Telegram Bot API on loopback for the real grammY client: `POST /bot<token>/<method>` with a JSON
 * (or form) body, answers `{ ok: true, result }` or `{ ok: false, error_code, description, parameters? }`
 * with the error code as HTTP status, like api.telegram.org. Serves getMe, getUpdates (real long polling:
 * waits up to `timeout` seconds for an update, and an `offset` confirms every update before it),
 * setWebhook / deleteWebhook / getWebhookInfo (while a webhook is set, updates are POSTed to it in order with
 * `X-Telegram-Bot-Api-Secret-Token`, retried until a 2xx, and getUpdates answers 409 as Telegram does),
 * sendMessage (empty → 400, over 4096 characters → 400 "message is too long"), editMessageText (a message
 * the bot did not post in that chat → 400 "message to edit not found", the text it already shows → 400
 * "message is not modified") and sendChatAction. A wrong token → 401, an unknown method → 404.
 */
export async function startFakeTelegram(options: { token?: string } = {}): Promise<FakeTelegram> {
  const token = options.token ?? '123456789:TEST-fake-telegram-token';
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const changed = (): void => void changes.emit('change');
  const calls: BotApiCall[] = [];
  const sent: SentMessage[] = [];
  const chatActions: ChatActionCall[] = [];
  const webhookDeliveries: WebhookDelivery[] = [];
  const failures = new Map<string, FailNextOptions[]>();
  /** Unconfirmed updates, in update_id order. */
  let pending: TgUpdate[] = [];
  let nextUpdateId = 100_000;
  let nextMessageId = 1;
  let hook: { url: string; secretToken: string } | null = null;
  let delivering = false;
  let closed = false;
  const pollWaiters = new Set<() => void>();

  const pushUpdate = (update: Omit<TgUpdate, 'update_id'>): number => {
    const id = ++nextUpdateId;
    pending.push({ update_id: id, ...update });
    for (const wake of [...pollWaiters]) wake();
    void deliverWebhook();
    changed();
    return id;
  };

  async function deliverWebhook(): Promise<void> {
    if (delivering) return;
    delivering = true;
    try {
      let backoffMs = 50;
      while (!closed && hook !== null && pending.length > 0) {
        const { url, secretToken } = hook;
        const update = pending[0]!;
        let status = 0;
        try {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (secretToken) headers['x-telegram-bot-api-secret-token'] = secretToken;
          const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(update), signal: AbortSignal.timeout(10_000) });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 0;
        }
        webhookDeliveries.push({ updateId: update.update_id, status, at: Date.now() });
        changed();
        if (status >= 200 && status < 300) {
          pending = pending.filter((u) => u.update_id !== update.update_id);
          backoffMs = 50;
        } else {
          // Telegram retries a failed delivery later; a bounded backoff keeps the fake from spinning.
          await new Promise((resolve) => setTimeout(resolve, backoffMs).unref());
          backoffMs = Math.min(backoffMs * 2, 1_000);
        }
      }
    } finally {
      delivering = false;
    }
  }

  const message = (input: UserMessageInput): TgMessage => {
    const m: TgMessage = { message_id: nextMessageId++, date: Math.floor(Date.now() / 1_000), chat: input.chat ?? PRIVATE_CHAT, from: input.from ?? ALICE };
    if (input.text !== undefined) m.text = input.text;
    if (input.caption !== undefined) m.caption = input.caption;
    if (input.photo !== undefined) m.photo = input.photo;
    if (input.mediaGroupId !== undefined) m.media_group_id = input.mediaGroupId;
    if (input.threadId !== undefined) {
      m.message_thread_id = input.threadId;
      m.is_topic_message = true;
    }
    return m;
  };

  const fail = (code: number, description: string, parameters?: Record<string, unknown>) => ({
    status: code,
    body: { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) },
  });
  const ok = (result: unknown) => ({ status: 200, body: { ok: true, result } });
  const botMessage = (chatId: number, text: string, threadId: number | undefined, messageId = nextMessageId++): TgMessage => ({
    message_id: messageId,
    date: Math.floor(Date.now() / 1_000),
    chat: { id: chatId, type: chatId > 0 ? 'private' : 'supergroup' },
    from: FAKE_BOT,
    text,
    ...(threadId !== undefined ? { message_thread_id: threadId, is_topic_message: true } : {}),
  });

  async function getUpdates(body: Record<string, unknown>, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (hook !== null) return fail(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = Number(body.offset ?? 0);
    // An offset confirms every update before it: they are never sent again.
    if (offset > 0) pending = pending.filter((u) => u.update_id >= offset);
    const limit = Math.min(100, Math.max(1, Number(body.limit ?? 100)));
    const timeoutSec = Math.max(0, Number(body.timeout ?? 0));
    if (pending.length === 0 && timeoutSec > 0 && !closed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          pollWaiters.delete(done);
          req.socket.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutSec * 1_000);
        pollWaiters.add(done);
        req.socket.once('close', done);
      });
    }
    return ok(pending.slice(0, limit));
  }

  function sendMessage(body: Record<string, unknown>) {
    const text = typeof body.text === 'string' ? body.text : '';
    if (text.trim() === '') return fail(400, 'Bad Request: message text is empty');
    if (text.length > MAX_TEXT) return fail(400, 'Bad Request: message is too long');
    const chatId = Number(body.chat_id);
    const threadId = body.message_thread_id === undefined ? undefined : Number(body.message_thread_id);
    const m = botMessage(chatId, text, threadId);
    const replyTo = (body.reply_parameters as { message_id?: number } | undefined)?.message_id;
    sent.push({ messageId: m.message_id, chatId, ...(threadId !== undefined ? { threadId } : {}), text, ...(replyTo !== undefined ? { replyTo } : {}), at: Date.now(), edits: 0 });
    return ok(m);
  }

  function editMessageText(body: Record<string, unknown>) {
    const target = sent.find((s) => s.chatId === Number(body.chat_id) && s.messageId === Number(body.message_id));
    if (!target) return fail(400, 'Bad Request: message to edit not found');
    const text = typeof body.text === 'string' ? body.text : '';
    if (text.trim() === '') return fail(400, 'Bad Request: message text is empty');
    if (text.length > MAX_TEXT) return fail(400, 'Bad Request: MESSAGE_TOO_LONG');
    if (text === target.text) return fail(400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
    target.text = text;
    target.edits++;
    return ok({ ...botMessage(target.chatId, text, target.threadId, target.messageId), edit_date: Math.floor(Date.now() / 1_000) });
  }

  async function answer(method: string, body: Record<string, unknown>, req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const queued = failures.get(method);
    const failure = queued?.shift();
    if (failure) {
      const code = failure.errorCode ?? 429;
      const retryAfter = failure.retryAfter ?? 1;
      if (code === 429) return fail(429, failure.description ?? `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });
      return fail(code, failure.description ?? 'Internal Server Error');
    }
    switch (method) {
      case 'getMe':
        return ok({ ...FAKE_BOT, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false });
      case 'getUpdates':
        return getUpdates(body, req);
      case 'setWebhook': {
        const url = typeof body.url === 'string' ? body.url : '';
        if (url === '') {
          hook = null;
          return ok(true);
        }
        const secretToken = typeof body.secret_token === 'string' ? body.secret_token : '';
        if (secretToken && !/^[A-Za-z0-9_-]{1,256}$/.test(secretToken)) return fail(400, 'Bad Request: secret token contains unallowed characters');
        if (body.drop_pending_updates === true) pending = [];
        hook = { url, secretToken };
        for (const wake of [...pollWaiters]) wake();
        void deliverWebhook();
        return ok(true);
      }
      case 'deleteWebhook':
        hook = null;
        if (body.drop_pending_updates === true) pending = [];
        return ok(true);
      case 'getWebhookInfo':
        return ok({ url: hook?.url ?? '', has_custom_certificate: false, pending_update_count: pending.length });
      case 'sendMessage':
        return sendMessage(body);
      case 'editMessageText':
        return editMessageText(body);
      case 'sendChatAction': {
        const threadId = body.message_thread_id === undefined ? undefined : Number(body.message_thread_id);
        chatActions.push({ chatId: Number(body.chat_id), ...(threadId !== undefined ? { threadId } : {}), action: String(body.action), at: Date.now() });
        return ok(true);
      }
      default:
        return fail(404, 'Not Found');
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec((req.url ?? '').split('?')[0]!);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      if (raw) body = (req.headers['content-type'] ?? '').includes('json') ? (JSON.parse(raw) as Record<string, unknown>) : (parseQuery(raw) as Record<string, unknown>);
    } catch {
      body = {};
    }
    let result: { status: number; body: unknown };
    if (!match) result = fail(404, 'Not Found');
    else if (match[1] !== token) result = fail(401, 'Unauthorized');
    else result = await answer(match[2]!, body, req);
    if (match) calls.push({ method: match[2]!, body, status: result.status, at: Date.now() });
    if (!res.destroyed) {
      res.writeHead(result.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result.body));
    }
    changed();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;

  return {
    apiUrl: `http://127.0.0.1:${port}`,
    token,
    bot: FAKE_BOT,
    calls,
    sent,
    chatActions,
    webhookDeliveries,
    sendUserMessage(input = {}) {
      const m = message(input);
      pushUpdate({ message: m });
      return m;
    },
    editUserMessage(original, text) {
      pushUpdate({ edited_message: { ...original, text, edit_date: Math.floor(Date.now() / 1_000) } });
    },
    pushUpdate,
    failNext(method, failure = {}) {
      const list = failures.get(method) ?? [];
      list.push(failure);
      failures.set(method, list);
    },
    webhook: () => hook,
    pendingUpdates: () => pending.length,
    waitFor(check, what, timeoutMs = 10_000) {
      if (check()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onChange = (): void => {
          if (!check()) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake Telegram: timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          changes.off('change', onChange);
        };
        changes.on('change', onChange);
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        for (const wake of [...pollWaiters]) wake();
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
