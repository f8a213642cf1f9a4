import type { Processor } from '../../src/processors/processor.js';

/** A processor that holds every batch until the test lets go, then answers `done: <texts>`. */
export interface HeldProcessor {
  processor: Processor;
  /** Each started batch's texts joined with ` / `, in start order. */
  started: string[];
  /** Lets every held batch (and every later one) finish. */
  release(): void;
}

/**
 * Holds batches so a channel's queue fills up behind the one in flight. Call `release()` at teardown
 * before the gateway closes (register it with `onTestFinished` after the gateway's own hook), or
 * shutdown waits out `shutdownTimeoutMs` for the held batch.
 */
export function heldProcessor(): HeldProcessor {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const started: string[] = [];
  const processor: Processor = async (batch, ctx) => {
    const text = batch.messages.map((m) => m.text).join(' / ');
    started.push(text);
    await held;
    await ctx.reply(`done: ${text}`);
  };
  return { processor, started, release };
}
