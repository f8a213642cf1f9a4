import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Gateway } from '../../gateway.js';
import { defineRoute } from '../validated-route.js';

const querystring = z.strictObject({ limit: z.coerce.number().int().min(1).max(1_000).default(100) });

/**
 * `GET /api/v1/dead-letters?limit=N`: batches that failed every attempt under `onBatchFailed: dead-letter`,
 * newest first. Embedded mode has none (a failed batch is logged and counted; the channel moves on).
 */
export function registerDeadLetterRoute(app: FastifyInstance, gateway: Gateway): void {
  defineRoute(app, 'GET', '/api/v1/dead-letters', { querystring }, async ({ query }) => ({
    deadLetters: (await gateway.queue.deadLetters?.(query.limit)) ?? [],
  }));
}
