import type { MessageBatch } from '../../core/model.js';
import type { ConversationHistory, ChatTurn } from '../conversation-history.js';
import type { ProcessContext, Processor } from '../processor.js';
import { ChatCompletionsClient, type ChatCompletionsOptions, type ChatMessage, type ChatUsage } from './chat-completions.js';

/** Options of {@link createOpenAiProcessor}: `processor: { type: openai, … }` in the config. */
export interface OpenAiProcessorOptions extends ChatCompletionsOptions {
  /** The system prompt, sent first in every request. */
  system?: string;
  /** Turns (user and assistant messages) kept per channel and sent before the batch. @defaultValue 10 */
  historyTurns: number;
  /** Stream the answer (it grows in one message where the platform can edit). @defaultValue true */
  stream: boolean;
}

/**
 * An LLM bot on any OpenAI-compatible chat-completions endpoint. Each batch is one user turn (a line per
 * message, prefixed with its author when several wrote); the channel's last `historyTurns` turns go
 * before it, the `system` prompt first. The answer and the batch's turn join the history only when the
 * answer was given in full: a cancelled, stopped or failed batch leaves the history as it was.
 */
export function createOpenAiProcessor(options: OpenAiProcessorOptions, history: ConversationHistory): Processor {
  const client = new ChatCompletionsClient(options);
  return async function openAiProcessor(batch: MessageBatch, ctx: ProcessContext): Promise<void> {
    const key = ctx.channel.key;
    const user: ChatTurn = { role: 'user', content: batch.text() };
    const messages: ChatMessage[] = [];
    if (options.system) messages.push({ role: 'system', content: options.system });
    messages.push(...startAtUser(await history.load(key)), user);
    const onUsage = (usage: ChatUsage) => ctx.usage?.({ model: options.model, ...usage });
    let answer = '';
    if (options.stream) {
      const deltas = client.stream(messages, ctx.signal, onUsage);
      const told = await ctx.reply(
        (async function* () {
          for await (const delta of deltas) {
            answer += delta;
            yield delta;
          }
        })(),
      );
      if (!told) return;
    } else {
      answer = await client.complete(messages, ctx.signal, onUsage);
      if (!(await ctx.reply(answer))) return;
    }
    await history.append(key, [user, { role: 'assistant', content: answer }], options.historyTurns);
  };
}

/** History trimmed to an odd count starts with an answer to a turn no longer there: drop it. */
function startAtUser(turns: ChatTurn[]): ChatTurn[] {
  const first = turns.findIndex((t) => t.role === 'user');
  return first <= 0 ? (first < 0 ? [] : turns) : turns.slice(first);
}
