import type { Processor } from '../processors/processor.js';
import { LifecycleError } from '../errors.js';
import type { MessageQueue } from './message-queue.js';

/**
 * How batches are consumed, whatever delivers them (an event-consumer protocol): `run(handler)` consumes until
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

/**
 * The embedded implementation: a {@link MessageQueue} built around the handler. Batches come from the
 * queue's own windows (the caller feeds it through `queue`), run in this process, at most
 * `maxConcurrentBatches` at once.
 */
export class InProcessBatchConsumer implements BatchConsumer {
  private current: MessageQueue | undefined;
  private stopping: Promise<void> | undefined;
  private resolveRun: (() => void) | undefined;

  constructor(private readonly build: (handler: Processor) => MessageQueue) {}

  /** The running queue (enqueue into it); undefined before run(). */
  get queue(): MessageQueue | undefined {
    return this.current;
  }

  run(handler: Processor): Promise<void> {
    if (this.current !== undefined) return Promise.reject(new LifecycleError('this consumer already runs'));
    this.current = this.build(handler);
    return new Promise<void>((resolve) => (this.resolveRun = resolve));
  }

  shutdown(timeoutMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.current !== undefined) {
        await this.current.drain(timeoutMs);
        await this.current.close();
      }
      this.resolveRun?.();
    })();
    return this.stopping;
  }
}
