import type { TracerProvider } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';
import { BatchTracer } from './batch-tracer.js';
import { useTraceInjector } from './hooks.js';
import { injectTraceContext } from './propagation.js';
import { startSdk } from './sdk.js';

export { Attr, BatchTracer, SpanName } from './batch-tracer.js';
export { extractTraceContext, injectTraceContext, type TraceCarrier } from './propagation.js';

/** Tracing of one gateway or worker. */
export interface BatchTracing {
  batches: BatchTracer;
  /** Ends the traces still open and, when this process started the SDK for them, flushes and stops it. */
  close(): Promise<void>;
}

/**
 * Tracing when it is on: with `provider` (an embedder's own OpenTelemetry SDK, or a test's), or with the
 * SDK this process starts when `telemetry.otlp.endpoint` is set. Callers import this module only then:
 * with tracing off nothing listens to the engine, the processor is not wrapped and no OpenTelemetry
 * module is loaded. While on, the HTTP processor's requests carry the active trace (hooks.ts).
 */
export async function startBatchTracing(config: TelemetryConfig, provider: TracerProvider | undefined, logger: Logger): Promise<BatchTracing | null> {
  if (provider === undefined && config.otlp.endpoint === '') return null;
  let release = async (): Promise<void> => undefined;
  let tracerProvider = provider;
  if (tracerProvider === undefined) {
    const sdk = await startSdk(config, logger);
    tracerProvider = sdk.provider;
    release = sdk.release;
  }
  const batches = new BatchTracer(tracerProvider.getTracer('batchgate'));
  const stopInjecting = useTraceInjector((headers) => injectTraceContext(headers));
  return {
    batches,
    close: async () => {
      batches.close();
      stopInjecting();
      await release();
    },
  };
}
