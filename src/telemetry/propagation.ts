import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** W3C trace context (`traceparent`, `tracestate`): what BullMQ job data and HTTP processor requests carry. */
const w3c = new W3CTraceContextPropagator();

/** A carrier of W3C trace context headers. */
export type TraceCarrier = Record<string, string>;

/**
 * Writes the trace context of `ctx` (default: the active one) into `carrier`. Without a span in it (tracing
 * off, or no context manager registered) it writes nothing.
 */
export function injectTraceContext(carrier: TraceCarrier, ctx: Context = context.active()): TraceCarrier {
  w3c.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

/** The context a carrier names (a remote parent), on top of the root context. */
export function extractTraceContext(carrier: TraceCarrier): Context {
  return w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}
