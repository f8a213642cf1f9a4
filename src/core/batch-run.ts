import type { Logger } from 'pino';
import type { ProcessContext, Processor, ReplyInput, TokenUsage } from '../processors/processor.js';
import type { TakenBatch } from './batch-store.js';
import type { Clock, Scheduler } from './clock.js';
import { ErrorCode, GatewayError, ProcessorTimeoutError, ShuttingDownError, asGatewayError } from '../errors.js';
import { QueueEventType, type QueueEvent, type ReplyDropReason } from './events.js';
import { parseChannelKey, type MessageBatch, type OutboundMessage, type QueuedMessage, type ReplyStreamPart } from './model.js';
import { toOutbound, type ReplyText } from './outbound.js';
import type { ChannelSettings } from './policy.js';
import { isReplyStream, pumpReplyStream } from './reply-stream.js';
import type { TimeoutLinks, TimeoutList } from './shared-timeouts.js';

/**
 * Why a running batch was aborted: an operator's `cancel` or `stop`, an `interrupt` (a newer batch of an
 * interrupt-mode channel sealed; the aborted messages re-run merged), an `edit` (a message of the batch was
 * edited or deleted in an interrupt-mode channel; the batch re-runs as changed), its processing `timeout`,
 * or `shutdown`.
 */
export type AbortWhy = 'cancel' | 'stop' | 'interrupt' | 'edit' | 'timeout' | 'shutdown';

/**
 * How a run ended, as {@link RunPort.onEnd} hears it. `processed`: the processor resolved. `failed`: it threw
 * or rejected (`timeout: false`), or passed its `processingTimeoutMs` (`timeout: true`); `error` is the text
 * the `batch.failed` event and the dead letters carry. `aborted`: cancelled, stopped, interrupted or shut down.
 */
export type RunOutcome =
  | { readonly status: 'processed' }
  | { readonly status: 'failed'; readonly error: string; readonly timeout: boolean; readonly cause: unknown }
  | { readonly status: 'aborted'; readonly why: Exclude<AbortWhy, 'timeout'> };

/** Frozen outcomes for the common ends: nothing is allocated when a run ends this way. */
const PROCESSED: RunOutcome = Object.freeze({ status: 'processed' });
const ABORTED: Readonly<Record<Exclude<AbortWhy, 'timeout'>, RunOutcome>> = Object.freeze({
  cancel: Object.freeze({ status: 'aborted', why: 'cancel' }),
  stop: Object.freeze({ status: 'aborted', why: 'stop' }),
  interrupt: Object.freeze({ status: 'aborted', why: 'interrupt' }),
  edit: Object.freeze({ status: 'aborted', why: 'edit' }),
  shutdown: Object.freeze({ status: 'aborted', why: 'shutdown' }),
});

/**
 * The processing timeout of runs. `add` starts timing a run (it must end `durationMs` after `startedAt`, a
 * time of the port's clock, by calling `run.abort('timeout')`); `remove` stops timing it and is a no-op for
 * a run not timed. The embedded engine gives its {@link SharedTimeouts} (one timer per distinct duration);
 * a worker may give a plain timer per run.
 */
export interface RunTimeouts<Owner> {
  add(run: BatchRun<Owner>, startedAt: number, durationMs: number): void;
  remove(run: BatchRun<Owner>): void;
}

