import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AdminHost } from '../host.js';
import { channelKeyParams } from '../schemas.js';
import { defineRoute } from '../validated-route.js';

const querystring = z.strictObject({ limit: z.coerce.number().int().min(1).max(100_000).optional() });

/**
 * `GET /api/v1/channels/:key/timeline?limit=N`: `{ key, entries }`, the channel's last decisions with their
 * reasons, oldest first (all that `observability.timelineSize` keeps by default). A channel with no entries,
 * known or not, answers an empty list: the timeline outlives the channel's state (an idle channel leaves
 * memory, its stream stays in Redis), so 404 would say less than the empty list does.
 */
export function registerTimelineRoute(app: FastifyInstance, host: AdminHost): void {
  defineRoute(app, 'GET', '/api/v1/channels/:key/timeline', { params: channelKeyParams, querystring }, async ({ params, query }) => ({
    key: params.key,
    entries: await host.timeline.read(params.key, query.limit ?? Math.max(1, host.config.observability.timelineSize)),
  }));
}
