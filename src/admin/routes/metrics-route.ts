import type { FastifyInstance } from 'fastify';
import type { AdminMetrics } from '../metrics.js';

/** `GET /metrics`: Prometheus text exposition of the gateway's own registry. */
export function registerMetricsRoute(app: FastifyInstance, metrics: AdminMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
