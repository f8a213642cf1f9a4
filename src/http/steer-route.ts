import type { FastifyInstance } from 'fastify';
import { messageToJSON } from '../core/model.js';
import { ErrorCode, GatewayError } from '../errors.js';
import type { SteerTokens } from '../processors/steer-tokens.js';
import { httpErrorHandler } from './error-reply.js';
import type { Logger } from 'pino';

/** Where a process that runs HTTP processors serves their steer takes. */
export const STEER_PATH = '/v1/steer';

/**
 * `POST /v1/steer` with `Authorization: Bearer <steerToken>` → `200 { messages: [...] }`: the messages
 * taken for the run holding the token (docs/writing-a-processor.md). No bearer → 401; a token no running
 * batch holds (wrong, or its run ended) → 401 saying so. The token is the only credential: no admin token.
 */
export async function registerSteerRoute(http: FastifyInstance, tokens: SteerTokens, logger: () => Logger | undefined): Promise<void> {
  await http.register(async (scope) => {
    scope.setErrorHandler(httpErrorHandler({ logger, failure: 'steer request failed' }));
    // Bots may post with no body at all, or with any content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.post(STEER_PATH, async (request) => {
      const header = request.headers.authorization ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (match === null) {
        throw new GatewayError(ErrorCode.Unauthorized, 'steer needs Authorization: Bearer <steerToken> (the steerToken of the batch request)', { details: { reason: 'missing token' } });
      }
      // `?waitMs=N` (at most 60 s): an empty take waits until something is offered, the run ends or N ms passed.
      const waitMs = Math.min(60_000, Math.max(0, Number((request.query as { waitMs?: string }).waitMs ?? 0) || 0));
      const taken = tokens.take(match[1]!, waitMs);
      if (taken === undefined) {
        throw new GatewayError(ErrorCode.Unauthorized, 'unknown or expired steer token: it is valid only while the batch it came with runs', { details: { reason: 'expired or unknown token' } });
      }
      return { messages: (await taken).map(messageToJSON) };
    });
  });
}
