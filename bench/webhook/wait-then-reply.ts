/**
 * S5's processor stub (BENCHMARKS.md "Webhook end to end"): a bot that takes 5 ms per batch, then answers the batch once.
 * The bench loads it through `processor: { type: module, path }`, the way an operator plugs in a bot. It does
 * not read `ctx.signal`: the engine builds a batch's AbortController only when a processor asks for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Processor } from '../../src/processors/processor.js';

/** How long the stub "thinks" per batch; the bench subtracts it from each reply's latency. */
export const PROCESSOR_MS = 5;

const waitThenReply: Processor = async (batch, ctx) => {
  await sleep(PROCESSOR_MS);
  await ctx.reply(`${batch.size} message(s) read`);
};

export default waitThenReply;
