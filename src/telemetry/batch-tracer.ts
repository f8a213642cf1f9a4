import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { QueueEventType, type QueueEvent } from '../core/events.js';
import type { MessageBatch } from '../core/model.js';
import type { ProcessContext, Processor, ReplyInput } from '../processors/processor.js';
import { extractTraceContext, injectTraceContext, type TraceCarrier } from './propagation.js';

/** Span names of a batch's trace: the root, then one span per stage. */
export const SpanName = {
  Batch: 'batchgate.batch',
  /** First message received → sealed. */
  Collect: 'batchgate.collect',
  /** Sealed → started: waited for its channel and a slot. */
  Wait: 'batchgate.wait',
  /** The processor's run; an HTTP processor's request carries this span as `traceparent`. */
  Process: 'batchgate.process',
  /** One `ctx.reply`, until the reply was handed on for delivery. */
  Reply: 'batchgate.reply',
} as const;

/** Attribute names on batchgate's spans. */
export const Attr = {
  ChannelKey: 'batchgate.channel_key',
  BatchId: 'batchgate.batch_id',
  FlushReason: 'batchgate.flush_reason',
  /** Messages in the batch. */
  BatchSize: 'batchgate.batch_size',
  /** Characters of the batch's message texts. */
  BatchChars: 'batchgate.batch_chars',
  Attempt: 'batchgate.attempt',
  LatenessMs: 'batchgate.flush_lateness_ms',
  WaitMs: 'batchgate.wait_ms',
  Replies: 'batchgate.replies',
  ReplyChars: 'batchgate.reply_chars',
  /** False when the reply was refused (the batch had been aborted). */
  ReplyPublished: 'batchgate.reply_published',
  /** How the batch ended: completed | failed | cancelled | interrupted | dropped | untracked. */
  Outcome: 'batchgate.outcome',
  Aborted: 'batchgate.aborted',
} as const;

/** A batch sealed here whose trace is still open. */
interface OpenBatch {
  root: Span;
  /** The root's context: parent of the stage spans, and what travels to workers. */
  ctx: Context;
  wait: Span | null;
}

export interface BatchTracerOptions {
  /** Open batch traces kept at most; past it the oldest is ended as `untracked` (a batch cleared, say). @defaultValue 10000 */
  maxOpen?: number;
}

/**
 * Traces batches from the engine's event stream, so the engine itself carries no tracing code: the
 * gateway feeds it every `queue.on` event (a batch's root span opens at its seal, dated back to its first
 * message; the collect and wait stages follow; the root ends with the batch), and wraps the processor
 * (`wrap`) so that the run and each reply are spans of the batch's trace, the run's span active while
 * the processor runs. In distributed mode the root's context travels in the BullMQ job (`carrierFor`) and
 * the worker's wrapped processor picks it up from the active context.
 */
export class BatchTracer {
  private readonly open = new Map<string, OpenBatch>();
  private readonly maxOpen: number;

  constructor(
    private readonly tracer: Tracer,
    options: BatchTracerOptions = {},
  ) {
    this.maxOpen = options.maxOpen ?? 10_000;
  }

  /** Feeds one queue event (local or relayed from a worker). */
  observe(event: QueueEvent): void {
    switch (event.type) {
      case QueueEventType.Flushed:
        this.sealed(event);
        break;
      case QueueEventType.Started: {
        const batch = this.open.get(event.batchId);
        if (batch?.wait) {
          batch.wait.setAttribute(Attr.WaitMs, event.waitMs);
          batch.wait.end(event.at);
          batch.wait = null;
        }
        break;
      }
      case QueueEventType.Completed:
        this.ended(event.batchId, event.at, 'completed', (root) => root.setAttribute(Attr.Replies, event.replies));
        break;
      case QueueEventType.Failed:
        this.ended(event.batchId, event.at, 'failed', (root) => root.setStatus({ code: SpanStatusCode.ERROR, message: event.error }));
        break;
      case QueueEventType.Cancelled:
        this.ended(event.batchId, event.at, 'cancelled', (root) => root.setAttribute('batchgate.cancel_reason', event.reason));
        break;
      case QueueEventType.Interrupted:
        this.ended(event.batchId, event.at, 'interrupted');
        break;
      case QueueEventType.Dropped:
        if (event.batchId !== undefined) this.ended(event.batchId, event.at, 'dropped');
        break;
      default:
        break;
    }
  }

  /** The W3C trace context of a batch sealed here (for the BullMQ job), or undefined. */
  carrierFor = (batchId: string): TraceCarrier | undefined => {
    const batch = this.open.get(batchId);
    return batch === undefined ? undefined : injectTraceContext({}, batch.ctx);
  };

