import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AcceptResult, AdapterContext, PlatformAdapter, SendOptions } from '../adapter.js';
import { AdapterError, asGatewayError, ErrorCode, GatewayError, InvalidMessageError, LifecycleError, refusalError, RefusalWord, ShuttingDownError, ValidationError } from '../../src/errors.js';
import type { OutboundMessage } from '../../src/core/model.js';
import { httpErrorHandler, sendError } from '../../src/http/error-reply.js';
import { SIGNATURE_HEADER, SignatureReplayGuard, TIMESTAMP_HEADER, verifySignature } from '../../src/delivery/signature.js';
import { RecentKeys } from '../../src/core/recent-keys.js';
import { isHttpUrl, parseInbound } from './inbound-schema.js';
import { parseMessageChange } from './change-schema.js';
import { ReplySender, type ReplyStats } from './reply-sender.js';
import { parseTyping, TYPING_ROUTE } from './typing-route.js';

/** The `adapters.webhook` config section plus `http.bodyLimitBytes`; every key has the config's default. */
export interface WebhookAdapterOptions {
  enabled?: boolean;
  /** HMAC secret for inbound requests and outbound replies; empty: unsigned. @defaultValue '' */
  secret?: string;
  /** Where replies are POSTed; empty: replies are logged only. @defaultValue '' */
  replyUrl?: string;
  /** How long a message id is remembered to answer duplicates. @defaultValue 600000 */
  dedupeTtlMs?: number;
  /** @defaultValue 6 */
  replyAttempts?: number;
  /** @defaultValue 250 */
  replyBackoffMs?: number;
  /** @defaultValue 5000 */
  replyBackoffMaxMs?: number;
  /** @defaultValue 10000 */
  replyTimeoutMs?: number;
  /** Largest accepted request body (`http.bodyLimitBytes`). @defaultValue 262144 */
  bodyLimitBytes?: number;
  /** Cap on remembered ids. @defaultValue 100000 */
  maxRememberedIds?: number;
  /** How long `close()` waits for replies still being delivered. @defaultValue 10000 */
  closeTimeoutMs?: number;
  /** Clock for the dedupe TTL. */
  now?: () => number;
}

/** Inbound and outbound counters. */
export interface WebhookStats extends ReplyStats {
  /** Requests answered `duplicate`. */
  duplicates: number;
}

const ROUTE = '/v1/messages';

/**
 * The generic HTTP platform: anything that can POST JSON sends messages to `POST /v1/messages`, and
 * replies come back as signed POSTs to `replyUrl`.
 */
export class WebhookAdapter implements PlatformAdapter {
  readonly platform = 'webhook';
  private readonly secret: string;
  private readonly replyUrl: string;
  private readonly bodyLimitBytes: number;
  /** Ids the sender chose, seen in the last `dedupeTtlMs` (check and record in one synchronous step). */
  private readonly recent: RecentKeys;
  /** Signatures of bodies without an `id`: a repeat within the tolerance is a replay. */
  private readonly replays: SignatureReplayGuard;
  private ctx: AdapterContext | undefined;
  private logger: Logger | undefined;
  private sender: ReplySender | undefined;
  private closing: Promise<void> | undefined;
  private duplicates = 0;

  constructor(private readonly options: WebhookAdapterOptions = {}) {
    this.secret = options.secret ?? '';
    this.replyUrl = options.replyUrl ?? '';
    this.bodyLimitBytes = options.bodyLimitBytes ?? 262_144;
    this.recent = new RecentKeys(options.maxRememberedIds ?? 100_000, options.dedupeTtlMs ?? 600_000, options.now);
    this.replays = new SignatureReplayGuard(options.maxRememberedIds ?? 100_000, options.now);
  }

