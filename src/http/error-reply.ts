import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCode, GatewayError, ValidationError, asGatewayError } from '../errors.js';

/** Turns a coded error into the body a route's clients read. */
export type ErrorBody = (err: GatewayError) => unknown;

/** No body at all: platforms that read only the status (Slack). */
export const emptyErrorBody: ErrorBody = () => undefined;

/** The gateway's one error body: `{ error: { code, message, issues?, ...details } }` (docs/errors.md). */
export const gatewayErrorBody: ErrorBody = (err) => {
  const error: Record<string, unknown> = { ...err.details, code: err.code, message: err.message };
  if (err instanceof ValidationError) error['issues'] = err.issues;
  return { error };
};

/** Answers `err` with its code's status (the registry in src/errors.ts) and `body`'s shape of it. */
export function sendError(reply: FastifyReply, err: GatewayError, body: ErrorBody = gatewayErrorBody): FastifyReply {
  return reply.code(err.statusCode).send(body(err));
}

export interface ErrorHandlerOptions {
  /** Where failures (status 500 and up, but 503) are logged; a getter for parts whose logger exists only once started. */
  logger: () => Logger | undefined;
  /** The log line of a failure, e.g. `admin request failed`. */
  failure: string;
  /** The message of a body past the route's limit. @defaultValue fastify's own */
  payloadTooLarge?: string;
  /** The body's shape. @defaultValue {@link gatewayErrorBody} */
  body?: ErrorBody;
}

/**
 * The fastify error handler of every scope the gateway serves: our errors keep their code; fastify's own 4xx
 * (bad JSON, wrong content type, body too large) become BG_ERR_BAD_REQUEST / BG_ERR_PAYLOAD_TOO_LARGE; the rest
 * is wrapped as BG_ERR_INTERNAL and logged. Each scope sets it with its own body shape and log line.
 */
export function httpErrorHandler(options: ErrorHandlerOptions) {
  return (err: FastifyError | Error, _request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const coded = codedHttpError(err, options.payloadTooLarge);
    // 503 is "come back later" (shutting down, not ready, Redis away): expected, and said by the status itself.
    if (coded.statusCode >= 500 && coded.statusCode !== 503) options.logger()?.error({ err }, options.failure);
    return sendError(reply, coded, options.body);
  };
}

function codedHttpError(err: FastifyError | Error, payloadTooLarge: string | undefined): GatewayError {
  if (err instanceof GatewayError) return err;
  const status = (err as FastifyError).statusCode ?? 500;
  if (status === 413) return new GatewayError(ErrorCode.PayloadTooLarge, payloadTooLarge ?? err.message);
  if (status >= 400 && status < 500) return new GatewayError(ErrorCode.BadRequest, err.message);
  return asGatewayError(err);
}