  /**
   * The processor, traced: its run is a `batchgate.process` span (active while it runs, so an HTTP
   * processor's request and the bot's own spans join the trace) and each `ctx.reply` a `batchgate.reply`
   * span, both children of the batch's root: the one sealed here, or the remote parent in the active
   * context (a worker runs the handler inside the context its job carried).
   */
  wrap(processor: Processor): Processor {
    return (batch, ctx) => {
      const parent = this.open.get(batch.id)?.ctx ?? context.active();
      // Wall-clock times like the batch span's (the engine's `at`): OpenTelemetry's own clock is monotonic
      // and drifts from Date.now() over a long-lived process, which would put a child's end after its parent's.
      const span = this.tracer.startSpan(SpanName.Process, { startTime: Date.now(), attributes: { ...batchAttributes(batch), [Attr.Attempt]: ctx.attempt, [Attr.BatchChars]: charsOf(batch) } }, parent);
      let ended = false;
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        if (error !== undefined) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        }
        span.end(Date.now());
      };
      // An aborted run ends now: the engine does not wait for a processor that ignores its signal.
      const signal = ctx.signal;
      const onAbort = () => {
        span.setAttribute(Attr.Aborted, true);
        end(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      const traced = this.tracedContext(ctx, batch, parent);
      let result: Promise<void>;
      try {
        result = context.with(trace.setSpan(parent, span), () => processor(batch, traced));
      } catch (err) {
        result = Promise.reject(err);
      }
      return result.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          end();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          end(err);
          throw err;
        },
      );
    };
  }

  /** Runs `run` inside the trace a BullMQ job carried, so the wrapped processor's spans join it (worker side). */
  inTrace = <T>(carrier: TraceCarrier, run: () => T): T => context.with(extractTraceContext(carrier), run);

  /** Ends every open trace (shutdown); a trace left open would never be exported. */
  close(): void {
    for (const batchId of [...this.open.keys()]) this.ended(batchId, Date.now(), 'untracked');
  }

  /** `ctx` with a traced `reply`; everything else (getters included) is the engine's own. */
  private tracedContext(ctx: ProcessContext, batch: MessageBatch, parent: Context): ProcessContext {
    const tracer = this.tracer;
    const reply = (input: ReplyInput): Promise<boolean> => {
      // A streamed reply (an async iterable) has no length up front.
      const text = typeof input === 'string' ? input : typeof input === 'object' && input !== null && 'text' in input ? input.text : undefined;
      const span = tracer.startSpan(SpanName.Reply, { startTime: Date.now(), attributes: { ...batchAttributes(batch), [Attr.ReplyChars]: typeof text === 'string' ? text.length : 0 } }, parent);
      return ctx.reply(input).then(
        (published) => {
          span.setAttribute(Attr.ReplyPublished, published);
          span.end(Date.now());
          return published;
        },
        (err: unknown) => {
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.end(Date.now());
          throw err;
        },
      );
    };
    return Object.create(ctx, { reply: { value: reply, enumerable: true } }) as ProcessContext;
  }

  private sealed(event: Extract<QueueEvent, { type: typeof QueueEventType.Flushed }>): void {
    const firstAt = event.firstAt ?? event.at;
    const attributes = { [Attr.ChannelKey]: event.channelKey, [Attr.BatchId]: event.batchId, [Attr.FlushReason]: event.reason, [Attr.BatchSize]: event.size };
    const root = this.tracer.startSpan(SpanName.Batch, { root: true, startTime: firstAt, attributes }, ROOT_CONTEXT);
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const collect = this.tracer.startSpan(SpanName.Collect, { startTime: firstAt, attributes: { ...attributes, [Attr.LatenessMs]: event.latenessMs } }, ctx);
    collect.end(event.at);
    const wait = this.tracer.startSpan(SpanName.Wait, { startTime: event.at, attributes }, ctx);
    this.open.set(event.batchId, { root, ctx, wait });
    if (this.open.size > this.maxOpen) this.ended(this.open.keys().next().value!, event.at, 'untracked');
  }

  private ended(batchId: string, at: number, outcome: string, annotate?: (root: Span) => void): void {
    const batch = this.open.get(batchId);
    if (batch === undefined) return;
    this.open.delete(batchId);
    batch.wait?.end(at);
    batch.root.setAttribute(Attr.Outcome, outcome);
    annotate?.(batch.root);
    batch.root.end(at);
  }
}

function batchAttributes(batch: MessageBatch): Record<string, string | number> {
  const attributes: Record<string, string | number> = { [Attr.ChannelKey]: batch.channelKey, [Attr.BatchId]: batch.id, [Attr.BatchSize]: batch.size };
  if (batch.flushReason !== null) attributes[Attr.FlushReason] = batch.flushReason;
  return attributes;
}

function charsOf(batch: MessageBatch): number {
  let n = 0;
  for (const m of batch.messages) n += m.text.length;
  return n;
}
