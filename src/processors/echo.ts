import type { MessageBatch } from '../core/model.js';
import type { Processor } from './processor.js';

/** The reply the built-in echo bot gives: every message of the batch, in order, e.g. "3 messages from Ana: a / b / c". */
export function echoText(batch: MessageBatch): string {
  const authors = batch.uniqueAuthors().map((a) => a.userName);
  const count = `${batch.size} message${batch.size === 1 ? '' : 's'}`;
  const multi = authors.length > 1;
  const texts = batch.messages.map((m) => (multi ? `${m.userName}: ${m.text}` : m.text));
  return `${count} from ${authors.join(', ')}: ${texts.join(' / ')}`;
}

/** Built-in processor: one reply per batch holding every message's text in order. */
export const echoProcessor: Processor = async (batch, ctx) => {
  await ctx.reply(echoText(batch));
};