/** What a {@link BatchRun} asks of the engine running it. One port may serve every run of an engine. */
export interface RunPort<Owner> {
  readonly clock: Clock;
  /** Paces streamed replies. */
  readonly scheduler: Scheduler;
  readonly timeouts: RunTimeouts<Owner>;
  /** Parent of `ctx.logger` (a child bound to the channel and the batch, made on first use). */
  readonly logger: Logger | undefined;
  /** Whether anyone hears `batch.started` / `batch.completed`: they are built only then (the hot path). */
  listening(): boolean;
  /** The run's events: started, completed, failed, cancelled, reply dropped, usage. */
  emit(event: QueueEvent): void;
  /**
   * Hands one reply on. Returns (or resolves) `false` when the engine refused it (the batch is no longer
   * current): the run counts it as dropped. Anything else counts as delivered.
   */
  deliver(run: BatchRun<Owner>, reply: OutboundMessage): void | boolean | Promise<void | boolean>;
  /** `ctx.typing()` of a run that was not aborted. */
  typing(run: BatchRun<Owner>): void | Promise<void>;
  /**
   * `ctx.steered()` of a run still going: the store step that takes the batches waiting behind the run's
   * batch (steer mode) and answers their messages in order. Absent: nothing is ever offered.
   */
  steer?(run: BatchRun<Owner>): QueuedMessage[] | Promise<QueuedMessage[]>;
  /**
   * The run ended, once, synchronously from where it ended (the processor's settlement, or `abort`). The
   * engine makes its store step, then calls {@link BatchRun.report} so listeners see the step done.
   */
  onEnd(run: BatchRun<Owner>, outcome: RunOutcome): void;
}

/** What a run is started from: a batch taken (embedded store) or claimed (a worker) to run. */
export type RunInput = Pick<TakenBatch, 'batch' | 'settings' | 'attempt' | 'sealedAt'>;

/**
 * One batch running: owns the `ctx` its processor gets, reply normalisation and streamed replies, the abort
 * reasons, the processing timeout (through the port's {@link RunTimeouts}) and the run's events, and ends
 * with a {@link RunOutcome} given to {@link RunPort.onEnd}. The engine keeps its own bookkeeping around it
 * (the embedded queue its slots and store steps; a worker its claim, ACK, retry and failure).
 *
 * The AbortController is created only when someone reads `ctx.signal` (or the run must abort after that):
 * on Node 20 a controller costs more than the rest of a dispatch, and most processors never look at it.
 * `ctx.reply` checks the run's own flag instead.
 */
export class BatchRun<Owner = unknown> implements TimeoutLinks<BatchRun<Owner>> {
  readonly key: string;
  readonly batch: MessageBatch;
  readonly settings: ChannelSettings;
  /** 1 on the first run of these messages; higher on a re-run (interrupt, shutdown, crash, retry). */
  readonly attempt: number;
  readonly sealedAt: number;
  /** True once the run ended (whichever way); `onEnd` was called. */
  ended = false;
  /** Set when the run was aborted, with why. */
  abortedBy: AbortWhy | null = null;
  /** Replies delivered (a streamed reply counts once, at its final snapshot). */
  replies = 0;
  /** Processing timeout: links in a shared timeout list (no timer per run). */
  timeoutAt = Infinity;
  timeoutPrev: BatchRun<Owner> | null = null;
  timeoutNext: BatchRun<Owner> | null = null;
  timeoutList: TimeoutList<BatchRun<Owner>> | null = null;
  private controller: AbortController | null = null;
  private abortError: GatewayError | undefined = undefined;
  /** Streamed replies started, for their ids. */
  private streams = 0;
  private childLogger: Logger | undefined = undefined;
  /** Ids of the messages this run took (steer mode): its replies answer them too (`inReplyTo`). */
  private steeredIds: string[] | null = null;
  /** `ctx.onSteer` listeners, made on first use. */
  private steerListeners: Set<() => void> | null = null;

  constructor(
    private readonly port: RunPort<Owner>,
    /** The engine's own record of this run (embedded: the channel's slot; a worker: its delivery). */
    readonly owner: Owner,
    input: RunInput,
    /** When the run starts, on the port's clock. */
    readonly startedAt: number,
  ) {
    this.batch = input.batch;
    this.key = input.batch.channelKey;
    this.settings = input.settings;
    this.attempt = input.attempt;
    this.sealedAt = input.sealedAt;
  }

  /** Starts timing the run, reports `batch.started` and calls the processor. */
  start(processor: Processor): void {
    const { port, batch } = this;
    port.timeouts.add(this, this.startedAt, this.settings.processingTimeoutMs);
    if (port.listening()) {
      port.emit({
        type: QueueEventType.Started,
        channelKey: this.key,
        at: this.startedAt,
        batchId: batch.id,
        size: batch.size,
        waitMs: Math.max(0, this.startedAt - this.sealedAt),
        messageIds: batch.messages.map((m) => m.id),
      });
    }
    let result: Promise<void>;
    try {
      result = Promise.resolve(processor(batch, new RunContext(this)));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => this.returned(null),
      (err: unknown) => this.returned(err ?? new Error('processor rejected')),
    );
  }

