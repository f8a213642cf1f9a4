import type { TracerProvider } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';

/** The OpenTelemetry SDK this process started for `telemetry.otlp.endpoint`, shared by its gateways and workers. */
interface SharedSdk {
  provider: TracerProvider;
  users: number;
  shutdown(): Promise<void>;
}

let shared: Promise<SharedSdk> | null = null;

/** The OTLP/HTTP traces URL of a collector base URL (`http://collector:4318` → `…/v1/traces`). */
export function otlpTracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

/**
 * Starts the OpenTelemetry SDK once per process (a tracer provider with an OTLP/HTTP exporter behind a
 * batching span processor, registered globally with the async-hooks context manager and the W3C
 * propagator) and returns it with the function that releases it. The SDK's modules load only here, so a
 * process with telemetry off never loads them. The first caller's settings win for the whole process.
 */
export async function startSdk(config: TelemetryConfig, logger: Logger): Promise<{ provider: TracerProvider; release(): Promise<void> }> {
  shared ??= (async () => {
    const [{ NodeTracerProvider }, { BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { ATTR_SERVICE_NAME }] = await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
    ]);
    const exporter = new OTLPTraceExporter({ url: otlpTracesUrl(config.otlp.endpoint), headers: { ...config.otlp.headers } });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    provider.register();
    logger.info({ endpoint: otlpTracesUrl(config.otlp.endpoint), serviceName: config.serviceName }, 'tracing: exporting spans over OTLP/HTTP');
    const api = await import('@opentelemetry/api');
    const shutdown = async () => {
      try {
        await provider.shutdown();
      } finally {
        // What register() set globally goes with it, so a later start registers afresh.
        api.trace.disable();
        api.context.disable();
        api.propagation.disable();
      }
    };
    return { provider, users: 0, shutdown };
  })();
  const sdk = await shared;
  sdk.users++;
  let released = false;
  return {
    provider: sdk.provider,
    release: async () => {
      if (released) return;
      released = true;
      if (--sdk.users > 0) return;
      shared = null;
      // Flushes the spans still buffered; a collector that is down must not hold shutdown up.
      await sdk.shutdown().catch((err: unknown) => logger.warn({ err }, 'tracing: the last spans could not be exported'));
    },
  };
}
