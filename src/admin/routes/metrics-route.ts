import type { FastifyInstance } from 'fastify';
/** `GET /metrics`: Prometheus text exposition of the process's own registry (a gateway's or a worker's). */
export function registerMetricsRoute(app: FastifyInstance, metrics: { render(): Promise<{ contentType: string; body: string }> }): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
