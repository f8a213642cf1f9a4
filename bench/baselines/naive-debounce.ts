/**
 * The plain debounce everyone writes first, used as the side-by-side baseline for the core scenarios:
 * one `Timeout` per channel, `clearTimeout` + `setTimeout` on every message, and a per-channel FIFO array
 * consumed with `Array#shift` by an async loop that keeps one batch in flight per channel. It has the same
 * size cap as the engine's `maxBatchSize` so both sides cut the same batches; it has no validation, no
 * events, no max-wait, no abort signals and no concurrency cap: it is meant to be cheap, not correct.
 */
import { performance } from 'node:perf_hooks';

/** What the naive side hands its processor. */
export interface NaiveBatch {
  key: string;
  messages: unknown[];
}

interface NaiveChannel {
  messages: unknown[];
  timer: NodeJS.Timeout | null;
  /** performance.now() the current timer is meant to fire at (only tracked when lateness is recorded). */
  deadline: number;
  fifo: NaiveBatch[];
  running: boolean;
}

export interface NaiveDebounceOptions {
  windowMs: number;
  /** Flush at once when a channel holds this many messages. @defaultValue Infinity */
  maxBatchSize?: number;
  processor: (batch: NaiveBatch) => Promise<void>;
  /** Called at each timer flush with the intended deadline and the actual time (performance.now()). */
  onTimerFlush?: (deadline: number, actual: number) => void;
}

/** Per-channel debounce with a timer per channel and an Array#shift FIFO per channel. */
export class NaiveDebounce {
  /** Never evicted: a naive debounce keeps every channel it has seen. */
  readonly channels = new Map<string, NaiveChannel>();
  private readonly windowMs: number;
  private readonly maxBatchSize: number;
  private readonly processor: NaiveDebounceOptions['processor'];
  private readonly onTimerFlush: NaiveDebounceOptions['onTimerFlush'];

  constructor(options: NaiveDebounceOptions) {
    this.windowMs = options.windowMs;
    this.maxBatchSize = options.maxBatchSize ?? Infinity;
    this.processor = options.processor;
    this.onTimerFlush = options.onTimerFlush;
  }

  push(msg: { platform: string; channelId: string; [field: string]: unknown }): void {
    const key = `${msg.platform}:${msg.channelId}`;
    let ch = this.channels.get(key);
    if (ch === undefined) {
      ch = { messages: [], timer: null, deadline: 0, fifo: [], running: false };
      this.channels.set(key, ch);
    }
    ch.messages.push(msg);
    if (ch.timer !== null) clearTimeout(ch.timer);
    if (ch.messages.length >= this.maxBatchSize) {
      ch.timer = null;
      this.flush(key, ch);
      return;
    }
    const channel = ch;
    if (this.onTimerFlush !== undefined) ch.deadline = performance.now() + this.windowMs;
    ch.timer = setTimeout(() => {
      this.onTimerFlush?.(channel.deadline, performance.now());
      channel.timer = null;
      this.flush(key, channel);
    }, this.windowMs);
  }

  private flush(key: string, ch: NaiveChannel): void {
    ch.fifo.push({ key, messages: ch.messages });
    ch.messages = [];
    if (!ch.running) void this.drain(ch);
  }

  private async drain(ch: NaiveChannel): Promise<void> {
    ch.running = true;
    while (ch.fifo.length > 0) {
      const batch = ch.fifo.shift()!;
      try {
        await this.processor(batch);
      } catch {
        // a failed batch must not stop the channel's loop
      }
    }
    ch.running = false;
  }

  /** Live timers held, one per channel with an open window. */
  liveTimers(): number {
    let n = 0;
    for (const ch of this.channels.values()) if (ch.timer !== null) n++;
    return n;
  }

  close(): void {
    for (const ch of this.channels.values()) {
      if (ch.timer !== null) clearTimeout(ch.timer);
      ch.timer = null;
    }
  }
}
