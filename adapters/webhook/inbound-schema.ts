import { z } from 'zod';
import type { FieldIssue } from '../../src/errors.js';
import { toFieldIssues } from '../../src/core/policy.js';

/** Longest accepted message text, in characters. */
export const MAX_TEXT_CHARS = 16_000;
/** Longest accepted id (channel, user, message), in characters. */
export const MAX_ID_CHARS = 256;
/** Largest `extra` object, as UTF-8 JSON. */
export const MAX_EXTRA_BYTES = 8_192;
/** Most attachments on one message. */
export const MAX_ATTACHMENTS = 10;
/** Longest attachment URL, in characters. */
export const MAX_URL_CHARS = 2_048;

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/;

/** True for an absolute http(s) URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** One file of a message: where the bot can fetch it, and what the sender says it is. */
const attachmentSchema = z.strictObject({
  url: z
    .string({ error: (iss) => (iss.input === undefined ? 'url is required' : 'url must be a string') })
    .max(MAX_URL_CHARS, `url is longer than ${MAX_URL_CHARS} characters`)
    .refine(isHttpUrl, 'url must be an http(s) URL'),
  name: z.string({ error: 'name must be a string' }).trim().min(1, 'name must not be empty').max(MAX_ID_CHARS, `name is longer than ${MAX_ID_CHARS} characters`).optional(),
  type: z.string({ error: 'type must be a string' }).regex(MIME_TYPE, 'type must be a MIME type such as image/png').optional(),
  size: z.number({ error: 'size must be a number of bytes' }).int('size must be a whole number of bytes').min(0, 'size must not be negative').max(Number.MAX_SAFE_INTEGER).optional(),
});

export type Attachment = z.output<typeof attachmentSchema>;

export const id = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `${what} is required` : `${what} must be a string`) })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(MAX_ID_CHARS, `${what} is longer than ${MAX_ID_CHARS} characters`);

/**
 * Body of `POST /v1/messages`. Unknown keys are ignored (older senders put metadata at the top level);
 * metadata meant for the bot goes in `extra`, which reaches it as `QueuedMessage.extra`.
 */
export const inboundMessageSchema = z.object({
  channelId: id('channelId'),
  userId: id('userId'),
  userName: z.string({ error: 'userName must be a string' }).trim().max(MAX_ID_CHARS, `userName is longer than ${MAX_ID_CHARS} characters`).optional(),
  text: z
    .string({ error: (iss) => (iss.input === undefined ? 'text is required' : 'text must be a string') })
    .max(MAX_TEXT_CHARS, `text is longer than ${MAX_TEXT_CHARS} characters`),
  id: id('id').optional(),
  attachments: z.array(attachmentSchema, { error: 'attachments must be an array of { url, name?, type?, size? }' }).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
  extra: z
    .record(z.string(), z.unknown(), { error: 'extra must be a JSON object' })
    .refine((e) => !('attachments' in e), 'extra.attachments is reserved: send files in the top-level attachments')
    .refine((e) => extraBytes(e) <= MAX_EXTRA_BYTES, { error: (iss) => `extra is ${extraBytes(iss.input as object)} bytes as JSON; the limit is ${MAX_EXTRA_BYTES} bytes (8 KiB)` })
    .optional(),
}).superRefine((body, ctx) => {
  // A message of only whitespace gives the bot nothing to answer, unless it carries files.
  if (body.text.trim().length === 0 && !body.attachments?.length) ctx.addIssue({ code: 'custom', path: ['text'], message: 'text must not be empty (unless the message has attachments)' });
});

function extraBytes(extra: object): number {
  return Buffer.byteLength(JSON.stringify(extra), 'utf8');
}

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
  const o = input as Record<string, unknown>;
  // Files and extra metadata are checked by the schema; plain messages (the hot path) skip it.
  const value = o['attachments'] === undefined && o['extra'] === undefined ? quickParse(o) : undefined;
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
