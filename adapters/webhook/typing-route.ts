import { z } from 'zod';
import { toFieldIssues } from '../../src/core/policy.js';
import type { FieldIssue } from '../../src/errors.js';
import { MAX_ID_CHARS } from './inbound-schema.js';

/** The route a sender tells the gateway a person is typing on. */
export const TYPING_ROUTE = '/v1/typing';

const id = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `${what} is required` : `${what} must be a string`) })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(MAX_ID_CHARS, `${what} is longer than ${MAX_ID_CHARS} characters`);

/** Body of `POST /v1/typing`: who is typing where (unknown keys are ignored, as on `/v1/messages`). */
export const typingSchema = z.object({ channelId: id('channelId'), userId: id('userId') });

export type TypingBody = z.output<typeof typingSchema>;

/** Parses an already JSON-decoded typing body; on failure returns every failing field. */
export function parseTyping(input: unknown): { ok: true; value: TypingBody } | { ok: false; issues: FieldIssue[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ path: '', message: 'body must be a JSON object { channelId, userId }' }] };
  }
  const result = typingSchema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toFieldIssues(result.error) };
}
