/**
 * The web chat's WebSocket protocol (`GET /chat/ws`). Every frame is one JSON object with a `type`.
 * Documented for people in docs/web-chat.md; keep the two in step.
 *
 * Client → server
 *   { type: 'hello', channelId? }                  first frame of every connection. The server answers
 *                                                  `welcome` with the channel to use: the one given when it
 *                                                  is a valid id, otherwise a fresh random one.
 *   { type: 'message', text, clientId?, userName?, attachment? }
 *                                                  one chat message (after `hello`). `clientId` is echoed
 *                                                  back so the page can match `accepted`/`error` to its bubble.
 *                                                  `attachment: { name, type, size, dataUrl }` is one file as a
 *                                                  base64 `data:` URL, at most `maxAttachmentBytes` decoded;
 *                                                  with one, `text` may be empty.
 *   { type: 'typing' }                             the person is typing (after `hello`); the page sends it at
 *                                                  most every 2 s while they type. It holds the channel's open
 *                                                  batch for `typingHoldMs` more; nothing is answered (a
 *                                                  `typing` before `hello` answers an `error`)
 *
 * Server → client
 *   { type: 'welcome', channelId, maxTextChars, maxFrameBytes, maxAttachmentBytes }
 *   { type: 'accepted', clientId, id, deadline?, pending, now }   the queue took the message
 *   { type: 'user-message', id, clientId, text, userName, at, attachment? }  a message sent from another tab
 *                                                                 of the channel (`attachment`: { name, type, size })
 *   { type: 'collecting', deadline, pending, now }                a batch is open; it closes at `deadline`
 *   { type: 'queued', batchId, size }                             the batch closed and waits to be processed
 *   { type: 'processing', batchId, size }                         the bot is working on it (typing indicator)
 *   { type: 'idle', batchId?, outcome }                           that work ended: completed|failed|cancelled|cleared
 *   { type: 'reply', id, text, batchId, inReplyTo, replyTo?, at, streaming? } the bot's answer (`replyTo`: the
 *   message it answers, set for an author's batch in a channel grouped by author). A streamed answer is
 *                                                  several frames with one `id`, each with the whole text so
 *                                                  far; `streaming: true` on all but the last (the page
 *                                                  replaces the bubble's text with each)
 *   { type: 'error', code, reason, clientId? }                    a frame was refused; the socket stays open
 *
 * `deadline`, `now` and `at` are the server's epoch ms; the page counts down `deadline - now` from the
 * moment it receives the frame, so a browser with a wrong clock still shows the right time left.
 *
 * Close codes: 1009 when a frame is larger than `adapters.web.maxFrameBytes` (the `ws` library refuses it
 * before it is parsed), 1001 when the gateway shuts down, 1011 on an unexpected server error. Every other
 * bad input (non-JSON, binary, unknown type, empty or too long text, a message before `hello`) answers an
 * `error` frame and keeps the connection open.
 */
import { z } from 'zod';
import { ErrorCode } from '../../src/errors.js';

/** Channel ids are url-safe so they can sit in a channel key, a URL and localStorage unescaped. */
export const CHANNEL_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** Longest chat message, in UTF-16 code units (what `textarea.maxLength` counts). @defaultValue 4000 */
export const DEFAULT_MAX_TEXT_CHARS = 4_000;

/** Longest display name a page may set. */
export const MAX_USER_NAME_CHARS = 64;

/** Largest attached file, decoded. @defaultValue 65536 */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 65_536;

/** What a frame may need on top of `maxFrameBytes` to carry a file of `maxAttachmentBytes` (base64 plus its keys). */
export function attachmentFrameBytes(maxAttachmentBytes: number): number {
  return maxAttachmentBytes === 0 ? 0 : Math.ceil(maxAttachmentBytes / 3) * 4 + 1_024;
}

/** `data:<type>[;params];base64,<data>`: the only URL a page may attach. */
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*);base64,([A-Za-z0-9+/]*={0,2})$/;

export const AttachmentFrame = z.strictObject({
  name: z.string().min(1).max(256),
  type: z.string().max(127),
  size: z.number().int().min(0),
  dataUrl: z.string(),
});

export const HelloFrame = z.object({
  type: z.literal('hello'),
  channelId: z.string().max(256).optional(),
});

export const MessageFrame = z.object({
  type: z.literal('message'),
  text: z.string(),
  clientId: z.string().min(1).max(64).optional(),
  userName: z.string().max(MAX_USER_NAME_CHARS).optional(),
  attachment: AttachmentFrame.optional(),
});

export const TypingFrame = z.object({
  type: z.literal('typing'),
});

export type AttachmentFrame = z.infer<typeof AttachmentFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type MessageFrame = z.infer<typeof MessageFrame>;
export type TypingFrame = z.infer<typeof TypingFrame>;
export type ClientFrame = HelloFrame | MessageFrame | TypingFrame;