  /** The processor settled on its own; ignored when the run already ended (aborted). */
  private returned(error: unknown): void {
    if (this.ended) return;
    this.end(error === null ? PROCESSED : { status: 'failed', error: failureText(error), timeout: false, cause: error });
  }

  /**
   * Aborts the run: its signal aborts with {@link abortReason}, and it ends at once, even if the processor
   * ignores the signal (it can no longer reply, and must not hold its channel or its slot). False when the
   * run had already ended.
   */
  abort(why: AbortWhy): boolean {
    if (this.ended) return false;
    // Ended before the signal's listeners run: one of them cancelling again finds the run over.
    this.ended = true;
    const reason = abortReason(why, this.settings.processingTimeoutMs);
    this.abortedBy = why;
    this.abortError = reason;
    this.controller?.abort(reason);
    this.end(why === 'timeout' ? { status: 'failed', error: reason.message, timeout: true, cause: reason } : ABORTED[why]);
    return true;
  }

  /** The one way a run ends: it stops being timed and the engine hears the outcome. */
  private end(outcome: RunOutcome): void {
    this.ended = true;
    this.steerListeners = null;
    this.port.timeouts.remove(this);
    this.port.onEnd(this, outcome);
  }

  /**
   * Reports how the run ended: `batch.completed`, `batch.failed`, or `batch.cancelled` (cancel, stop,
   * shutdown; an interrupt is reported by the store's `batch.interrupted`). `at` defaults to now.
   */
  report(outcome: RunOutcome, at: number = this.port.clock.now()): void {
    const { port, batch } = this;
    const durationMs = Math.max(0, at - this.startedAt);
    switch (outcome.status) {
      case 'processed':
        if (port.listening()) {
          port.emit({ type: QueueEventType.Completed, channelKey: this.key, at, batchId: batch.id, size: batch.size, durationMs, replies: this.replies });
        }
        return;
      case 'failed':
        port.emit({ type: QueueEventType.Failed, channelKey: this.key, at, batchId: batch.id, size: batch.size, durationMs, error: outcome.error, timeout: outcome.timeout });
        return;
      case 'aborted':
        if (outcome.why === 'interrupt') return;
        port.emit({ type: QueueEventType.Cancelled, channelKey: this.key, at, batchId: batch.id, size: batch.size, durationMs, reason: outcome.why });
    }
  }

  /** `ctx.signal`. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abortError !== undefined) this.controller.abort(this.abortError);
    }
    return this.controller.signal;
  }

  /** `ctx.reply`: a text, a text with where to put it, or a stream of deltas (published as snapshots). */
  reply(input: ReplyInput): Promise<boolean> {
    if (isReplyStream(input)) {
      const id = `${this.batch.id}:${this.streams++}`;
      return pumpReplyStream(input, {
        signal: this.signal,
        clock: this.port.clock,
        scheduler: this.port.scheduler,
        publish: (text, final) => this.publish(text, { id, final }, final),
      });
    }
    return this.publish(input, undefined, true);
  }

