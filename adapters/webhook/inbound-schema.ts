import { z } from 'zod';
import type { FieldIssue } from '../../src/core/errors.js';
import { toFieldIssues } from '../../src/core/policy.js';

/** Longest accepted message text, in characters. */
export const MAX_TEXT_CHARS = 16_000;
/** Longest accepted id (channel, user, message), in characters. */
export const MAX_ID_CHARS = 256;

const id = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `${what} is required` : `${what} must be a string`) })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(MAX_ID_CHARS, `${what} is longer than ${MAX_ID_CHARS} characters`);

/** Body of `POST /v1/messages`. Unknown keys are ignored so senders can add their own metadata. */
export const inboundMessageSchema = z.object({
  channelId: id('channelId'),
  userId: id('userId'),
  userName: z.string({ error: 'userName must be a string' }).trim().max(MAX_ID_CHARS, `userName is longer than ${MAX_ID_CHARS} characters`).optional(),
  text: z
    .string({ error: (iss) => (iss.input === undefined ? 'text is required' : 'text must be a string') })
    .max(MAX_TEXT_CHARS, `text is longer than ${MAX_TEXT_CHARS} characters`)
    // A message of only whitespace gives the bot nothing to answer.
    .refine((t) => t.trim().length > 0, 'text must not be empty'),
  id: id('id').optional(),
});

export type InboundBody = z.output<typeof inboundMessageSchema>;

/**
 * Parses an already JSON-decoded body; on failure returns every failing field. A valid body takes a few
 * typeof and length checks; the schema runs only to explain a body those checks turned down (and has the
 * last word: the checks pass nothing the schema would refuse, and return what it would return).
 */
export function parseInbound(input: unknown): { ok: true; value: InboundBody } | { ok: false; issues: FieldIssue[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ path: '', message: 'body must be a JSON object { channelId, userId, userName?, text, id? }' }] };
  }
  const value = quickParse(input as Record<string, unknown>);
  if (value) return { ok: true, value };
  const result = inboundMessageSchema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toFieldIssues(result.error) };
}

/** {@link inboundMessageSchema}'s output for a valid body, or undefined when the schema must decide. */
function quickParse(o: Record<string, unknown>): InboundBody | undefined {
  const channelId = quickId(o['channelId']);
  const userId = quickId(o['userId']);
  const text = o['text'];
  if (channelId === undefined || userId === undefined || typeof text !== 'string' || text.length > MAX_TEXT_CHARS || text.trim().length === 0) {
    return undefined;
  }
  const value: InboundBody = { channelId, userId, text };
  const userName = o['userName'];
  if (userName !== undefined) {
    if (typeof userName !== 'string') return undefined;
    const trimmed = userName.trim();
    if (trimmed.length > MAX_ID_CHARS) return undefined;
    value.userName = trimmed;
  }
  if (o['id'] !== undefined) {
    const id = quickId(o['id']);
    if (id === undefined) return undefined;
    value.id = id;
  }
  return value;
}

function quickId(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t.length >= 1 && t.length <= MAX_ID_CHARS ? t : undefined;
}
