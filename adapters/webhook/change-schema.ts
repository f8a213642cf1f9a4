import { z } from 'zod';
import type { FieldIssue } from '../../src/errors.js';
import { toFieldIssues } from '../../src/core/policy.js';
import { MAX_TEXT_CHARS, id as idField } from './inbound-schema.js';

/** Body of `PATCH /v1/messages/:id`: the channel the message was sent to and its new text. */
const editSchema = z.object({
  channelId: idField('channelId'),
  text: z
    .string({ error: (iss) => (iss.input === undefined ? 'text is required' : 'text must be a string') })
    .max(MAX_TEXT_CHARS, `text is longer than ${MAX_TEXT_CHARS} characters`),
});

/** Query of `DELETE /v1/messages/:id`. */
const deleteSchema = z.object({ channelId: idField('channelId') });

const messageId = idField('the message id in the path');

/** What an edit (`text`) or delete (`text: null`) of a webhook message names, or every failing field. */
export function parseMessageChange(
  kind: 'edit' | 'delete',
  id: unknown,
  body: unknown,
  query: unknown,
): { ok: true; value: { channelId: string; text: string | null } } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const idResult = messageId.safeParse(id);
  if (!idResult.success) issues.push(...toFieldIssues(idResult.error).map((i) => ({ ...i, path: 'id' })));
  if (kind === 'edit') {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, issues: [...issues, { path: '', message: 'body must be a JSON object { channelId, text }' }] };
    const result = editSchema.safeParse(body);
    if (!result.success) return { ok: false, issues: [...issues, ...toFieldIssues(result.error)] };
    return issues.length > 0 ? { ok: false, issues } : { ok: true, value: result.data };
  }
  const result = deleteSchema.safeParse(query ?? {});
  if (!result.success) return { ok: false, issues: [...issues, ...toFieldIssues(result.error)] };
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: { channelId: result.data.channelId, text: null } };
}
