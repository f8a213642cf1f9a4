import type { Processor } from '../processors/processor.js';

/**
 * How batches are consumed, whatever delivers them (seed 002's EventConsumer): `run(handler)` consumes until
 * `shutdown()`; a handler error is logged and never ends the loop; cancellation reaches the handler through
 * its AbortSignal; `shutdown()` is idempotent and lets in-flight work finish (within its timeout).
 *
 * Two implementations: the embedded engine ({@link MessageQueue}, which runs its processor in-process) and
 * `BullBatchConsumer` in src/distributed/worker.ts (a BullMQ worker fed by gateways through Redis).
 */
export interface BatchConsumer {
  /** Consumes batches with `handler` until shutdown; resolves when the consumer has stopped. */
  run(handler: Processor): Promise<void>;
  /** Stops taking batches, lets running ones finish for up to `timeoutMs`, then aborts them. */
  shutdown(timeoutMs?: number): Promise<void>;
}
