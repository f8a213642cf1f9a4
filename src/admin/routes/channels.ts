import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ChannelStats } from '../../core/batch-store.js';
import { EngineRefusalCode, ErrorCode, GatewayError, ShuttingDownError, UnknownChannelError, refusalError } from '../../errors.js';
import type { BatchingEngine } from '../../core/engine.js';
import { parseChannelKey } from '../../core/model.js';
import type { AdminHost } from '../host.js';
import { channelKeyParams, injectBody, listQuery } from '../schemas.js';
import { defineRoute } from '../validated-route.js';

/** The channel's stats, or a 404 for a channel this gateway has never seen (or has forgotten). */
export async function requireKnown(queue: BatchingEngine, key: string): Promise<ChannelStats> {
  const stats = await queue.stats(key);
  if (!stats) throw new UnknownChannelError(key);
  return stats;
}

function busyness(s: ChannelStats): number {
  return (s.processing ? 1_000_000_000 : 0) + s.pending + s.queuedMessages;
}

/** `/api/v1/channels…`: read a channel's queue and steer it (docs/admin-api.md). */
export function registerChannelRoutes(app: FastifyInstance, host: AdminHost, onInjected: (platform: string) => void): void {
  const { queue } = host;
  const refuseWhileClosing = () => {
    if (host.isShuttingDown) throw new ShuttingDownError();
  };

  defineRoute(app, 'GET', '/api/v1/channels', { querystring: listQuery }, async ({ query }) => {
    let channels = await queue.list();
    if (query.q) {
      const needle = query.q.toLowerCase();
      channels = channels.filter((c) => c.key.toLowerCase().includes(needle));
    }
    if (query.active !== undefined) channels = channels.filter((c) => c.active === (query.active === 'true'));
    if (query.sort === 'busy') channels.sort((a, b) => busyness(b) - busyness(a) || a.key.localeCompare(b.key));
    else channels.sort((a, b) => a.key.localeCompare(b.key));
    const total = channels.length;
    const page = query.limit === undefined && query.offset === 0 ? channels : channels.slice(query.offset, query.offset + (query.limit ?? total));
    return { channels: page, total, offset: query.offset };
  });

  defineRoute(app, 'GET', '/api/v1/channels/:key', { params: channelKeyParams }, async ({ params }) => requireKnown(queue, params.key));

  defineRoute(app, 'POST', '/api/v1/channels/:key/cancel', { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    return { cancelled: await queue.cancelCurrent(params.key) };
  });

  defineRoute(app, 'POST', '/api/v1/channels/:key/stop', { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    return queue.stop(params.key);
  });

  defineRoute(app, 'POST', '/api/v1/channels/:key/resume', { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    return queue.resume(params.key);
  });

  defineRoute(app, 'DELETE', '/api/v1/channels/:key/queue', { params: channelKeyParams }, async ({ params }) => {
    await requireKnown(queue, params.key);
    return { removed: await host.clearChannel(params.key) };
  });

  defineRoute(app, 'POST', '/api/v1/channels/:key/messages', { params: channelKeyParams, body: injectBody }, async ({ params, body }, _req, reply) => {
    refuseWhileClosing();
    const { platform, channelId } = parseChannelKey(params.key);
    const userId = body.userId ?? 'admin';
    const message = {
      id: `admin-${randomUUID()}`,
      platform,
      channelId,
      userId,
      userName: body.userName ?? userId,
      text: body.text,
      extra: { injected: true },
    };
    const result = body.front ? await queue.enqueueFront(message) : await queue.enqueue(message);
    if (!result.accepted) {
      const code = EngineRefusalCode[result.reason];
      if (code === ErrorCode.QueueFull) throw new GatewayError(code, `channel ${result.channelKey} is full (overflow: reject)`, { details: { channelKey: result.channelKey } });
      if (code === ErrorCode.ShuttingDown) throw new ShuttingDownError();
      // Unavailable (distributed mode, Redis unreachable): 503, the operator retries.
      throw refusalError(code);
    }
    onInjected(platform);
    return reply.code(202).send({ accepted: true, channelKey: result.channelKey, id: result.id, front: body.front });
  });
}
