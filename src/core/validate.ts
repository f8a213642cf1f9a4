import { z } from 'zod';
import { InvalidMessageError } from '../errors.js';
import type { QueuedMessage } from './model.js';
import { toFieldIssues } from './policy.js';

const nonEmpty = (what: string) => z.string({ error: `${what} must be a string` }).min(1, `${what} must not be empty`);

const inboundSchema = z.object({
  id: nonEmpty('id').max(256),
  platform: nonEmpty('platform').max(64).regex(/^[a-z0-9_-]+$/i, 'platform may use letters, digits, _ and - only'),
  channelId: nonEmpty('channelId').max(512),
  userId: nonEmpty('userId').max(256),
  userName: z.string().max(256).optional(),
  text: z.string({ error: 'text must be a string' }).max(100_000),
  queuedAt: z.number().finite().optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
  raw: z.unknown().optional(),
});

/** Checks an inbound message and fills defaults; throws {@link InvalidMessageError} naming each bad field. */
export function validateMessage(input: unknown, now: number): QueuedMessage {
  // Fast path for the hot loop: well-formed input skips zod; anything doubtful gets zod's full report.
  if (looksValid(input)) return toQueuedMessage(input, now);
  const result = inboundSchema.safeParse(input);
  if (!result.success) throw new InvalidMessageError(toFieldIssues(result.error));
  return toQueuedMessage(result.data, now);
}

function toQueuedMessage(m: Candidate, now: number): QueuedMessage {
  return {
    id: m.id,
    platform: m.platform,
    channelId: m.channelId,
    userId: m.userId,
    userName: m.userName || m.userId,
    text: m.text,
    queuedAt: m.queuedAt ?? Math.round(now),
    extra: m.extra ?? {},
    raw: m.raw,
  };
}

type Candidate = Omit<QueuedMessage, 'queuedAt' | 'extra' | 'userName'> & { queuedAt?: number; extra?: Record<string, unknown>; userName?: string };

const PLATFORM = /^[a-z0-9_-]{1,64}$/i;
/** The last platform name that passed PLATFORM: a gateway sees a handful, so most messages skip the regex. */
let lastValidPlatform = '';

function validPlatform(platform: string): boolean {
  if (platform === lastValidPlatform) return true;
  if (!PLATFORM.test(platform)) return false;
  lastValidPlatform = platform;
  return true;
}

function looksValid(v: unknown): v is Candidate {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.id === 'string' && m.id.length > 0 && m.id.length <= 256 &&
    typeof m.platform === 'string' && validPlatform(m.platform) &&
    typeof m.channelId === 'string' && m.channelId.length > 0 && m.channelId.length <= 512 &&
    typeof m.userId === 'string' && m.userId.length > 0 && m.userId.length <= 256 &&
    (m.userName === undefined || (typeof m.userName === 'string' && m.userName.length <= 256)) &&
    typeof m.text === 'string' && m.text.length <= 100_000 &&
    (m.queuedAt === undefined || (typeof m.queuedAt === 'number' && Number.isFinite(m.queuedAt))) &&
    (m.extra === undefined || (typeof m.extra === 'object' && m.extra !== null && !Array.isArray(m.extra)))
  );
}
