import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AdminHost } from '../host.js';
import { defineRoute } from '../validated-route.js';

const querystring = z.strictObject({ limit: z.coerce.number().int().min(1).max(1_000).default(100) });

/**
 * `GET /api/v1/dead-letters?limit=N`: failed batches with their messages and error, newest first. Embedded
 * mode keeps the latest in memory (processor threw, rejected or timed out); distributed mode those that
 * failed every attempt under `onBatchFailed: dead-letter`.
 */
export function registerDeadLetterRoute(app: FastifyInstance, host: AdminHost): void {
  defineRoute(app, 'GET', '/api/v1/dead-letters', { querystring }, async ({ query }) => ({
    deadLetters: await host.queue.deadLetters(query.limit),
  }));
}
