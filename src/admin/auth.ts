import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../errors.js';
import { sendError } from '../http/error-reply.js';

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

/** Host names a browser only sends for this machine; any port. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Methods that change state: these carry the cross-site check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `host` and `port` of a `Host` header value, lowercased; undefined when it is not one. */
function parseHostHeader(value: string | undefined): { hostname: string; port: string } | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(`http://${value}`);
    // Anything beyond host[:port] (a path, credentials) means this is not a Host header a client sends.
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
    return { hostname: url.hostname, port: url.port };
  } catch {
    return undefined;
  }
}

/**
 * True when `allowed` (`http.allowedHosts`) names this host: an entry `name` allows any port, `name:port`
 * only that port.
 */
function hostAllowed(host: { hostname: string; port: string }, allowed: ReadonlyArray<{ hostname: string; port: string }>): boolean {
  if (LOOPBACK_NAMES.has(host.hostname)) return true;
  return allowed.some((a) => a.hostname === host.hostname && (a.port === '' || a.port === host.port));
}

/**
 * The origin a mutating request comes from: its `Origin` header, else the origin of its `Referer`;
 * undefined when it has neither (the CLI, curl, scripts). `'null'` (a sandboxed page, a redirect) stays
 * `'null'`, which matches no host.
 */
function requestOrigin(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '') return origin;
  const referer = request.headers.referer;
  if (typeof referer !== 'string' || referer === '') return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}

/** True when `origin` is the server the request reached, as named by its `Host` header. */
function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  const host = parseHostHeader(hostHeader);
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  // Behind a TLS proxy the page is https while the Host the gateway sees has no port: compare the
  // effective ports under the page's scheme.
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return url.hostname === host.hostname && (url.port || defaultPort) === (host.port || defaultPort);
}

export interface AdminAuthOptions {
  /** `admin.token`; empty means loopback clients only. */
  token: string;
  /** `http.allowedHosts`: `Host` names besides the loopback ones that token-less admin answers. @defaultValue [] */
  allowedHosts?: readonly string[];
  /**
   * Answers a refused request instead of the JSON error (the dashboard page shows its token prompt
   * with the 401 status). Return undefined to fall back to the JSON error.
   */
  onUnauthorized?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
}

function forbidden(reply: FastifyReply, reason: string, message: string): FastifyReply {
  return sendError(reply, new GatewayError(ErrorCode.Forbidden, message, { details: { reason } }));
}

/**
 * The admin routes' `onRequest` hook. With a token: `Authorization: Bearer <token>` or 401. Without one:
 * only loopback clients that reached the gateway by a loopback name (or an `http.allowedHosts` name), and
 * no request relayed by a proxy, else 403. Either way a mutating request whose `Origin` (else `Referer`)
 * names another origin than the gateway's is refused with 403: that is what a page open in the
 * operator's browser sends, whatever its content type. The answer's `error.reason` says which rule.
 */
export function createAdminAuth(options: AdminAuthOptions) {
  const { token } = options;
  const allowed = (options.allowedHosts ?? []).map((h) => parseHostHeader(h.trim().toLowerCase())).filter((h) => h !== undefined);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (token) {
      const presented = bearerToken(request.headers.authorization);
      if (presented === undefined || !tokenMatches(presented, token)) {
        void reply.header('www-authenticate', 'Bearer realm="batchgate"');
        const custom = options.onUnauthorized?.(request, reply);
        if (custom) return custom;
        const what = presented === undefined ? 'missing Authorization: Bearer <admin.token>' : 'the bearer token does not match admin.token';
        return sendError(reply, new GatewayError(ErrorCode.Unauthorized, what));
      }
    } else {
      const refused = refuseWithoutToken(request, allowed);
      if (refused) return forbidden(reply, refused.reason, refused.message);
    }
    if (!SAFE_METHODS.has(request.method)) {
      const origin = requestOrigin(request);
      if (origin !== undefined && !sameOrigin(origin, request.headers.host)) {
        return forbidden(
          reply,
          'origin',
          `cross-site request refused: ${request.headers.origin ? 'Origin' : 'Referer'} ${JSON.stringify(origin)} is not this gateway's origin (pages on other sites cannot drive the admin API; the CLI and curl send neither header)`,
        );
      }
    }
    return undefined;
  };
}

/** Why a token-less request is refused, or undefined when it may go on. */
function refuseWithoutToken(request: FastifyRequest, allowed: ReadonlyArray<{ hostname: string; port: string }>): { reason: string; message: string } | undefined {
  const fix = 'set admin.token (or BATCHGATE_ADMIN_TOKEN) to allow remote access';
  if (!isLoopback(request.socket.remoteAddress ?? request.ip)) {
    return { reason: 'remote', message: `the admin API answers loopback clients only while admin.token is empty: ${fix}` };
  }
  // A reverse proxy on this host connects from loopback on behalf of anyone on the internet.
  if (request.headers.forwarded !== undefined || request.headers['x-forwarded-for'] !== undefined) {
    return { reason: 'forwarded', message: `request relayed by a proxy (Forwarded / X-Forwarded-For): not a loopback client while admin.token is empty; ${fix}, or do not forward admin routes (docs/security.md)` };
  }
  const host = parseHostHeader(request.headers.host);
  if (!host || !hostAllowed(host, allowed)) {
    return {
      reason: 'host',
      message: `Host ${JSON.stringify(request.headers.host ?? '')} is not a loopback name (127.0.0.1, localhost, [::1]) nor in http.allowedHosts: refused while admin.token is empty (a page on another site may have pointed its DNS name at this machine)`,
    };
  }
  return undefined;
}
