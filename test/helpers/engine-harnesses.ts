import { parseConfig } from '../../src/config/load.js';
import type { BatchingEngine } from '../../src/core/engine.js';
import type { QueueEvent } from '../../src/core/events.js';
import { MessageQueue } from '../../src/core/message-queue.js';
import type { MessageBatch, OutboundMessage } from '../../src/core/model.js';
import { SettingsPolicy } from '../../src/core/policy.js';
import { createGatewayCluster, type GatewayCluster } from '../../src/distributed/cluster.js';
import { WorkerProcess } from '../../src/distributed/worker-process.js';
import { silentLogger } from '../../src/logger.js';
import type { Processor } from '../../src/processors/processor.js';
import type { ControlledRun, EngineHarness, EngineKind, HarnessOptions } from './engine-suite.js';
import type { RedisServer } from './redis-server.js';

/** Platform of every message the harnesses send: its replies take the shared reply path in distributed mode. */
const PLATFORM = 'webhook';

/** How long a wait for an engine's event, run or reply may take before the case fails naming what it waited for. */
const WAIT_MS = 15_000;
/** A condition that has no event of its own (a counter read from Redis) is checked again this often meanwhile. */
const RECHECK_MS = 200;

/**
 * What both harnesses share: the controllable processor, the record of runs, replies, events and typing
 * requests, and waits that wake on each of them.
 */
class Recorder {
  readonly runs: ControlledRun[] = [];
  readonly replies: OutboundMessage[] = [];
  readonly events: QueueEvent[] = [];
  readonly typingRequests: string[] = [];
  private readonly waiters = new Set<() => void>();
  private holding: (batch: MessageBatch) => boolean = () => false;
  private readonly unsettled = new Set<ControlledRun>();
  private messages = 0;

  constructor(readonly kind: EngineKind) {}

  readonly processor: Processor = (batch, ctx) =>
    new Promise<void>((resolve, reject) => {
      const texts = batch.messages.map((m) => m.text);
      const aborted = new Promise<unknown>((resolveAbort) => {
        if (ctx.signal.aborted) resolveAbort(ctx.signal.reason);
        else ctx.signal.addEventListener('abort', () => resolveAbort(ctx.signal.reason), { once: true });
      });
      const settle = (then: () => void): void => {
        if (!this.unsettled.delete(run)) return;
        then();
      };
      const run: ControlledRun = {
        batch,
        ctx,
        ids: batch.messages.map((m) => m.id),
        texts,
        attempt: ctx.attempt,
        aborted,
        reply: (text) => ctx.reply(text),
        finish: ({ reply = true } = {}) =>
          settle(() => {
            if (!reply) return resolve();
            ctx.reply(texts.join('+')).then(() => resolve(), reject);
          }),
        fail: (error) => settle(() => reject(error)),
      };
      this.unsettled.add(run);
      this.runs.push(run);
      this.changed();
      if (!this.holding(batch)) run.finish();
    });

  hold(on: boolean | ((batch: MessageBatch) => boolean)): void {
    this.holding = typeof on === 'function' ? on : () => on;
  }

  /** Lets every held run end (without a reply), so teardown never waits for one. */
  releaseAll(): void {
    this.holding = () => false;
    for (const run of [...this.unsettled]) run.finish({ reply: false });
  }

  onReply(reply: OutboundMessage): void {
    this.replies.push(reply);
    this.changed();
  }

  onEvent(event: QueueEvent): void {
    this.events.push(event);
    this.changed();
  }

