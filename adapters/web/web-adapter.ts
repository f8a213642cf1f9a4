import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { AcceptResult, AdapterContext, MessageEditor, PlatformAdapter } from '../adapter.js';
import { AdapterError, ErrorCode, RefusalWord } from '../../src/errors.js';
import { QueueEventType, type QueueEvent } from '../../src/core/events.js';
import { parseChannelKey, type OutboundMessage } from '../../src/core/model.js';
import { silentLogger } from '../../src/logger.js';
import {
  CHANNEL_ID_PATTERN,
  CloseCode,
  attachmentFrameBytes,
  DEFAULT_MAX_ATTACHMENT_BYTES,
  DEFAULT_MAX_TEXT_CHARS,
  parseClientFrame,
  type ErrorFrame,
  type MessageFrame,
  type ServerFrame,
} from './protocol.js';
import { RecentKeys } from '../../src/core/recent-keys.js';
import { ReplyBuffer } from './reply-buffer.js';
import { PUBLIC_DIR, registerStaticAssets } from './static-assets.js';

/** Options of the web chat adapter (config `adapters.web`). */
export interface WebAdapterOptions {
  /** Largest frame a browser may send; bigger frames close the socket with 1009. @defaultValue 16384 */
  maxFrameBytes: number;
  /** Longest message text after trimming. @defaultValue 4000 */
  maxTextChars?: number;
  /** Largest file a page may attach (decoded); 0 turns attaching off. A frame carrying one may exceed `maxFrameBytes` by its base64 size. @defaultValue 65536 */
  maxAttachmentBytes?: number;
  /** Replies kept per channel while no tab of it is connected. @defaultValue 50 */
  replyBufferPerChannel?: number;
  /** Channels whose replies are kept at once; the least recently used goes first. @defaultValue 10000 */
  replyBufferChannels?: number;
  /** How often sockets are pinged; one missed pong closes them. @defaultValue 30000 */
  pingIntervalMs?: number;
  /** Where index.html, chat.js and chat.css live. @defaultValue adapters/web/public */
  publicDir?: string;
}

/** The WebSocket route the page connects to. */
export const CHAT_WS_PATH = '/chat/ws';

type ReplyFrame = Extract<ServerFrame, { type: 'reply' }>;

interface Connection {
  socket: WebSocket;
  channelId?: string;
  alive: boolean;
}

/** What a channel's tabs are shown besides messages; replayed to a tab that connects mid-batch. */
interface ChannelView {
  typing: boolean;
  collecting?: { deadline: number; pending: number };
  processing?: { batchId: string; size: number };
}

const MAX_VIEWS = 10_000;

/**
 * The browser chat: serves the page at `GET /` and speaks the protocol in ./protocol.ts over
 * `GET /chat/ws`. Each browser is one channel `web:<id>`; every tab of a channel gets its replies, and
 * replies that arrive while no tab is open wait in a bounded buffer for the next `hello`.
 */
export class WebAdapter implements PlatformAdapter {
  readonly platform = 'web';
  readonly #options: Required<Omit<WebAdapterOptions, 'publicDir'>> & { publicDir: string };
  #ctx: AdapterContext | undefined;
  #log: Logger = silentLogger();
  #routed = false;
  #closing: Promise<void> | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  readonly #connections = new Set<Connection>();
  readonly #byChannel = new Map<string, Set<Connection>>();
  readonly #views = new Map<string, ChannelView>();
  readonly #replies: ReplyBuffer<ReplyFrame>;
  /** Ids seen lately: a page that resends after a reconnect (it cannot know whether the first copy arrived) must not batch a message twice. */
  readonly #recentIds = new RecentKeys(10_000);

