import type { FastifyError, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ErrorCode, GatewayError, ValidationError, asGatewayError } from '../core/errors.js';

/** The one error body of the admin API: `{ error: { code, message, issues?, ...details } }`. */
export function sendError(reply: FastifyReply, err: GatewayError): FastifyReply {
  const error: Record<string, unknown> = { ...err.details, code: err.code, message: err.message };
  if (err instanceof ValidationError) error['issues'] = err.issues;
  return reply.code(err.statusCode).send({ error });
}

/**
 * Maps whatever a handler or fastify threw to a coded answer: our errors keep their code, fastify's own
 * 4xx (bad JSON, wrong content type, body too large) become BG_ERR_BAD_REQUEST / PAYLOAD_TOO_LARGE, the
 * rest is wrapped as BG_ERR_INTERNAL and logged.
 */
export function adminErrorHandler(logger: Logger) {
  return (err: FastifyError | Error, _req: unknown, reply: FastifyReply): FastifyReply => {
    if (err instanceof GatewayError) {
      if (err.statusCode >= 500) logger.error({ err }, 'admin request failed');
      return sendError(reply, err);
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status === 413) return sendError(reply, new GatewayError(ErrorCode.PayloadTooLarge, err.message));
    if (status >= 400 && status < 500) return sendError(reply, new GatewayError(ErrorCode.BadRequest, err.message));
    logger.error({ err }, 'admin request failed');
    return sendError(reply, asGatewayError(err));
  };
}