  /**
   * Registers `POST /v1/messages` in its own encapsulated plugin: the raw-body parser the HMAC check needs,
   * the body limit and the error shape stay inside it and never change the shared server's other routes.
   */
  routes(app: FastifyInstance): void {
    void app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      // Any content type is read as bytes and parsed as JSON here: the signature covers the exact bytes, and
      // `curl -d` sends form-urlencoded by default.
      const asBytes = { parseAs: 'buffer' as const, bodyLimit: this.bodyLimitBytes };
      const keepBytes = (_req: FastifyRequest, body: Buffer, done: (err: null, body: Buffer) => void) => done(null, body);
      scope.addContentTypeParser('*', asBytes, keepBytes);
      // The same parser under the usual type too: fastify caches a parser found by type, but looks the
      // catch-all up again (parsing the header) on every request (~2 µs, profiled).
      scope.addContentTypeParser('application/json', asBytes, keepBytes);
      scope.setErrorHandler(
        httpErrorHandler({ logger: () => this.logger, failure: 'webhook request failed', payloadTooLarge: `body is larger than ${this.bodyLimitBytes} bytes (http.bodyLimitBytes)` }),
      );
      scope.post(ROUTE, { bodyLimit: this.bodyLimitBytes }, (req, reply) => this.handle(req, reply));
      // Edits and deletes of a message sent before: `PATCH { channelId, text }`, `DELETE ?channelId=…`.
      scope.patch(`${ROUTE}/:id`, { bodyLimit: this.bodyLimitBytes }, (req, reply) => this.handleChange(req, reply, 'edit'));
      scope.delete(`${ROUTE}/:id`, { bodyLimit: this.bodyLimitBytes }, (req, reply) => this.handleChange(req, reply, 'delete'));
      scope.post(TYPING_ROUTE, { bodyLimit: this.bodyLimitBytes }, (req, reply) => this.handleTyping(req, reply));
    });
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.ctx) throw new LifecycleError('webhook adapter already started');
    if (this.closing) throw new LifecycleError('webhook adapter was closed; create a new one');
    if (this.replyUrl && !isHttpUrl(this.replyUrl)) {
      throw new AdapterError(this.platform, `replyUrl "${this.replyUrl}" is not an http(s) URL: set adapters.webhook.replyUrl to http(s)://… or leave it empty`);
    }
    const attempts = this.options.replyAttempts ?? 6;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new AdapterError(this.platform, `replyAttempts must be a whole number of at least 1 (got ${attempts})`);
    }
    this.logger = ctx.logger.child({ component: 'webhook' });
    this.sender = new ReplySender(
      {
        replyUrl: this.replyUrl,
        secret: this.secret,
        attempts,
        backoffMs: this.options.replyBackoffMs ?? 250,
        backoffMaxMs: this.options.replyBackoffMaxMs ?? 5_000,
        timeoutMs: this.options.replyTimeoutMs ?? 10_000,
        closeTimeoutMs: this.options.closeTimeoutMs ?? 10_000,
      },
      this.logger,
    );
    this.ctx = ctx;
    if (!this.secret) this.logger.info('webhook inbound requests are not authenticated: set adapters.webhook.secret to require signatures');
    if (!this.replyUrl) this.logger.info('no adapters.webhook.replyUrl: each webhook reply is printed in this log (info), not sent');
  }

  /**
   * Resolves once the reply was delivered (or there is no replyUrl); rejects with an AdapterError once its
   * retry budget ran out, so the gateway counts it failed. Either way it is logged and counted in {@link stats}.
   */
  async send(reply: OutboundMessage, options: SendOptions = {}): Promise<void> {
    if (!this.sender) throw new LifecycleError('webhook adapter: send() before start()');
    if (!(await this.sender.send(reply, options.signal))) {
      if (options.signal?.aborted) throw new GatewayError(ErrorCode.Cancelled, `reply for batch ${reply.batchId} not sent: the batch was cancelled`);
      throw new AdapterError('webhook', `reply for batch ${reply.batchId} not delivered to replyUrl (retry budget exhausted or adapter closed)`);
    }
  }

  ready(): boolean {
    return this.ctx !== undefined && !this.closing;
  }

  stats(): WebhookStats {
    const replies = this.sender?.stats() ?? { delivered: 0, failed: 0, retries: 0, skipped: 0, cancelled: 0 };
    return { ...replies, duplicates: this.duplicates };
  }

  /** Stops accepting (503), then waits a bounded time for replies still being delivered. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.sender?.close() ?? Promise.resolve();
    return this.closing;
  }

  /** The checks every route makes first: open, signed (with a secret), valid UTF-8. */
  private admit(req: FastifyRequest): { error: GatewayError } | { ctx: AdapterContext; raw: Buffer; signature: string | undefined } {
    const ctx = this.ctx;
    if (!ctx || this.closing || ctx.signal.aborted) return { error: new ShuttingDownError() };
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let signature: string | undefined;
    if (this.secret) {
      const check = verifySignature(this.secret, raw, { signature: req.headers[SIGNATURE_HEADER], timestamp: req.headers[TIMESTAMP_HEADER] }, this.options.now?.());
      if (!check.ok) return { error: new GatewayError(ErrorCode.BadSignature, check.message, { details: { reason: check.reason } }) };
      signature = check.signature;
    }
    // Decoding with replacement characters would let U+FFFD into channel keys and texts.
    if (!isUtf8(raw)) return { error: new GatewayError(ErrorCode.BadRequest, 'body is not valid UTF-8') };
    return { ctx, raw, signature };
  }

  /** A JSON body, or the 400 that says why not. */
  private static json(raw: Buffer): { ok: true; value: unknown } | { ok: false; error: GatewayError } {
    try {
      if (raw.length === 0) throw new Error('the body is empty');
      return { ok: true, value: JSON.parse(raw.toString('utf8')) };
    } catch (err) {
      return { ok: false, error: new GatewayError(ErrorCode.BadRequest, `body is not valid JSON (${(err as Error).message})`) };
    }
  }

  /** `PATCH /v1/messages/:id` and `DELETE /v1/messages/:id?channelId=…` → `200 { applied }`. */
  private async handleChange(req: FastifyRequest, reply: FastifyReply, kind: 'edit' | 'delete'): Promise<FastifyReply> {
    const admitted = this.admit(req);
    if ('error' in admitted) return sendError(reply, admitted.error);
    let body: unknown = {};
    if (kind === 'edit') {
      const json = WebhookAdapter.json(admitted.raw);
      if (!json.ok) return sendError(reply, json.error);
      body = json.value;
    }
    const { id } = req.params as { id: string };
    const parsed = parseMessageChange(kind, id, body, req.query);
    if (!parsed.ok) return sendError(reply, new InvalidMessageError(parsed.issues));
    const { channelId, text } = parsed.value;
    const change = admitted.ctx.change;
    const outcome = change ? await change(channelId, id, text) : { applied: 'unknown' as const };
    return reply.code(200).send({ applied: outcome.applied });
  }

  /** A refusal of a replayed capture: the signature of a body without an id was already taken. */
  private replayed(reply: FastifyReply): FastifyReply {
    return sendError(
      reply,
      new GatewayError(ErrorCode.BadSignature, `replayed request: this ${SIGNATURE_HEADER} was already accepted; sign each request anew, or give the message an id to have repeats answered "duplicate"`, {
        details: { reason: 'replay' },
      }),
    );
  }

  /**
   * `POST /v1/typing` `{ channelId, userId }` → 202 `{ held }`: the person is typing, so their open batch
   * waits `typingHoldMs` more. Signed and replay-checked like a message (the body has no id to dedupe by).
   */
  private async handleTyping(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const admitted = this.admit(req);
    if ('error' in admitted) return sendError(reply, admitted.error);
    const json = WebhookAdapter.json(admitted.raw);
    if (!json.ok) return sendError(reply, json.error);
    const parsed = parseTyping(json.value);
    if (!parsed.ok) {
      const said = parsed.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
      return sendError(reply, new ValidationError(ErrorCode.BadRequest, `invalid typing signal: ${said}`, parsed.issues));
    }
    if (admitted.signature !== undefined && !this.replays.claim(admitted.signature)) return this.replayed(reply);
    const result = (await admitted.ctx.typing?.(parsed.value.channelId, parsed.value.userId)) ?? { held: false };
    return reply.code(202).send({ held: result.held });
  }

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const admitted = this.admit(req);
    if ('error' in admitted) return sendError(reply, admitted.error);
    const { ctx, raw, signature } = admitted;
    const json0 = WebhookAdapter.json(raw);
    if (!json0.ok) return sendError(reply, json0.error);
    const json = json0.value;
    const parsed = parseInbound(json);
    if (!parsed.ok) return sendError(reply, new InvalidMessageError(parsed.issues));
    const body = parsed.value;

    // A body with an id is deduplicated by it below (a repeat answers "duplicate"); without one, the
    // signature is what a replayed capture repeats.
    const replayKey = body.id === undefined ? signature : undefined;
    if (replayKey !== undefined && !this.replays.claim(replayKey)) return this.replayed(reply);
    const turnedAway = () => {
      if (body.id !== undefined) this.recent.delete(body.id);
      if (replayKey !== undefined) this.replays.release(replayKey);
    };

    const id = body.id ?? randomUUID();
    // Generated ids are unique by construction; only ids the sender chose can repeat.
    if (body.id !== undefined && !this.recent.addIfNew(body.id)) {
      this.duplicates++;
      return reply.code(200).send({ accepted: false, reason: RefusalWord[ErrorCode.Duplicate], id });
    }

    let result: AcceptResult;
    try {
      result = await ctx.accept({
        id,
        platform: this.platform,
        channelId: body.channelId,
        userId: body.userId,
        userName: body.userName || body.userId,
        text: body.text,
        extra: body.attachments ? { ...body.extra, attachments: body.attachments } : (body.extra ?? {}),
      });
    } catch (err) {
      turnedAway();
      throw asGatewayError(err);
    }
    if (result.accepted) return reply.code(202).send({ accepted: true, channelKey: result.channelKey, id: result.id });
    if (result.reason === ErrorCode.Duplicate) {
      this.duplicates++;
      return reply.code(200).send({ accepted: false, reason: RefusalWord[ErrorCode.Duplicate], id: result.id ?? id });
    }
    // Turned away, not taken: the sender may retry the same request later.
    turnedAway();
    if (result.reason === ErrorCode.Unavailable) reply.header('retry-after', '1');
    return sendError(reply, refusalError(result.reason, result.detail));
  }
}

/** Builds the webhook adapter from its config section and `http.bodyLimitBytes`. */
export function createWebhookAdapter(options: WebhookAdapterOptions = {}): WebhookAdapter {
  return new WebhookAdapter(options);
}
