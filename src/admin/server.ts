import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, GatewayError } from '../errors.js';
import { httpErrorHandler } from '../http/error-reply.js';
import type { AdminHost } from './host.js';
import { createAdminAuth } from './auth.js';
import { loadDashboard } from './dashboard.js';
import { registerEventStream, type EventStreamOptions } from './events-stream.js';
import { AdminMetrics } from './metrics.js';
import { registerChannelRoutes } from './routes/channels.js';
import { registerMetricsRoute } from './routes/metrics-route.js';
import { registerSettingsRoutes } from './routes/settings.js';
import { registerStatsRoute } from './routes/stats.js';
import { registerDeadLetterRoute } from './routes/dead-letters.js';
import { registerTimelineRoute } from './routes/timeline.js';

/** Tuning of the admin plugin (tests shorten the heartbeat). */
export interface AdminOptions {
  events?: EventStreamOptions;
}

/** What the admin plugin built, for the gateway and tests. */
export interface AdminHandle {
  metrics: AdminMetrics;
}

/**
 * Registers the admin surface on the host's one server (docs/admin-api.md): `/api/v1/*`, `/metrics`,
 * `/dashboard` behind one auth hook, in a scope of their own so the hook and error shape never touch the
 * adapters' routes. Call after `host.queue` exists and before the adapters start.
 */
export async function registerAdmin(app: FastifyInstance, host: AdminHost, options: AdminOptions = {}): Promise<AdminHandle> {
  const logger = host.logger.child({ component: 'admin' });
  const token = host.config.admin.token;
  if (!token) {
    logger.warn('admin.token is empty: the admin API, dashboard and metrics answer loopback clients only; set admin.token (or BATCHGATE_ADMIN_TOKEN) for remote access');
  }

  const metrics = new AdminMetrics(host);
  const unsubscribe = host.queue.on((event) => metrics.observe(event));
  host.signal.addEventListener('abort', unsubscribe, { once: true });
  // Every adapter's message comes in through the gateway's `accept`: count the ones it took into a channel.
  const stopCounting = host.onAccepted((msg) => metrics.countReceived(msg.platform));
  host.signal.addEventListener('abort', stopCounting, { once: true });
  const stopDropped = host.onReplyDropped((event) => metrics.observe(event));
  host.signal.addEventListener('abort', stopDropped, { once: true });

  const dashboard = await loadDashboard();
  await app.register(async (scope) => {
    scope.setErrorHandler(httpErrorHandler({ logger: () => logger, failure: 'admin request failed' }));
    acceptEmptyJsonBodies(scope);
    scope.addHook(
      'onRequest',
      createAdminAuth({
        token,
        allowedHosts: host.config.http.allowedHosts,
        // A browser cannot send a bearer header when it opens /dashboard: it gets the page (which holds no
        // data) with status 401, and the page asks for the token and sends it on every API call.
        onUnauthorized: (request, reply) => (request.url.split('?')[0] === '/dashboard' ? dashboard.page(request, reply, 401) : undefined),
      }),
    );
    registerChannelRoutes(scope, host, (platform) => metrics.countReceived(platform));
    registerSettingsRoutes(scope, host);
    const stream = registerEventStream(scope, host, logger, options.events);
    registerStatsRoute(scope, host, metrics, stream);
    registerDeadLetterRoute(scope, host);
    registerTimelineRoute(scope, host);
    registerMetricsRoute(scope, metrics);
    scope.get('/dashboard', (request, reply) => dashboard.page(request, reply));
  });
  await app.register(async (scope) => dashboard.registerAssets(scope));
  return { metrics };
}

/** The admin API as a plugin of the gateway's `plugins` list; the gateway mounts it first, on itself as the {@link AdminHost}. */
export function adminPlugin(options: AdminOptions = {}): (app: FastifyInstance, host: AdminHost) => Promise<void> {
  return async (app, host) => {
    await registerAdmin(app, host, options);
  };
}

/**
 * Clients that set `content-type: application/json` on every call send it on body-less cancel, stop, resume
 * and clear too; fastify's parser answers those 400 "Body cannot be empty". Here an empty body is no body, a body
 * that is not UTF-8 is a 400, and anything else goes to fastify's own parser (prototype-poisoning checks included).
 */
function acceptEmptyJsonBodies(scope: FastifyInstance): void {
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    if (bytes.length === 0) done(null, undefined);
    // Decoding with replacement characters would let U+FFFD into channel keys and texts.
    else if (!isUtf8(bytes)) done(new GatewayError(ErrorCode.BadRequest, 'body is not valid UTF-8'), undefined);
    else parseJson(request, bytes.toString('utf8'), done);
  });
}
