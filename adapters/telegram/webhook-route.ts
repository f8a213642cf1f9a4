import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Update } from 'grammy/types';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { httpErrorHandler, type ErrorBody } from '../../src/http/error-reply.js';

/** Where Telegram POSTs updates in webhook mode (register this URL with setWebhook, or set `webhookUrl`). */
export const TELEGRAM_WEBHOOK_PATH = '/telegram/webhook';

/** The header Telegram sends the webhook's `secret_token` in. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** True when the header holds exactly `secret` (constant time for equal lengths). */
export function secretMatches(header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header, 'utf8');
  const expected = Buffer.from(secret, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Errors answer in the Bot API's own shape, `{ ok: false, … }`, with the message in `error`. */
const telegramErrorBody: ErrorBody = (err) => ({ ok: false, error: err.message });

/**
 * `POST /telegram/webhook`: a request without the configured secret token is refused with 401 before its
 * body is looked at (anyone who finds the URL could otherwise post made-up updates); a valid one is handed
 * to `onUpdate` and answered 200 once the update was taken, so Telegram redelivers only what was not.
 * Encapsulated: its JSON parser and error shape do not touch the shared server's other routes.
 */
export function registerWebhookRoute(
  app: FastifyInstance,
  options: { secret: string; bodyLimitBytes?: number; onUpdate(update: Update): Promise<void>; ready(): boolean; logger?: () => Logger | undefined },
): void {
  void app.register(async (scope) => {
    scope.setErrorHandler(httpErrorHandler({ logger: options.logger ?? (() => undefined), failure: 'telegram webhook request failed', body: telegramErrorBody }));
    scope.post(TELEGRAM_WEBHOOK_PATH, { bodyLimit: options.bodyLimitBytes ?? 1_048_576 }, async (req, reply) => {
      if (!secretMatches(req.headers[SECRET_HEADER], options.secret)) {
        throw new GatewayError(ErrorCode.Unauthorized, 'unauthorized: X-Telegram-Bot-Api-Secret-Token does not match adapters.telegram.webhookSecret');
      }
      // Telegram retries a non-2xx later: while starting or closing, let it come back.
      if (!options.ready()) throw new GatewayError(ErrorCode.NotReady, 'not ready');
      const update = req.body as Update | undefined;
      if (typeof update !== 'object' || update === null || typeof update.update_id !== 'number') {
        throw new GatewayError(ErrorCode.BadRequest, 'body must be a Telegram Update object with an update_id');
      }
      await options.onUpdate(update);
      return reply.code(200).send({ ok: true });
    });
  });
}
