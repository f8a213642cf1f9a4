import type { TracerProvider } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';
import type { BatchTracing } from './index.js';

/**
 * The one seam code outside src/telemetry uses to join a trace, with no OpenTelemetry module behind it:
 * while tracing is on in this process, the injector writes the active trace context (W3C `traceparent`,
 * `tracestate`) into outgoing headers; while it is off, this is a null check.
 */
type Injector = (carrier: Record<string, string>) => void;

let injector: Injector | null = null;
let users = 0;

/** Installs the injector (first tracing user of the process); returns what removes it (last one). */
export function useTraceInjector(inject: Injector): () => void {
  users++;
  injector = inject;
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    if (--users === 0) injector = null;
  };
}

/** Adds the active trace context to `headers` when tracing is on (the HTTP processor's request). */
export function injectActiveTrace(headers: Record<string, string>): void {
  injector?.(headers);
}

/**
 * Tracing for a gateway or worker when it is on (`telemetry.otlp.endpoint` set, or a tracer provider
 * given), else null: only then are the tracing module and OpenTelemetry loaded.
 */
export async function loadTracing(config: TelemetryConfig, provider: TracerProvider | undefined, logger: Logger): Promise<BatchTracing | null> {
  if (provider === undefined && config.otlp.endpoint === '') return null;
  const { startBatchTracing } = await import('./index.js');
  return startBatchTracing(config, provider, logger);
}
