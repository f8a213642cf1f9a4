import type { Logger } from 'pino';
import type { ProcessContext, ReplyInput, TokenUsage } from '../processors/processor.js';
import { ErrorCode, GatewayError, ProcessorTimeoutError, ShuttingDownError } from './errors.js';
import { parseChannelKey, type MessageBatch } from './model.js';
import type { ChannelSettings } from './policy.js';
import type { ChannelSlot } from './ready-queue.js';
import type { TimeoutLinks, TimeoutList } from './shared-timeouts.js';

/** Why a running batch was aborted. */
export type AbortWhy = 'cancel' | 'stop' | 'interrupt' | 'timeout' | 'shutdown';

/**
 * One batch running in this process. Its AbortController is created only when someone reads
 * `ctx.signal` (or the run must abort after that): on Node 20 a controller costs more than the rest of a
 * dispatch, and most processors that never look at the signal need none.
 */
export class Run implements TimeoutLinks<Run> {
  controller: AbortController | null = null;
  aborted = false;
  abortReason: unknown = undefined;
  /** Processing timeout: links in the engine's shared timeout list (no timer per run). */
  timeoutAt = Infinity;
  timeoutPrev: Run | null = null;
  timeoutNext: Run | null = null;
  timeoutList: TimeoutList<Run> | null = null;
  replies = 0;
  /** Streamed replies started, for their ids. */
  streams = 0;
  done = false;
  logger: Logger | undefined = undefined;
  readonly key: string;

  constructor(
    /** The engine's record of the channel, which points back at this run while it is the channel's. */
    readonly slot: ChannelSlot,
    readonly batch: MessageBatch,
    readonly startedAt: number,
    readonly settings: ChannelSettings,
    readonly attempt: number,
  ) {
    this.key = slot.key;
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** What a {@link RunContext} asks of the engine that runs the batch. */
export interface RunHost {
  publishReply(run: Run, reply: ReplyInput): Promise<boolean>;
  requestTyping(run: Run): Promise<void>;
  reportUsage(run: Run, usage: TokenUsage): void;
  runLogger(run: Run): Logger;
}

/** The `ctx` a processor gets: a small class rather than per-batch closures, since one is made per batch. */
export class RunContext implements ProcessContext {
  constructor(
    private readonly run: Run,
    private readonly queue: RunHost,
  ) {}

  get signal(): AbortSignal {
    return this.run.signal;
  }

  get attempt(): number {
    return this.run.attempt;
  }

  get channel(): ProcessContext['channel'] {
    const { platform, channelId } = parseChannelKey(this.run.key);
    return { key: this.run.key, platform, channelId, settings: this.run.settings };
  }

  get logger(): Logger {
    return this.queue.runLogger(this.run);
  }

  reply(reply: ReplyInput): Promise<boolean> {
    return this.queue.publishReply(this.run, reply);
  }

  typing(): Promise<void> {
    return this.queue.requestTyping(this.run);
  }

  usage(usage: TokenUsage): void {
    this.queue.reportUsage(this.run, usage);
  }
}

export function abortReason(why: AbortWhy, timeoutMs: number): GatewayError {
  switch (why) {
    case 'timeout':
      return new ProcessorTimeoutError(timeoutMs);
    case 'shutdown':
      return new ShuttingDownError();
    case 'interrupt':
      return new GatewayError(ErrorCode.Cancelled, 'interrupted by a newer batch; its messages re-run merged', { details: { reason: why } });
    default:
      return new GatewayError(ErrorCode.Cancelled, `batch ${why === 'stop' ? 'stopped' : 'cancelled'} by an operator`, { details: { reason: why } });
  }
}

let fallbackLogger: Logger | undefined;
export function silentFallback(): Logger {
  // Lazy so core never builds a logger unless a processor asks for one.
  fallbackLogger ??= {
    child: () => fallbackLogger!,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    fatal: () => {},
    level: 'silent',
  } as unknown as Logger;
  return fallbackLogger;
}