  private publish(input: ReplyText, stream: ReplyStreamPart | undefined, counts: boolean): Promise<boolean> {
    if (this.abortedBy !== null) {
      this.dropReply();
      return Promise.resolve(false);
    }
    let delivered: ReturnType<RunPort<Owner>['deliver']>;
    try {
      const out = toOutbound(input, this.batch, stream);
      if (this.steeredIds !== null) out.inReplyTo = [...(out.inReplyTo ?? []), ...this.steeredIds];
      delivered = this.port.deliver(this, out);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(delivered).then((sent) => {
      if (sent === false) {
        this.dropReply();
        return false;
      }
      if (counts) this.replies++;
      return true;
    });
  }

  private dropReply(): void {
    const why = this.abortedBy;
    // An operator's cancel or stop, or an interrupt: the batch was cancelled. A timeout, a shutdown, or a
    // refusal the run has not heard the cause of yet: aborted.
    const reason: ReplyDropReason = why === 'cancel' || why === 'stop' || why === 'interrupt' || why === 'edit' ? 'cancelled' : 'aborted';
    this.port.emit({ type: QueueEventType.ReplyDropped, channelKey: this.key, at: this.port.clock.now(), batchId: this.batch.id, reason });
  }

  /** `ctx.typing()`: asks the engine, unless the run was aborted. */
  typing(): Promise<void> {
    if (this.abortedBy !== null) return Promise.resolve();
    try {
      return Promise.resolve(this.port.typing(this));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `ctx.steered()`: takes what was offered since the last call; nothing once the run ended. */
  steered(): Promise<QueuedMessage[]> {
    const take = this.port.steer;
    if (this.ended || take === undefined) return Promise.resolve([]);
    let taken: Promise<QueuedMessage[]>;
    try {
      taken = Promise.resolve(take(this));
    } catch (err) {
      return Promise.reject(err);
    }
    return taken.then((messages) => {
      if (messages.length > 0) (this.steeredIds ??= []).push(...messages.map((m) => m.id));
      return messages;
    });
  }

  /** `ctx.onSteer()`: a listener woken by {@link offered}; a no-op unsubscribe once the run ended. */
  onSteer(listener: () => void): () => void {
    if (this.ended) return () => {};
    this.steerListeners ??= new Set();
    const listeners = this.steerListeners;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /**
   * The engine saw a batch of this run's channel seal (steer mode): wakes the `ctx.onSteer` listeners. A
   * throwing listener is logged; the others still run.
   */
  offered(): void {
    if (this.ended || this.steerListeners === null) return;
    for (const listener of [...this.steerListeners]) {
      try {
        listener();
      } catch (err) {
        this.logger.warn({ err }, 'a steer listener threw');
      }
    }
  }

  /** `ctx.usage()`. */
  usage(usage: TokenUsage): void {
    this.port.emit({ type: QueueEventType.Usage, channelKey: this.key, at: this.port.clock.now(), batchId: this.batch.id, ...usage });
  }

  /** `ctx.logger`: a child bound to the channel and the batch, made on first use. */
  get logger(): Logger {
    this.childLogger ??= (this.port.logger ?? silentFallback()).child({ channelKey: this.key, batchId: this.batch.id });
    return this.childLogger;
  }
}

/** The `ctx` a processor gets: a small class rather than per-batch closures, since one is made per batch. */
export class RunContext implements ProcessContext {
  constructor(private readonly run: BatchRun<unknown>) {}

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
    return this.run.logger;
  }

  reply(reply: ReplyInput): Promise<boolean> {
    return this.run.reply(reply);
  }

  typing(): Promise<void> {
    return this.run.typing();
  }

  usage(usage: TokenUsage): void {
    this.run.usage(usage);
  }

  steered(): Promise<QueuedMessage[]> {
    return this.run.steered();
  }

  onSteer(listener: () => void): () => void {
    return this.run.onSteer(listener);
  }
}

/** The error a run's signal aborts with: one wording per reason, whichever engine runs the batch. */
export function abortReason(why: AbortWhy, timeoutMs: number): GatewayError {
  switch (why) {
    case 'timeout':
      return new ProcessorTimeoutError(timeoutMs);
    case 'shutdown':
      return new ShuttingDownError();
    case 'interrupt':
      return new GatewayError(ErrorCode.Cancelled, 'interrupted by a newer batch; its messages re-run merged', { details: { reason: why } });
    case 'edit':
      return new GatewayError(ErrorCode.Cancelled, 'a message of the batch was edited or deleted; the batch re-runs as changed', { details: { reason: why } });
    default:
      return new GatewayError(ErrorCode.Cancelled, `batch ${why === 'stop' ? 'stopped' : 'cancelled'} by an operator`, { details: { reason: why } });
  }
}

/** The text a failed batch is reported with (event, dead letter, log): the error's message. */
export function failureText(error: unknown): string {
  return asGatewayError(error).message;
}

let fallbackLogger: Logger | undefined;
function silentFallback(): Logger {
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