  onTyping(channelKey: string): void {
    this.typingRequests.push(channelKey);
    this.changed();
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  async until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.kind}: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(RECHECK_MS, left));
        this.waiters.add(wake);
      });
    }
  }

  harness(engine: BatchingEngine, close: () => Promise<void>): EngineHarness {
    const key = (channelId: string) => `${PLATFORM}:${channelId}`;
    const message = (channelId: string, text: string, id = `${channelId}-${++this.messages}`) => ({
      id,
      platform: PLATFORM,
      channelId,
      userId: 'u-ana',
      userName: 'Ana',
      text,
    });
    let closing: Promise<void> | undefined;
    const harness: EngineHarness = {
      kind: this.kind,
      engine,
      runs: this.runs,
      replies: this.replies,
      events: this.events,
      typingRequests: this.typingRequests,
      key,
      message,
      send: (channelId, text, id) => engine.enqueue(message(channelId, text, id)),
      hold: (on) => this.hold(on),
      run: async (index) => {
        await this.until(`run #${index + 1} to start`, () => this.runs.length > index);
        return this.runs[index]!;
      },
      waitReplies: async (n) => {
        await this.until(`${n} replies`, () => this.replies.length >= n);
        return this.replies;
      },
      waitEvent: async (type, match = () => true) => {
        type E = Extract<QueueEvent, { type: typeof type }>;
        let found: E | undefined;
        await this.until(`event ${type}`, () => {
          found = this.events.find((e): e is E => e.type === type && match(e as E));
          return found !== undefined;
        });
        return found!;
      },
      eventsOf: (type) => this.events.filter((e): e is Extract<QueueEvent, { type: typeof type }> => e.type === type),
      until: (what, check) => this.until(what, check),
      close: () => {
        closing ??= (async () => {
          this.releaseAll();
          await close();
        })();
        return closing;
      },
    };
    return harness;
  }
}

/** Embedded mode: a {@link MessageQueue} in this process, on the system clock. */
export async function embeddedHarness(options: HarnessOptions = {}): Promise<EngineHarness> {
  const rec = new Recorder('embedded');
  const queue = new MessageQueue({
    processor: rec.processor,
    onReply: (reply) => rec.onReply(reply),
    onTyping: (channelKey) => rec.onTyping(channelKey),
    policy: new SettingsPolicy(options.settings),
    maxConcurrentBatches: options.maxConcurrentBatches ?? 8,
  });
  queue.on((event) => rec.onEvent(event));
  return rec.harness(queue, () => queue.close());
}

let prefixes = 0;

/**
 * Distributed mode: a gateway's `DistributedQueue` (with its flusher, dispatcher and reply relay) and one
 * worker (`WorkerProcess` running `BullBatchConsumer`) in this process, talking only through the given
 * redis-server and real BullMQ. Every harness gets its own key prefix, so cases never see each other.
 */
export async function distributedHarness(redis: RedisServer, options: HarnessOptions = {}): Promise<EngineHarness> {
  const rec = new Recorder('distributed');
  const config = parseConfig(
    {
      http: { host: '127.0.0.1', port: 0 },
      redis: { url: redis.url },
      distributed: {
        prefix: `ec${++prefixes}`,
        pollMs: 50,
        reconcileMs: 1_000,
        // Long locks: a held run must not look stalled to BullMQ on a loaded machine (it would run twice).
        lockDurationMs: 30_000,
        stalledIntervalMs: 15_000,
        // One attempt, dead letters on: a failed batch ends like an embedded one (dead-lettered, the channel moves on).
        attempts: 1,
        backoffMs: 50,
        onBatchFailed: 'dead-letter',
      },
      batching: { maxConcurrentBatches: options.maxConcurrentBatches ?? 8, defaults: options.settings ?? {} },
      shutdownTimeoutMs: 1_000,
    },
    {},
  );
  let gateway: GatewayCluster | undefined;
  let worker: WorkerProcess | undefined;
  const close = async (): Promise<void> => {
    await worker?.close();
    await gateway?.close();
  };
  try {
    gateway = await createGatewayCluster(config, silentLogger(), async (reply) => rec.onReply(reply), undefined, { onTyping: (channelKey) => rec.onTyping(channelKey) });
    gateway.queue.on((event) => rec.onEvent(event));
    await gateway.queue.start();
    gateway.relay.start();
    worker = new WorkerProcess({ config, logger: silentLogger(), processor: rec.processor });
    await worker.start();
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return rec.harness(gateway.queue, close);
}
