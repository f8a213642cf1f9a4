import { z } from 'zod';
import { parseChannelKey } from '../core/model.js';

/** Longest channel key accepted in a path (platform ids are far shorter). */
export const MAX_KEY_CHARS = 600;

/** `:key` path parameter: `platform:channelId`, URL-encoded by the caller and decoded by fastify. */
export const channelKeyParams = z.object({
  key: z
    .string()
    .min(1)
    .max(MAX_KEY_CHARS)
    .refine((key) => parseChannelKey(key).channelId !== '', 'a channel key is platform:channelId, URL-encoded (webhook%3Aroom-1)'),
});

/** `GET /api/v1/channels` query: optional search and paging for big gateways (the dashboard uses them). */
export const listQuery = z.object({
  q: z.string().max(MAX_KEY_CHARS).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  sort: z.enum(['key', 'busy']).default('key'),
  active: z.enum(['true', 'false']).optional(),
});

/** `POST /api/v1/channels/:key/messages`. */
export const injectBody = z.strictObject({
  text: z.string().max(16_000).refine((t) => t.trim().length > 0, 'text must not be empty'),
  userId: z.string().trim().min(1).max(256).optional(),
  userName: z.string().trim().min(1).max(256).optional(),
  front: z.boolean().default(false),
});
