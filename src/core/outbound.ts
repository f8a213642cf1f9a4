import type { ReplyInput } from '../processors/processor.js';
import { parseChannelKey, type MessageBatch, type OutboundMessage, type ReplyStreamPart } from './model.js';

/** A reply that is not a stream: a text, or a text with where to put it. */
export type ReplyText = Exclude<ReplyInput, AsyncIterable<string>>;

/** Turns what a processor passed to `ctx.reply` into the message the adapters deliver. */
export function toOutbound(input: ReplyText, batch: MessageBatch, stream?: ReplyStreamPart): OutboundMessage {
  const r = typeof input === 'string' ? { text: input } : input;
  if (typeof r?.text !== 'string') throw new TypeError('ctx.reply needs a string, { text: string } or an async iterable of strings');
  // The messages name the channel: an author's batch (`groupBy: author`) has the key `platform:channelId/userId`.
  const first = batch.messages[0];
  const { platform, channelId } = first === undefined ? parseChannelKey(batch.channelKey) : first;
  const out: OutboundMessage = { platform, channelId, text: r.text, batchId: batch.id, inReplyTo: batch.messages.map((m) => m.id) };
  if (r.threadId !== undefined) out.threadId = r.threadId;
  if (r.replyTo !== undefined) out.replyTo = r.replyTo;
  // An author's batch answers that author: threaded to their latest message where the platform allows.
  else if (first !== undefined && batch.channelKey !== `${platform}:${channelId}`) out.replyTo = batch.messages.at(-1)!.id;
  if (r.extra !== undefined) {
    if (typeof r.extra !== 'object' || r.extra === null || Array.isArray(r.extra)) throw new TypeError('ctx.reply: extra must be a plain object');
    out.extra = r.extra;
  }
  if (stream !== undefined) out.stream = stream;
  return out;
}
