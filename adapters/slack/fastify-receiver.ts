import { parse as parseQuery } from 'node:querystring';
import { ReceiverMultipleAckError, verifySlackRequest, type App, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCode, GatewayError, asGatewayError } from '../../src/errors.js';
import { emptyErrorBody, httpErrorHandler, sendError } from '../../src/http/error-reply.js';
import { silentLogger } from '../../src/logger.js';

/** Options of {@link FastifyReceiver}. */
export interface FastifyReceiverOptions {
  signingSecret: string;
  /** Where verification failures are logged; replaceable later through {@link FastifyReceiver.logger}. */
  logger?: Logger;
  /** Route for the Events API request URL. @defaultValue '/slack/events' */
  path?: string;
  /**
   * How long to wait for Bolt to ack before answering 404 (Bolt's own receivers do the same). Events API
   * events are acked by Bolt before any listener runs, so this only bounds interactive payloads nobody handles.
   * @defaultValue 3001
   */
  unhandledRequestTimeoutMs?: number;
}

type AckBody = string | Record<string, unknown> | undefined;

/**
 * Bolt's Receiver contract on the gateway's own fastify server, so Slack's Events API shares the one port.
 *
 * It does what Bolt's HTTPReceiver does, in the same order: verify the signature over the raw body with
 * Bolt's `verifySlackRequest` (bad or stale → 401), parse (form or JSON; bad → 400), answer `ssl_check`
 * and `url_verification` itself, then hand the event to `app.processEvent` and answer as soon as Bolt acks.
 * Bolt acks Events API events before its listeners run, so Slack gets its 200 well inside the 3 s after
 * which it would retry, whatever the queue is doing.
 */
export class FastifyReceiver implements Receiver {
  readonly path: string;
  #app: App | undefined;
  #receiving = false;
  readonly #signingSecret: string;
  /** Settable because routes are mounted before the gateway hands the adapter its logger. */
  logger: Logger;
  readonly #unhandledTimeoutMs: number;

  constructor(options: FastifyReceiverOptions) {
    this.path = options.path ?? '/slack/events';
    this.#signingSecret = options.signingSecret;
    this.logger = options.logger ?? silentLogger();
    this.#unhandledTimeoutMs = options.unhandledRequestTimeoutMs ?? 3001;
  }

  /** Called by Bolt's App constructor. */
  init(app: App): void {
    this.#app = app;
  }

  /**
   * Registers the route in its own encapsulated plugin: the signature covers the exact bytes Slack sent,
   * so this scope replaces every body parser with one that keeps the raw buffer, and the rest of the
   * shared server keeps its JSON parsing.
   */
  routes(server: FastifyInstance): void {
    void server.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      // Slack reads only the status, as Bolt's own receiver answers it.
      scope.setErrorHandler(httpErrorHandler({ logger: () => this.logger, failure: 'slack request failed', body: emptyErrorBody }));
      scope.post(this.path, (req, reply) => this.#handle(req, reply));
    });
  }

  /** Starts answering events (until then, and after stop, the route answers 503 so Slack retries later). */
  async start(): Promise<void> {
    this.#receiving = true;
  }

  async stop(): Promise<void> {
    this.#receiving = false;
  }

  get receiving(): boolean {
    return this.#receiving;
  }

  async #handle(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const app = this.#app;
    if (!this.#receiving || !app) return sendError(reply, new GatewayError(ErrorCode.NotReady, 'slack adapter is not receiving'), emptyErrorBody);

    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : typeof req.body === 'string' ? req.body : '';
    const signature = req.headers['x-slack-signature'];
    const timestamp = req.headers['x-slack-request-timestamp'];
    try {
      if (typeof signature !== 'string' || typeof timestamp !== 'string') throw new Error('missing x-slack-signature or x-slack-request-timestamp');
      verifySlackRequest({
        signingSecret: this.#signingSecret,
        body: raw,
        headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': Number(timestamp) },
      });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, ip: req.ip }, 'slack request failed verification');
      return sendError(reply, new GatewayError(ErrorCode.BadSignature, 'slack request failed verification'), emptyErrorBody);
    }

    let body: Record<string, unknown>;
    try {
      body = parseBody(raw, req.headers['content-type']);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'malformed slack request body');
      return sendError(reply, new GatewayError(ErrorCode.BadRequest, 'malformed slack request body'), emptyErrorBody);
    }
    if (body.ssl_check === '1') return reply.code(200).send();
    if (body.type === 'url_verification') return reply.code(200).send({ challenge: body.challenge });

    let acked = false;
    let resolveAck!: (b: AckBody) => void;
    const ackBody = new Promise<AckBody>((resolve) => (resolveAck = resolve));
    const event: ReceiverEvent = {
      body,
      ack: async (response?: AckBody) => {
        if (acked) throw new ReceiverMultipleAckError();
        acked = true;
        resolveAck(response);
      },
      retryNum: headerInt(req.headers['x-slack-retry-num']),
      retryReason: headerString(req.headers['x-slack-retry-reason']),
      customProperties: {},
    };

    // Settles only when Bolt throws; a clean return without an ack waits for the timeout, as in Bolt.
    const failed = new Promise<unknown>((resolve) => {
      app.processEvent(event).catch(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const unhandled = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#unhandledTimeoutMs);
      timer.unref();
    });
    // The first of: Bolt acks; Bolt fails before acking; nobody acks in time.
    type Outcome = { kind: 'ack'; body: AckBody } | { kind: 'error'; err: unknown } | { kind: 'timeout' };
    const onAck = (b: AckBody): Outcome => ({ kind: 'ack', body: b });
    const outcome = await Promise.race<Outcome>([
      ackBody.then(onAck),
      failed.then((err): Outcome | Promise<Outcome> => (acked ? ackBody.then(onAck) : { kind: 'error', err })),
      unhandled.then((): Outcome => ({ kind: 'timeout' })),
    ]);
    clearTimeout(timer);
    if (outcome.kind === 'ack') {
      if (outcome.body === undefined || outcome.body === '') return reply.code(200).send();
      return reply.code(200).send(outcome.body);
    }
    if (outcome.kind === 'error') {
      this.logger.error({ err: outcome.err }, 'bolt failed to process a slack event before acking it');
      return sendError(reply, asGatewayError(outcome.err), emptyErrorBody);
    }
    this.logger.warn({ type: body.type }, 'slack request was not acknowledged within 3 s');
    return reply.code(404).send();
  }
}

/** Slack sends `application/x-www-form-urlencoded` (interactivity: a `payload` field of JSON) or JSON. */
function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.split(';')[0]?.trim() === 'application/x-www-form-urlencoded') {
    const parsed = parseQuery(raw);
    if (typeof parsed.payload === 'string') return JSON.parse(parsed.payload) as Record<string, unknown>;
    return { ...parsed };
  }
  const value: unknown = JSON.parse(raw);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('body is not a JSON object');
  return value as Record<string, unknown>;
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function headerInt(value: string | string[] | undefined): number | undefined {
  const s = headerString(value);
  if (s === undefined) return undefined;
  const n = Number.parseInt(s, 10);
  return Number.isNaN(n) ? undefined : n;
}