const clientFrames = { hello: HelloFrame, message: MessageFrame, typing: TypingFrame } as const;

export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.string(),
  reason: z.string(),
  clientId: z.string().optional(),
});

/** Frames the server sends; tests parse with these to pin the wire format. */
export const ServerFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), channelId: z.string().regex(CHANNEL_ID_PATTERN), maxTextChars: z.number(), maxFrameBytes: z.number(), maxAttachmentBytes: z.number() }),
  z.object({ type: z.literal('accepted'), clientId: z.string().optional(), id: z.string(), deadline: z.number().optional(), pending: z.number(), now: z.number() }),
  z.object({
    type: z.literal('user-message'),
    id: z.string(),
    clientId: z.string().optional(),
    text: z.string(),
    userName: z.string(),
    at: z.number(),
    attachment: z.object({ name: z.string(), type: z.string(), size: z.number() }).optional(),
  }),
  z.object({ type: z.literal('collecting'), deadline: z.number(), pending: z.number(), now: z.number() }),
  z.object({ type: z.literal('queued'), batchId: z.string(), size: z.number() }),
  z.object({ type: z.literal('processing'), batchId: z.string(), size: z.number() }),
  z.object({ type: z.literal('idle'), batchId: z.string().optional(), outcome: z.enum(['completed', 'failed', 'cancelled', 'cleared']) }),
  z.object({ type: z.literal('reply'), id: z.string(), text: z.string(), batchId: z.string(), inReplyTo: z.array(z.string()), replyTo: z.string().optional(), at: z.number(), streaming: z.boolean().optional() }),
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;

/** Close codes the server uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  GoingAway: 1001,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame };

function refuse(code: ErrorCode, reason: string, clientId?: string): { ok: false; error: ErrorFrame } {
  return { ok: false, error: clientId === undefined ? { type: 'error', code, reason } : { type: 'error', code, reason, clientId } };
}

/**
 * Turns one text frame into a client frame, or the error frame to answer. Message text is trimmed of
 * surrounding whitespace; empty or over-long text is refused here so the queue never sees it.
 */
export function parseClientFrame(data: string, maxTextChars: number = DEFAULT_MAX_TEXT_CHARS, maxAttachmentBytes: number = DEFAULT_MAX_ATTACHMENT_BYTES): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return refuse(ErrorCode.BadRequest, 'frame is not JSON: send one JSON object like {"type":"message","text":"hi"}');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return refuse(ErrorCode.BadRequest, 'frame must be a JSON object with a "type"');
  }
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string') return refuse(ErrorCode.BadRequest, 'frame has no string "type"');
  if (!Object.hasOwn(clientFrames, type)) {
    return refuse(ErrorCode.BadRequest, `unknown message type ${JSON.stringify(type.slice(0, 40))}: expected "hello", "message" or "typing"`);
  }
  const schema = clientFrames[type as keyof typeof clientFrames];
  const parsed = schema.safeParse(json);
  const rawClientId = (json as { clientId?: unknown }).clientId;
  const clientId = typeof rawClientId === 'string' && rawClientId.length <= 64 ? rawClientId : undefined;
  if (!parsed.success) {
    return refuse(ErrorCode.BadRequest, `bad "${type}" frame: ${z.prettifyError(parsed.error).replace(/\s*\n\s*/g, ' ')}`, clientId);
  }
  const frame = parsed.data;
  if (frame.type === 'message') {
    const text = frame.text.trim();
    if (frame.attachment !== undefined) {
      const problem = attachmentProblem(frame.attachment, maxAttachmentBytes);
      if (problem) return refuse(ErrorCode.InvalidMessage, problem, clientId);
    } else if (text.length === 0) return refuse(ErrorCode.InvalidMessage, 'text is empty', clientId);
    if (text.length > maxTextChars) {
      return refuse(ErrorCode.InvalidMessage, `text is ${text.length} characters; the limit is ${maxTextChars}`, clientId);
    }
    return { ok: true, frame: { ...frame, text } };
  }
  return { ok: true, frame };
}

/** Why an attached file is refused, or undefined: a base64 data URL whose decoded size is `size`, within the cap. */
function attachmentProblem(file: AttachmentFrame, maxBytes: number): string | undefined {
  if (maxBytes === 0) return 'attachments are turned off on this gateway (adapters.web.maxAttachmentBytes: 0)';
  if (file.size > maxBytes) return `the file is ${file.size} bytes; the limit is ${maxBytes} bytes`;
  const m = DATA_URL.exec(file.dataUrl);
  if (!m) return 'attachment.dataUrl must be a base64 data: URL (data:<type>;base64,…)';
  const data = m[3]!;
  const decoded = (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  if (data.length % 4 !== 0 || decoded !== file.size) return `attachment.size (${file.size}) does not match its data (${Math.max(0, Math.floor(decoded))} bytes)`;
  return undefined;
}