  constructor(options: WebAdapterOptions) {
    this.#options = {
      maxFrameBytes: options.maxFrameBytes,
      maxTextChars: options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS,
      maxAttachmentBytes: options.maxAttachmentBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES,
      replyBufferPerChannel: options.replyBufferPerChannel ?? 50,
      replyBufferChannels: options.replyBufferChannels ?? 10_000,
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
      publicDir: options.publicDir ?? PUBLIC_DIR,
    };
    this.#replies = new ReplyBuffer({ perChannel: this.#options.replyBufferPerChannel, maxChannels: this.#options.replyBufferChannels });
  }

  /**
   * Registers the page and the socket route inside their own plugin scope: @fastify/websocket wraps every
   * route handler of the instance it is registered on, so keeping it here leaves other routes untouched.
   */
  async routes(app: FastifyInstance): Promise<void> {
    this.#routed = true;
    await app.register(async (scope) => {
      await scope.register(fastifyWebsocket, {
        // ws enforces the limit while reading, before a byte is buffered as a message, and closes with 1009.
        options: { maxPayload: this.#options.maxFrameBytes + attachmentFrameBytes(this.#options.maxAttachmentBytes) },
        errorHandler: (err, socket) => this.#onSocketError(err, socket),
      });
      await registerStaticAssets(scope, this.#options.publicDir);
      scope.get(CHAT_WS_PATH, { websocket: true }, (socket) => this.#onConnection(socket));
    });
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (!this.#routed) {
      throw new AdapterError(this.platform, 'routes() was not called before start(): register the adapter on the HTTP server so GET / and /chat/ws exist');
    }
    if (this.#closing) throw new AdapterError(this.platform, 'start() after close(): create a new WebAdapter');
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ component: 'web' });
    this.#pingTimer = setInterval(() => this.#pingAll(), this.#options.pingIntervalMs);
    this.#pingTimer.unref();
  }

  ready(): boolean {
    return this.#ctx !== undefined && this.#closing === undefined;
  }

  /** Delivers a reply to every open tab of the channel, or keeps it for the channel's next `hello`. */
  async send(reply: OutboundMessage): Promise<void> {
    this.#sendFrame(reply, randomUUID());
  }

  /**
   * Streamed replies: frames with one id that the page shows as one growing bubble. A tab that is not
   * open gets the first and the last frame of the stream from the reply buffer.
   */
  readonly editor: MessageEditor = {
    maxLength: Number.MAX_SAFE_INTEGER,
    minEditIntervalMs: 1_000,
    post: async (reply) => {
      const id = randomUUID();
      this.#sendFrame(reply, id, reply.stream?.final !== true);
      return id;
    },
    edit: async (id, reply) => {
      this.#sendFrame(reply, id, reply.stream?.final !== true);
    },
  };

  #sendFrame(reply: OutboundMessage, id: string, streaming = false): void {
    const frame: ReplyFrame = {
      type: 'reply',
      id,
      text: reply.text,
      batchId: reply.batchId,
      inReplyTo: reply.inReplyTo,
      ...(reply.replyTo === undefined ? {} : { replyTo: reply.replyTo }),
      at: Date.now(),
      ...(reply.stream === undefined ? {} : { streaming }),
    };
    const delivered = this.#broadcast(reply.channelId, frame);
    // Of a stream, only the first frame (it has the id) and the last need keeping.
    const keep = !streaming || !this.#replies.has(reply.channelId, (f) => f.id === id);
    if (delivered === 0 && keep) {
      this.#replies.push(reply.channelId, frame);
      this.#log.debug({ channelId: reply.channelId, batchId: reply.batchId }, 'no tab open; reply buffered');
    }
  }

  onQueueEvent(event: QueueEvent): void {
    const { platform, channelId } = parseChannelKey(event.channelKey);
    if (platform !== this.platform) return;
    const view = this.#views.get(channelId);
    const typing = view?.typing ?? true;
    switch (event.type) {
      case QueueEventType.Held:
        // A hold (the person typing, an unfinished line) moved the deadline: tabs count down to the new one.
        if (view?.collecting && event.deadline > view.collecting.deadline) {
          view.collecting.deadline = event.deadline;
          if (typing) this.#broadcast(channelId, { type: 'collecting', ...view.collecting, now: Date.now() });
        }
        break;
      case QueueEventType.Flushed:
        if (view) view.collecting = undefined;
        if (typing) this.#broadcast(channelId, { type: 'queued', batchId: event.batchId, size: event.size });
        break;
      case QueueEventType.Started:
        this.#view(channelId).processing = { batchId: event.batchId, size: event.size };
        if (typing) this.#broadcast(channelId, { type: 'processing', batchId: event.batchId, size: event.size });
        break;
      case QueueEventType.Completed:
      case QueueEventType.Failed:
      case QueueEventType.Cancelled: {
        if (view?.processing?.batchId === event.batchId) view.processing = undefined;
        const outcome = event.type === QueueEventType.Completed ? 'completed' : event.type === QueueEventType.Failed ? 'failed' : 'cancelled';
        this.#broadcast(channelId, { type: 'idle', batchId: event.batchId, outcome });
        this.#forgetIfIdle(channelId, view);
        break;
      }
      case QueueEventType.Cleared:
        if (view) view.collecting = undefined;
        this.#broadcast(channelId, { type: 'idle', outcome: 'cleared' });
        this.#forgetIfIdle(channelId, view);
        break;
      case QueueEventType.Dropped:
        // Only overflow loses accepted messages silently; rejected ones were already refused to the sender.
        if (event.reason === 'overflow') {
          this.#broadcast(channelId, { type: 'error', code: ErrorCode.QueueFull, reason: `${event.count} waiting message(s) were dropped: the channel's queue was full` });
        }
        break;
      default:
        break;
    }
  }

  /** Drops a channel's view once nothing is open or running, so it does not outlive its batches. */
  #forgetIfIdle(channelId: string, view: ChannelView | undefined): void {
    if (view && !view.collecting && !view.processing) this.#views.delete(channelId);
  }

  /** Counts for tests and health output. */
  stats(): { sockets: number; channels: number; bufferedReplies: number; droppedReplies: number } {
    return { sockets: this.#connections.size, channels: this.#byChannel.size, bufferedReplies: this.#replies.size, droppedReplies: this.#replies.dropped };
  }

  /** Open sockets that said `hello` for this channel. */
  socketsOf(channelId: string): number {
    return this.#byChannel.get(channelId)?.size ?? 0;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#pingTimer);
    for (const conn of this.#connections) {
      try {
        conn.socket.close(CloseCode.GoingAway, 'gateway shutting down');
      } catch (err) {
        this.#log.debug({ err }, 'closing a socket failed');
      }
    }
    this.#connections.clear();
    this.#byChannel.clear();
    this.#views.clear();
  }

  #onConnection(socket: WebSocket): void {
    if (this.#closing) {
      socket.close(CloseCode.GoingAway, 'gateway shutting down');
      return;
    }
    const conn: Connection = { socket, alive: true };
    this.#connections.add(conn);
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('message', (data, isBinary) => this.#onFrame(conn, data, isBinary));
    socket.on('close', () => this.#detach(conn));
  }

  #onSocketError(err: Error, socket: WebSocket): void {
    // An oversize frame arrives here after ws has already started the 1009 close; don't cut that short.
    this.#log.debug({ err }, 'web socket error');
    if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalError, 'server error');
  }

  #onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#sendTo(conn, { type: 'error', code: ErrorCode.BadRequest, reason: 'binary frames are not supported: send JSON text' });
      return;
    }
    // ws hands text frames over as one Buffer (binaryType 'nodebuffer'); the other shapes are for completeness.
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    const parsed = parseClientFrame(text, this.#options.maxTextChars, this.#options.maxAttachmentBytes);
    // The socket allows a file's base64 on top of maxFrameBytes; any other frame keeps that limit.
    const bytes = Buffer.isBuffer(data) ? data.length : Buffer.byteLength(text);
    if (bytes > this.#options.maxFrameBytes && !(parsed.ok && parsed.frame.type === 'message' && parsed.frame.attachment)) {
      conn.socket.close(CloseCode.MessageTooBig, 'frame too large');
      return;
    }
    if (!parsed.ok) {
      this.#sendTo(conn, parsed.error);
      return;
    }
    if (parsed.frame.type === 'hello') {
      this.#hello(conn, parsed.frame.channelId);
      return;
    }
    if (parsed.frame.type === 'typing') {
      this.#typing(conn);
      return;
    }
    const frame = parsed.frame;
    this.#accept(conn, frame).catch((err: unknown) => {
      this.#log.error({ err }, 'accepting a web message failed');
      this.#sendTo(conn, withClientId({ type: 'error', code: ErrorCode.Internal, reason: 'the gateway could not take the message; try again' }, frame.clientId));
    });
  }

  #hello(conn: Connection, requested: string | undefined): void {
    const channelId = requested !== undefined && CHANNEL_ID_PATTERN.test(requested) ? requested : randomBytes(16).toString('base64url');
    if (conn.channelId !== channelId) {
      this.#leaveChannel(conn);
      conn.channelId = channelId;
      let set = this.#byChannel.get(channelId);
      if (!set) this.#byChannel.set(channelId, (set = new Set()));
      set.add(conn);
    }
    const { maxTextChars, maxFrameBytes, maxAttachmentBytes } = this.#options;
    this.#sendTo(conn, { type: 'welcome', channelId, maxTextChars, maxFrameBytes, maxAttachmentBytes });
    const view = this.#views.get(channelId);
    if (view?.typing !== false) {
      const now = Date.now();
      if (view?.collecting && view.collecting.deadline > now) this.#sendTo(conn, { type: 'collecting', ...view.collecting, now });
      if (view?.processing) this.#sendTo(conn, { type: 'processing', ...view.processing });
    }
    for (const reply of this.#replies.take(channelId)) this.#sendTo(conn, reply);
  }

  /**
   * The person is typing: the channel's open batch (the channel is its only author) stays open for its
   * `typingHoldMs` more. No answer; the `collecting` frame the hold brings shows the new deadline.
   */
  #typing(conn: Connection): void {
    const { channelId } = conn;
    if (channelId === undefined) {
      this.#sendTo(conn, { type: 'error', code: ErrorCode.BadRequest, reason: 'send {"type":"hello"} before typing' });
      return;
    }
    const ctx = this.#ctx;
    if (!ctx?.typing || this.#closing || ctx.signal.aborted) return;
    ctx.typing(channelId, channelId).catch((err: unknown) => this.#log.warn({ err, channelId }, 'web typing hand-off failed'));
  }

  async #accept(conn: Connection, frame: MessageFrame): Promise<void> {
    const { channelId } = conn;
    const clientId = frame.clientId;
    if (channelId === undefined) {
      this.#sendTo(conn, withClientId({ type: 'error', code: ErrorCode.BadRequest, reason: 'send {"type":"hello"} before any message' }, clientId));
      return;
    }
    const ctx = this.#ctx;
    if (!ctx || this.#closing || ctx.signal.aborted) {
      const code = ctx ? ErrorCode.ShuttingDown : ErrorCode.Lifecycle;
      const reason = ctx ? 'the gateway is shutting down; the message was not taken' : 'the chat is not ready yet; try again in a moment';
      this.#sendTo(conn, withClientId({ type: 'error', code, reason }, clientId));
      return;
    }
    const userName = frame.userName?.trim() || 'You';
    const id = messageIdOf(channelId, clientId);
    if (!this.#recentIds.addIfNew(id)) {
      this.#sendTo(conn, withClientId({ type: 'error', code: ErrorCode.Duplicate, reason: 'duplicate: this message was already received' }, clientId));
      return;
    }
    const file = frame.attachment;
    // The same shape as the webhook's attachments, with the data URL as `url`.
    const extra = file ? { attachments: [{ url: file.dataUrl, name: file.name, type: file.type, size: file.size }] } : {};
    const result = await ctx.accept({ id, platform: this.platform, channelId, userId: channelId, userName, text: frame.text, extra });
    if (!result.accepted) {
      if (result.reason !== ErrorCode.Duplicate) this.#recentIds.delete(id);
      const word = RefusalWord[result.reason];
      this.#sendTo(conn, withClientId({ type: 'error', code: result.reason, reason: result.detail ? `${word}: ${result.detail}` : word }, clientId));
      return;
    }
    const now = Date.now();
    this.#sendTo(conn, { type: 'accepted', ...(clientId === undefined ? {} : { clientId }), id: result.id, ...(result.deadline === undefined ? {} : { deadline: result.deadline }), pending: result.pending, now });
    const echo: ServerFrame = {
      type: 'user-message',
      id: result.id,
      ...(clientId === undefined ? {} : { clientId }),
      text: frame.text,
      userName,
      at: now,
      ...(file ? { attachment: { name: file.name, type: file.type, size: file.size } } : {}),
    };
    for (const other of this.#byChannel.get(channelId) ?? []) if (other !== conn) this.#sendTo(other, echo);
    const view = this.#view(channelId);
    view.typing = result.typing;
    if (result.typing && result.deadline !== undefined && result.pending > 0) {
      view.collecting = { deadline: result.deadline, pending: result.pending };
      this.#broadcast(channelId, { type: 'collecting', deadline: result.deadline, pending: result.pending, now });
    }
  }

  #view(channelId: string): ChannelView {
    let view = this.#views.get(channelId);
    if (!view) {
      if (this.#views.size >= MAX_VIEWS) {
        const oldest = this.#views.keys().next().value;
        if (oldest !== undefined) this.#views.delete(oldest);
      }
      this.#views.set(channelId, (view = { typing: true }));
    }
    return view;
  }

  /** Sends to every open tab of a channel; returns how many got it. */
  #broadcast(channelId: string, frame: ServerFrame): number {
    let sent = 0;
    for (const conn of this.#byChannel.get(channelId) ?? []) if (this.#sendTo(conn, frame)) sent++;
    return sent;
  }

  #sendTo(conn: Connection, frame: ServerFrame): boolean {
    if (conn.socket.readyState !== conn.socket.OPEN) return false;
    conn.socket.send(JSON.stringify(frame));
    return true;
  }

  #detach(conn: Connection): void {
    this.#connections.delete(conn);
    this.#leaveChannel(conn);
  }

  #leaveChannel(conn: Connection): void {
    if (conn.channelId === undefined) return;
    const set = this.#byChannel.get(conn.channelId);
    set?.delete(conn);
    if (set?.size === 0) this.#byChannel.delete(conn.channelId);
  }

  #pingAll(): void {
    for (const conn of this.#connections) {
      // A phone that lost its network never sends a close; one missed pong frees its slot.
      if (!conn.alive) {
        conn.socket.terminate();
        this.#detach(conn);
        continue;
      }
      conn.alive = false;
      if (conn.socket.readyState === conn.socket.OPEN) conn.socket.ping();
    }
  }
}

/**
 * The page resends unconfirmed messages after a reconnect with the same `clientId`; deriving the message
 * id from channel and clientId makes such a resend a duplicate the queue can recognise, while two
 * channels can never produce the same id. Without a clientId every message is new.
 */
function messageIdOf(channelId: string, clientId: string | undefined): string {
  if (clientId === undefined) return randomUUID();
  const h = createHash('sha256').update(`${channelId}\n${clientId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function withClientId(frame: ErrorFrame, clientId: string | undefined): ErrorFrame {
  return clientId === undefined ? frame : { ...frame, clientId };
}
