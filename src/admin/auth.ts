import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../core/errors.js';
import { sendError } from './http-errors.js';

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms. */
export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Compares a presented token with the configured one in constant time. Both sides are hashed first so
 * the comparison never leaks the token's length through an early length mismatch.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export interface AdminAuthOptions {
  /** `admin.token`; empty means loopback clients only. */
  token: string;
  /**
   * Answers a refused request instead of the JSON error (the dashboard page shows its token prompt
   * with the 401 status). Return undefined to fall back to the JSON error.
   */
  onUnauthorized?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

/**
 * The admin routes' `onRequest` hook (DESIGN §6): with a token, `Authorization: Bearer <token>` or 401;
 * without one, loopback clients only (403 for the rest).
 */
export function createAdminAuth(options: AdminAuthOptions) {
  const { token } = options;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (token) {
      const presented = bearerToken(request.headers.authorization);
      if (presented !== undefined && tokenMatches(presented, token)) return undefined;
      void reply.header('www-authenticate', 'Bearer realm="batchgate"');
      const custom = options.onUnauthorized?.(request, reply);
      if (custom) return custom;
      const what = presented === undefined ? 'missing Authorization: Bearer <admin.token>' : 'the bearer token does not match admin.token';
      return sendError(reply, new GatewayError(ErrorCode.Unauthorized, what));
    }
    if (isLoopback(request.socket.remoteAddress ?? request.ip)) return undefined;
    return sendError(
      reply,
      new GatewayError(ErrorCode.Forbidden, 'the admin API answers loopback clients only while admin.token is empty: set admin.token (or BATCHGATE_ADMIN_TOKEN) to allow remote access'),
    );
  };
}
